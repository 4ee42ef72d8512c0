"""X11: the X server's own idle counter, from the MIT-SCREEN-SAVER extension.

``XScreenSaverQueryInfo`` returns the milliseconds since the last input the X
server saw from any device: no hook, no event per mouse move, and no access
to what was typed. python-xlib (which pynput already brings) speaks it.

Under Wayland, XWayland's counter sees only input sent to X clients, so the
factory does not pick this source there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from presence_agent.errortext import first_line
from presence_agent.idle._native import NativeSource
from presence_agent.idle._xsync import XSyncWatch
from presence_agent.idle.base import IdleSourceError

log = logging.getLogger(__name__)


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
            raise IdleSourceError(f"cannot open the X display: {first_line(exc)}") from None
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


class X11Source(NativeSource):
    """The XScreenSaver counter for idle time, and an XSync alarm for the return.

    Where the server has SYNC's IDLETIME counter (every X.Org server), the
    first input after an idle away comes as an event: nothing polls. Without
    it, the shared 50 ms poll of the counter does the job.
    """

    def __init__(self, display: str | None = None, watch: XSyncWatch | None = None) -> None:
        super().__init__("x11", XScreenSaverCounter(display))
        self._watch = watch or XSyncWatch(display)
        self._use_watch = False

    def start(self, on_activity: Callable[[], None]) -> None:
        super().start(on_activity)
        try:
            self._watch.open(on_activity)
        except IdleSourceError as exc:
            log.info("no XSync idle alarm (%s): polling the idle counter while away", exc)
        else:
            self._use_watch = True

    def arm(self) -> None:
        if self._use_watch:
            self._watch.arm()
        else:
            super().arm()

    def disarm(self) -> None:
        if self._use_watch:
            self._watch.disarm()
        else:
            super().disarm()

    def hooks(self) -> tuple[str, ...]:
        if self._use_watch:
            return ("XSync IDLETIME alarm",) if self._watch.armed() else ()
        return super().hooks()

    def stop(self) -> None:
        self._watch.close()
        self._use_watch = False
        super().stop()


def source(display: str | None = None) -> NativeSource:
    return X11Source(display)
