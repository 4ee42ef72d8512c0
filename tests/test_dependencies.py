"""pyproject.toml declares every library the code imports, and the lock pins each one, hashed.

The imports are read from the package's source (every ``import``, also inside
functions); the standard library and the other platforms' modules aside, each
must belong to a distribution that pyproject.toml names.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "dev.txt"
#: Modules of other platforms (not installed here): the distribution that brings each.
OTHER_PLATFORMS = {
    "winreg": None,  # standard library on Windows
    "msvcrt": None,
    "objc": "pyobjc-core",  # macOS, through pystray and pynput's own dependencies
    "AppKit": "pyobjc-framework-Cocoa",
    "Foundation": "pyobjc-framework-Cocoa",
    "PyObjCTools": "pyobjc-core",
    "Quartz": "pyobjc-framework-Quartz",
}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def declared() -> set[str]:
    project = _project()
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs.extend(extra)
    return {canonicalize_name(Requirement(spec).name) for spec in specs}


def imported_top_modules() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "presence_agent").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m != "presence_agent"}


def test_every_imported_library_is_declared() -> None:
    by_module = importlib.metadata.packages_distributions()
    missing = []
    for module in sorted(imported_top_modules()):
        if module in OTHER_PLATFORMS:
            continue
        if module in ("tomli",):  # Python 3.10's tomllib, declared with its marker
            assert "tomli" in declared()
            continue
        dists = by_module.get(module)
        assert dists, f"{module} is imported but not installed: which distribution brings it?"
        if not {canonicalize_name(d) for d in dists} & declared():
            missing.append(f"{module} (from {', '.join(dists)})")
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_the_gtk_extra_is_linux_only() -> None:
    for spec in _project()["optional-dependencies"]["gtk"]:
        marker = Requirement(spec).marker
        assert marker is not None
        assert "sys_platform" in str(marker)
        assert "linux" in str(marker)


def test_pystray_is_held_to_the_tested_release_line() -> None:
    (spec,) = [Requirement(s) for s in _project()["dependencies"] if s.startswith("pystray")]
    assert not spec.specifier.contains("0.20.0"), "private attributes of pystray are used"
    assert spec.specifier.contains("0.19.5")


def test_the_lock_pins_every_declared_library_with_hashes() -> None:
    text = LOCK.read_text()
    pins = {
        canonicalize_name(m.group(1)): m.group(2)
        for m in re.finditer(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", text, re.MULTILINE)
    }
    wanted = {
        canonicalize_name(Requirement(spec).name)
        for spec in _project()["dependencies"]
        if Requirement(spec).marker is None or Requirement(spec).marker.evaluate()  # type: ignore[union-attr]
    }
    assert wanted <= set(pins), f"not in {LOCK.name}: {sorted(wanted - set(pins))}"
    for block in re.split(r"\n(?=[A-Za-z0-9])", text.split("\n\n", 1)[1]):
        if "==" in block.splitlines()[0]:
            assert "--hash=sha256:" in block, f"no hash for {block.splitlines()[0]}"
    for spec in _project()["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        if name in pins:
            assert requirement.specifier.contains(pins[name]), f"{name} {pins[name]} vs {spec}"
