"""The import layering: low modules never reach up, and never load HTTP, WebSocket or GUI code.

Two checks. Each module's own imports (at the top and inside functions, read from
its source) may name only the modules its layer allows; and importing each low
module in a fresh interpreter loads none of the heavy libraries.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "presence_agent"

#: Module -> the presence_agent modules it may import (anything deeper is forbidden).
ALLOWED: dict[str, set[str]] = {
    "i18n": set(),
    "vocab": {"i18n"},
    "urls": {"i18n"},
    "backoff": set(),
    "events": {"vocab"},
    "policy": {"agenda", "events", "i18n", "routing", "timespec", "vocab"},
    "routing": {"events", "i18n", "statefile", "vocab"},
    "timespec": {"i18n"},
    "schedule": {"timespec"},
    "timers": {"events", "statefile", "vocab"},
    "statefile": {"paths"},
    "agenda": {"events", "i18n", "routing", "schedule", "timers", "timespec", "vocab"},
    "shift_text": {"events", "i18n", "timespec"},
    "status_text": {"events", "i18n", "routing", "vocab"},
    "commands": {"events", "vocab"},
    "worker": {"events", "errortext"},
    "errortext": set(),
    "redaction": set(),
    "paths": set(),
    "config": {"i18n", "paths", "routing", "vocab", "urls", "schedule"},
    "client": {"__init__", "errortext", "events", "i18n", "proxy", "redaction", "vocab", "urls"},
    "proxy": {"urls"},
    "engine": {"events", "i18n", "policy", "redaction", "vocab", "worker", "idle.base"},
    "tray._model": {"events", "i18n", "shift_text", "status_text", "timers", "vocab"},
    "session._bridge": {"calls", "commands", "events", "i18n"},
}

#: Libraries a low module must not load: the network stack and the GUI.
HEAVY = ("httpx", "websockets", "pystray", "PIL", "gi", "keyring")
#: Modules that must import without any of them.
LIGHT = [
    "i18n",
    "redaction",
    "vocab",
    "events",
    "policy",
    "timespec",
    "schedule",
    "timers",
    "agenda",
    "shift_text",
    "status_text",
    "commands",
    "worker",
    "config",
    "engine",
    "tray._model",
    "session._bridge",
]


def imported_modules(name: str) -> set[str]:
    """The presence_agent modules ``name``'s source imports, anywhere in it."""
    path = PACKAGE / (name.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    package_parts = name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("presence_agent."):
                    found.add(alias.name.removeprefix("presence_agent."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative
                base = package_parts[: len(package_parts) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            elif node.module == "presence_agent":
                for alias in node.names:
                    submodule = (PACKAGE / f"{alias.name}.py").exists() or (
                        PACKAGE / alias.name
                    ).is_dir()
                    found.add(alias.name if submodule else "__init__")
                continue
            elif node.module and node.module.startswith("presence_agent."):
                module = node.module.removeprefix("presence_agent.")
            else:
                continue
            found.add(module)
    return found


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_imports_stay_within_the_layer(name: str) -> None:
    assert imported_modules(name) <= ALLOWED[name], (
        f"{name} imports {sorted(imported_modules(name) - ALLOWED[name])}"
    )


def test_the_checker_sees_deferred_imports() -> None:
    # config.load used to import the HTTP client inside a function: that counts too.
    assert "paths" in imported_modules("config")
    assert "idle.base" in imported_modules("engine")


def test_low_modules_load_no_network_or_gui_library() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {LIGHT!r}:\n"
        "    importlib.import_module('presence_agent.' + name)\n"
        f"print(' '.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""
