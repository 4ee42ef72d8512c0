"""X11: the X server's own idle counter, from the MIT-SCREEN-SAVER extension.

``XScreenSaverQueryInfo`` returns the milliseconds since the last input the X
server saw from any device: no hook, no event per mouse move, and no access
to what was typed. python-xlib (which pynput already brings) speaks it.

Under Wayland, XWayland's counter sees only input sent to X clients, so the
factory does not pick this source there.
"""

from __future__ import annotations

from typing import Any

from presence_agent.idle._native import NativeSource
from presence_agent.idle.base import IdleSourceError


class XScreenSaverCounter:
    """The idle counter of the X display ``display`` (``None``: ``$DISPLAY``)."""

    what = "XScreenSaver idle time"

    def __init__(self, display: str | None = None) -> None:
        self._display_name = display
        self._display: Any = None
        self._root: Any = None

    def open(self) -> None:
        if self._display is not None:
            return
        try:
            from Xlib import display as xdisplay
        except ImportError as exc:
            raise IdleSourceError(f"python-xlib is missing ({exc})") from None
        try:
            connection = xdisplay.Display(self._display_name)
        except Exception as exc:  # noqa: BLE001 - Xlib raises its own types for every failure
            raise IdleSourceError(f"cannot open the X display: {_first_line(exc)}") from None
        if not connection.has_extension("MIT-SCREEN-SAVER"):
            connection.close()
            raise IdleSourceError("the X server has no MIT-SCREEN-SAVER extension")
        self._display = connection
        self._root = connection.screen().root

    def read(self) -> float:
        if self._root is None:
            raise IdleSourceError("the X display is not open")
        info = self._root.screensaver_query_info()
        return float(info.idle) / 1000.0

    def close(self) -> None:
        connection, self._display, self._root = self._display, None, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - a connection the server already dropped
                return


def source(display: str | None = None) -> NativeSource:
    return NativeSource("x11", XScreenSaverCounter(display))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
