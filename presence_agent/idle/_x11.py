"""X11: the X server's own idle counter, from the MIT-SCREEN-SAVER extension.

``XScreenSaverQueryInfo`` returns the milliseconds since the last input the X
server saw from any device: no hook, no event per mouse move, and no access
to what was typed. python-xlib (which pynput already brings) speaks it.

Under Wayland, XWayland's counter sees only input sent to X clients, so the
factory does not pick this source there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from presence_agent.errortext import first_line
from presence_agent.idle._native import NativeSource
from presence_agent.idle._xsync import XSyncWatch
from presence_agent.idle.base import IdleSourceError, LossHandler, SourceLost

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
        from Xlib.error import ConnectionClosedError

        if self._root is None:
            raise IdleSourceError("the X display is not open")
        try:
            info = self._root.screensaver_query_info()
        except (ConnectionClosedError, BrokenPipeError, ConnectionResetError) as exc:
            raise SourceLost(f"the X display closed the connection ({first_line(exc)})") from None
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
        self._on_display_lost: LossHandler | None = None

    def start(self, on_activity: Callable[[], None], on_lost: LossHandler | None = None) -> None:
        # The counter's connection and the watch's both see a lost display: report it once.
        once = _once(on_lost) if on_lost is not None else None
        super().start(on_activity, once)
        self._on_display_lost = once
        try:
            self._watch.open(on_activity, self._watch_broken)
        except IdleSourceError as exc:
            log.info("no XSync idle alarm (%s): polling the idle counter while away", exc)
        else:
            self._use_watch = True

    def arm(self) -> None:
        if self._use_watch:
            self._watch.arm()
        else:
            super().arm()

    def _watch_broken(self, why: str, lost: bool) -> None:
        """The XSync watch's thread: it stopped, and said why."""
        armed = self._use_watch and self._watch.armed()
        self._use_watch = False
        if lost:
            log.warning("XSync idle alarm: %s", why)
            if self._on_display_lost is not None:
                self._on_display_lost(why)
            return
        log.warning("%s: polling the idle counter while away instead", why)
        if armed:
            super().arm()

    def disarm(self) -> None:
        if self._use_watch:
            self._watch.disarm()
        else:
            super().disarm()

    @property
    def how(self) -> str | None:
        if not self._use_watch:
            return None  # the counter, polled while away: the doctor's default words
        return (
            "XScreenSaver idle time, read at the deadline; the return from an XSync IDLETIME"
            " alarm: no input hook, no polling"
        )

    def hooks(self) -> tuple[str, ...]:
        if self._use_watch:
            return ("XSync IDLETIME alarm",) if self._watch.armed() else ()
        return super().hooks()

    def stop(self) -> None:
        self._watch.close()
        self._use_watch = False
        super().stop()


def _once(handler: LossHandler) -> LossHandler:
    lock = threading.Lock()
    told: list[bool] = []

    def report(why: str) -> None:
        with lock:
            if told:
                return
            told.append(True)
        handler(why)

    return report


def source(display: str | None = None) -> NativeSource:
    return X11Source(display)
