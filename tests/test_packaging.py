"""packaging/: cheap checks that always run, and the real builds when asked for.

The real builds take minutes: packaging/build-all.sh makes them once (CI runs it),
and with ``PRESENCE_AGENT_ARTIFACTS=1`` tests/test_artifacts.py installs and uses
each one; the frozen binary's tray icon is checked here.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import plistlib
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

import presence_agent
from presence_agent.autostart import _launchagent, _windows
from tests.desktop import TrayHost, wait_until

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
ASSETS = ROOT / "assets"
SCRIPTS = [
    PACKAGING / "build-all.sh",
    PACKAGING / "build-linux.sh",
    PACKAGING / "linux" / "build-deb.sh",
    PACKAGING / "make-icons.sh",
]


def load_hiddenimports() -> ModuleType:
    # By path: "packaging" is also the name of a PyPI package pytest itself uses.
    spec = importlib.util.spec_from_file_location("hiddenimports", PACKAGING / "hiddenimports.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def locate(name: str) -> bool | None:
    """Whether module ``name`` exists, found without importing anything.

    ``None`` when its top-level package is not installed here at all. Importing
    would not do: ``import pystray`` already needs a display.
    """
    parts = name.split(".")
    path: list[str] | None = None
    for i in range(len(parts)):
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[: i + 1]), path)
        if spec is None:
            return None if i == 0 else False
        path = list(spec.submodule_search_locations or [])
    return True


def require_desktop_file_validate() -> str:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        reason = "desktop-file-validate is missing (Debian: desktop-file-utils)"
        if os.environ.get("CI") or sys.platform.startswith("linux"):
            pytest.fail(f"{reason}; scripts/bootstrap installs it", pytrace=False)
        pytest.skip(reason)
    return tool


def validate_desktop_file(path: Path) -> None:
    result = subprocess.run(
        [require_desktop_file_validate(), str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "", result.stdout


# --------------------------------------------------------------------------- spec


def test_hidden_imports_of_this_platform_are_real_modules() -> None:
    hidden = load_hiddenimports()
    names = hidden.MODULES[hidden.platform_key(sys.platform)]
    missing = [name for name in names if not locate(name)]
    assert missing == []


def test_hidden_imports_of_other_platforms_name_real_modules() -> None:
    # pynput, pystray and keyring ship every OS's backend, so even the lists
    # for other systems can be checked here, except for their OS-only packages.
    hidden = load_hiddenimports()
    wrong = [name for names in hidden.MODULES.values() for name in names if locate(name) is False]
    assert wrong == []


def test_every_tray_and_input_backend_is_named_for_some_platform() -> None:
    """A backend added by a pystray or pynput upgrade must not go missing from the build."""
    hidden = load_hiddenimports()
    named = {name for names in hidden.MODULES.values() for name in names}
    # Test doubles, and pynput's root-only uinput keyboard, are left out on purpose.
    unwanted = {"_base", "_info", "_dummy", "_uinput"}
    for package in ("pystray", "pynput.keyboard", "pynput.mouse"):
        spec = importlib.machinery.PathFinder.find_spec(package.split(".")[0])
        assert spec is not None
        assert spec.origin is not None
        directory = Path(spec.origin).parent.joinpath(*package.split(".")[1:])
        backends = {
            f"{package}.{p.stem}" for p in directory.glob("_*.py") if p.stem not in unwanted
        } - {f"{package}.__init__"}
        assert backends
        assert backends <= named, f"not in packaging/hiddenimports.py: {backends - named}"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="GTK typelibs are Linux-only")
def test_required_gi_namespaces_are_on_the_build_host() -> None:
    hidden = load_hiddenimports()
    required = [(ns, v) for ns, v, needed in hidden.GI_NAMESPACES if needed]
    # In a child process: gi.require_version pins versions for the whole process.
    code = (
        "import gi, sys\n"
        "for ns, v in zip(sys.argv[1::2], sys.argv[2::2]):\n"
        "    gi.require_version(ns, v)\n"
    )
    args = [x for pair in required for x in pair]
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_spec_is_valid_python_and_names_its_inputs() -> None:
    source = (PACKAGING / "presence-agent.spec").read_text()
    compile(source, "presence-agent.spec", "exec")
    for needed in ("hiddenimports.py", "launch.py", "Info.plist", "presence-agent.ico"):
        assert needed in source
    for path in (PACKAGING / "launch.py", ASSETS / "presence-agent.ico"):
        assert path.is_file()


def test_the_spec_entry_script_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, str(PACKAGING / "launch.py"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"presence-agent {presence_agent.__version__}"


# --------------------------------------------------------------------------- Linux


def test_the_menu_entry_validates() -> None:
    validate_desktop_file(PACKAGING / "linux" / "presence-agent.desktop")


def test_the_menu_entry_runs_the_tray_app_with_the_app_icon() -> None:
    from presence_agent.autostart._xdg import parse_entry, split_exec

    keys = parse_entry((PACKAGING / "linux" / "presence-agent.desktop").read_text())
    assert split_exec(keys["Exec"]) == ["presence-agent", "run"]
    assert keys["Icon"] == "presence-agent"  # the hicolor name the .deb installs


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shell_scripts_parse_and_are_executable(script: Path) -> None:
    assert os.access(script, os.X_OK)
    result = subprocess.run(
        ["bash", "-n", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    if shutil.which("shellcheck"):
        result = subprocess.run(
            ["shellcheck", str(script)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout


# --------------------------------------------------------------------------- macOS


def test_info_plist() -> None:
    info = plistlib.loads((PACKAGING / "macos" / "Info.plist").read_bytes())
    assert info["LSUIElement"] is True
    # One identity for the bundle, the LaunchAgent and the permission prompts.
    assert info["CFBundleIdentifier"] == _launchagent.LABEL
    assert re.fullmatch(r"[A-Za-z0-9.-]+", info["CFBundleIdentifier"])
    for key in ("NSInputMonitoringUsageDescription", "NSAccessibilityUsageDescription"):
        assert len(info[key]) > 40


# --------------------------------------------------------------------------- Windows


def test_inno_setup_script_matches_the_autostart_module() -> None:
    iss = (PACKAGING / "windows" / "presence-agent.iss").read_text()
    assert "PrivilegesRequired=lowest" in iss
    assert f'#define RunKey "{_windows.RUN_KEY}"' in iss
    assert f'#define ApprovedKey "{_windows.APPROVED_KEY}"' in iss
    assert f'ValueName: "{_windows.VALUE_NAME}"' in iss
    # Quoted program, then "run": what join_command_line writes.
    assert 'ValueData: """{app}\\{#AppExe}"" run"' in iss
    assert re.search(r"^AppId=\{\{[0-9A-F-]{36}\}$", iss, re.MULTILINE)
    assert 'Source: "..\\..\\dist\\onedir\\presence-agent\\*"' in iss


# --------------------------------------------------------------------------- icons


def test_app_icon_png() -> None:
    with Image.open(ASSETS / "presence-agent.png") as image:
        assert image.format == "PNG"
        assert image.size == (256, 256)
        assert image.mode == "RGBA"
        # Transparent corners: a rounded tile, not a square.
        pixel = image.getpixel((0, 0))
        assert isinstance(pixel, tuple)
        assert pixel[3] == 0


def test_app_icon_ico_has_the_sizes_windows_uses() -> None:
    with Image.open(ASSETS / "presence-agent.ico") as image:
        sizes = image.info["sizes"]
    assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= sizes


def test_app_icon_svg() -> None:
    svg = ET.parse(ASSETS / "presence-agent.svg").getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert svg.get("viewBox") == "0 0 256 256"


# --------------------------------------------------------------------------- real builds
# packaging/build-all.sh builds every artifact once (CI: .ci/run) and smoke-tests the
# binary with no Python behind it; tests/test_artifacts.py installs and uses each one.


@pytest.mark.slow
@pytest.mark.desktop
@pytest.mark.tray
@pytest.mark.skipif(
    os.environ.get("PRESENCE_AGENT_ARTIFACTS") != "1",
    reason="build with packaging/build-all.sh, then set PRESENCE_AGENT_ARTIFACTS=1",
)
def test_the_frozen_binary_shows_its_tray_icon(
    trayer: TrayHost, desktop_env: dict[str, str]
) -> None:
    """The bundled GTK, pystray and Xlib really put an icon in a system tray."""
    binary = ROOT / "dist" / "presence-agent"
    assert binary.is_file(), "packaging/build-all.sh builds it first"
    # Nothing of the build's Python: only the desktop's own variables.
    env = {k: v for k, v in desktop_env.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = "/nonexistent"
    with subprocess.Popen(
        [str(binary), "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as agent:
        try:
            icons = wait_until(trayer.icons, timeout=60, what="the frozen app's tray icon")
            assert any(icon.wm_class[:1] == ("presence-agent",) for icon in icons), icons
        finally:
            agent.terminate()
            try:
                output, _ = agent.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                agent.kill()
                output, _ = agent.communicate()
        assert "Traceback" not in output, output
        assert "No module named" not in output, output
