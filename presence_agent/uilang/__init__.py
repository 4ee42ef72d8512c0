"""The OS's own UI languages, for :func:`presence_agent.i18n.choose`: one module per OS.

* Windows: the user's UI language (``GetUserDefaultUILanguage``), in _windows.py.
* macOS: the preferred languages of System Settings (``AppleLanguages``), in _macos.py.
* Linux and other Unix desktops: nothing here; the environment (``LANGUAGE``, ``LANG``...)
  is the desktop's setting, and :func:`presence_agent.i18n.choose` reads it.

Each answer is a tuple of locale names (``de-DE``, ``pt-BR``), best first; any failure
gives ``()`` (English then, never an error: the words must not stop the agent).
"""

from __future__ import annotations

import sys

__all__ = ["system_languages"]


def system_languages(platform: str = sys.platform) -> tuple[str, ...]:
    """The UI languages the OS's settings name, best first; ``()`` where the environment is it."""
    if platform == "win32":
        from presence_agent.uilang import _windows

        return _windows.ui_languages()
    if platform == "darwin":
        from presence_agent.uilang import _macos

        return _macos.ui_languages()
    return ()
