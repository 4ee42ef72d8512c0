"""Starting a child process of this same app (the keyring helper, the sign-in dialog)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any


def module_argv(module: str, *args: str) -> list[str]:
    """``python -m MODULE ARGS`` with this interpreter. Not for frozen builds (no ``-m``)."""
    return [sys.executable, "-m", module, *args]


def cli_argv(*args: str) -> list[str]:
    """``presence-agent ARGS`` with this interpreter, or this frozen executable."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return module_argv("presence_agent", *args)


def child_options() -> dict[str, Any]:
    """Keyword arguments for :mod:`subprocess` that every such child gets.

    ``-m`` puts the working directory first on ``sys.path``, so a stray
    ``keyring.py`` in whatever directory the agent was started from would be
    imported by a child that handles the secret. The directory that holds the
    package is on ``sys.path`` already, so starting there adds nothing new.
    On Windows a console interpreter would flash a window for each child.
    """
    options: dict[str, Any] = {"cwd": str(Path(__file__).resolve().parent.parent)}
    if sys.platform == "win32":
        options["creationflags"] = subprocess.CREATE_NO_WINDOW
    return options
