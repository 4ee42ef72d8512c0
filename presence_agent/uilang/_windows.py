"""The Windows user's UI language: ``GetUserDefaultUILanguage`` and ``LCIDToLocaleName``.

Importable everywhere; ``ctypes.windll`` is touched only inside :func:`ui_languages`.
"""

from __future__ import annotations

import sys

#: ``LOCALE_NAME_MAX_LENGTH`` in winnls.h.
_NAME_LENGTH = 85


def ui_languages() -> tuple[str, ...]:
    """``("de-DE",)`` for a German Windows display language; ``()`` when it cannot be read."""
    import ctypes

    # One platform block, so that mypy checks it for Windows only (--platform win32).
    if sys.platform == "win32":
        try:
            kernel32 = ctypes.windll.kernel32
            lang_id = kernel32.GetUserDefaultUILanguage()
            buffer = ctypes.create_unicode_buffer(_NAME_LENGTH)
            if kernel32.LCIDToLocaleName(lang_id, buffer, _NAME_LENGTH, 0) and buffer.value:
                return (str(buffer.value),)
        except (AttributeError, OSError):
            pass
    return ()
