"""The macOS user's preferred languages: ``AppleLanguages`` (System Settings, Language & Region).

A login item started by launchd has no ``LANG``, so this is where a Mac says its
language. Read through Foundation's ``NSLocale.preferredLanguages`` (PyObjC, which
pynput already needs on macOS), else ``defaults read -g AppleLanguages``.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

_QUOTED = re.compile(r'"?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*)"?')


def parse_defaults(text: str) -> tuple[str, ...]:
    """The names in ``defaults read -g AppleLanguages``'s plist text: ``("de-DE", "en")``."""
    inner = text.strip().strip("()")
    names = []
    for item in inner.split(","):
        found = _QUOTED.fullmatch(item.strip())
        if found:
            names.append(found.group(1))
    return tuple(names)


def ui_languages() -> tuple[str, ...]:
    try:
        from Foundation import NSLocale

        preferred: Any = NSLocale.preferredLanguages()
        return tuple(str(name) for name in preferred)
    except ImportError:
        pass
    try:
        done = subprocess.run(
            ["defaults", "read", "-g", "AppleLanguages"],
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ()
    return parse_defaults(done.stdout) if done.returncode == 0 else ()
