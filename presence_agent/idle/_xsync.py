"""X11: the first input after an idle away, from an XSync ``IDLETIME`` alarm.

While the person is away, the X server itself tells us of their return: an
alarm on its IDLETIME system counter with a negative transition through 1 ms
fires on the first key or pointer event. No input hook, no event per mouse
move, and no polling: the waiting thread sleeps in ``select`` and costs
nothing until then. (Polling the XScreenSaver counter every 50 ms costs about
0.6 % of a core on a small VM; see the README's performance table.)

python-xlib does not speak the SYNC extension, so this is libX11/libXext
through ctypes, on a display connection of its own that only this module's
thread touches (Xlib is not thread-safe without XInitThreads).

libX11's default handlers end the process: an X error (a BadMatch from an
alarm the server refuses) prints and calls ``exit(1)``, and so does a lost
display (the X server quit or crashed). So the watch installs handlers of its
own (:class:`_Handlers`) before its first request: an error on our display
is noted and reported, and the watch gives way to polling the counter; a lost
display is reported through ``on_lost``, and the fallback chain moves on to
the next idle source. Errors on displays that are not ours go to whichever
handler was installed before. Recovering from a lost display needs
``XSetIOErrorExitHandler`` (libX11 1.7, 2020); without it the watch does not
run at all, and the counter is polled instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import select
import threading
from collections.abc import Callable
from typing import Any

from presence_agent.idle.base import IdleSourceError

log = logging.getLogger(__name__)

# <X11/extensions/sync.h>
_XSYNC_ABSOLUTE = 0
_XSYNC_NEGATIVE_TRANSITION = 1
_XSYNC_CA_COUNTER = 1 << 0
_XSYNC_CA_VALUE_TYPE = 1 << 1
_XSYNC_CA_VALUE = 1 << 2
_XSYNC_CA_TEST_TYPE = 1 << 3
_XSYNC_CA_DELTA = 1 << 4
_XSYNC_CA_EVENTS = 1 << 5
_XSYNC_ALARM_NOTIFY = 1  # added to the extension's event base
_XEVENT_SIZE = 192  # sizeof(XEvent) is 24 longs; a little room to spare


class _Value(ctypes.Structure):
    _fields_ = (("hi", ctypes.c_int), ("lo", ctypes.c_uint))


class _SystemCounter(ctypes.Structure):
    _fields_ = (("name", ctypes.c_char_p), ("counter", ctypes.c_ulong), ("resolution", _Value))


class _Trigger(ctypes.Structure):
    _fields_ = (
        ("counter", ctypes.c_ulong),
        ("value_type", ctypes.c_int),
        ("wait_value", _Value),
        ("test_type", ctypes.c_int),
    )


class _XErrorEvent(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("resourceid", ctypes.c_ulong),
        ("serial", ctypes.c_ulong),
        ("error_code", ctypes.c_ubyte),
        ("request_code", ctypes.c_ubyte),
        ("minor_code", ctypes.c_ubyte),
    )


_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(_XErrorEvent))
_IO_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
_IO_EXIT_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


class _AlarmAttributes(ctypes.Structure):
    _fields_ = (
        ("trigger", _Trigger),
        ("delta", _Value),
        ("events", ctypes.c_int),
        ("state", ctypes.c_int),
    )


def _load(name: str) -> Any:
    path = ctypes.util.find_library(name)
    if path is None:
        raise IdleSourceError(f"lib{name} is not installed")
    try:
        return ctypes.CDLL(path)
    except OSError as exc:
        raise IdleSourceError(f"cannot load lib{name}: {exc}") from None


def _bind(x11: Any, xext: Any) -> None:
    p, ul = ctypes.c_void_p, ctypes.c_ulong
    ip = ctypes.POINTER(ctypes.c_int)
    x11.XOpenDisplay.restype, x11.XOpenDisplay.argtypes = p, [ctypes.c_char_p]
    x11.XCloseDisplay.argtypes = [p]
    x11.XConnectionNumber.argtypes = [p]
    x11.XPending.argtypes = [p]
    x11.XNextEvent.argtypes = [p, p]
    x11.XFlush.argtypes = [p]
    x11.XFree.argtypes = [p]
    x11.XSync.argtypes = [p, ctypes.c_int]
    x11.XGetErrorText.argtypes = [p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    x11.XSetErrorHandler.restype, x11.XSetErrorHandler.argtypes = p, [p]
    x11.XSetIOErrorHandler.restype, x11.XSetIOErrorHandler.argtypes = p, [p]
    if not hasattr(x11, "XSetIOErrorExitHandler"):
        raise IdleSourceError(
            "libX11 is older than 1.7 (no XSetIOErrorExitHandler): a lost display would end"
            " the agent"
        )
    x11.XSetIOErrorExitHandler.restype = None
    x11.XSetIOErrorExitHandler.argtypes = [p, p, p]
    xext.XSyncQueryExtension.argtypes = [p, ip, ip]
    xext.XSyncInitialize.argtypes = [p, ip, ip]
    xext.XSyncListSystemCounters.argtypes = [p, ip]
    xext.XSyncListSystemCounters.restype = ctypes.POINTER(_SystemCounter)
    xext.XSyncFreeSystemCounterList.argtypes = [ctypes.POINTER(_SystemCounter)]
    xext.XSyncCreateAlarm.argtypes = [p, ul, ctypes.POINTER(_AlarmAttributes)]
    xext.XSyncCreateAlarm.restype = ul
    xext.XSyncDestroyAlarm.argtypes = [p, ul]


class _Handlers:
    """libX11's error and I/O-error handlers, while one display of ours is open.

    libX11 keeps one error handler and one I/O-error handler per process, so
    these chain: whatever happens on a display that is not ours goes to the
    handler installed before (GTK's, in the tray). Thread use: the handlers
    run on the thread that made the X call (the watch's thread, for our
    display); ``install``/``remove`` from that thread too.
    """

    def __init__(self, x11: Any, dpy: int) -> None:
        self._x11 = x11
        self._dpy = dpy
        #: ``(error name, request code, minor code)`` of each error on our display, oldest first.
        self.errors: list[tuple[str, int, int]] = []
        self.lost = False
        # The ctypes thunks must live as long as libX11 may call them.
        self._on_error = _ERROR_HANDLER(self._error)
        self._on_io_error = _IO_ERROR_HANDLER(self._io_error)
        self._on_io_exit = _IO_EXIT_HANDLER(self._io_exit)
        self._previous_error: Any = None
        self._previous_io: Any = None

    def install(self) -> None:
        x11 = self._x11
        self._previous_error = _chained(_ERROR_HANDLER, x11.XSetErrorHandler(self._on_error))
        self._previous_io = _chained(_IO_ERROR_HANDLER, x11.XSetIOErrorHandler(self._on_io_error))
        x11.XSetIOErrorExitHandler(self._dpy, self._on_io_exit, None)

    def remove(self) -> None:
        """Put back the handlers from before, unless someone replaced ours meanwhile."""
        x11 = self._x11
        for setter, ours, previous in (
            (x11.XSetErrorHandler, self._on_error, self._previous_error),
            (x11.XSetIOErrorHandler, self._on_io_error, self._previous_io),
        ):
            current = setter(previous)
            if current != ctypes.cast(ours, ctypes.c_void_p).value:
                setter(current)  # not ours any more: leave the newer one in place

    def _error(self, dpy: int, event: Any) -> int:
        if dpy != self._dpy:
            return int(self._previous_error(dpy, event)) if self._previous_error else 0
        error = event.contents
        text = ctypes.create_string_buffer(128)
        self._x11.XGetErrorText(dpy, error.error_code, text, len(text))
        name = text.value.decode(errors="replace") or f"X error {error.error_code}"
        self.errors.append((name, int(error.request_code), int(error.minor_code)))
        return 0

    def _io_error(self, dpy: int) -> int:
        if dpy != self._dpy:
            # Theirs, or libX11's default (whose exit handler then ends the process, as before).
            return int(self._previous_io(dpy)) if self._previous_io else 0
        self.lost = True
        return 0

    def _io_exit(self, _dpy: int, _data: int) -> None:
        # Returning (instead of exit()) leaves the display marked dead: every
        # later call on it fails at once, and the watch's thread ends.
        self.lost = True


def _chained(kind: Any, address: int | None) -> Any:
    """The handler at ``address`` as a callable, or ``None`` for libX11's default."""
    return kind(address) if address else None


class XSyncWatch:
    """Calls ``on_activity`` once at the first input after :meth:`arm`.

    Thread use: ``open``/``arm``/``disarm``/``close`` from the engine thread;
    every X call happens on the watch's own thread, which alone calls
    ``on_activity`` and ``on_broken``.

    ``alarm_delta`` is the alarm's delta, in milliseconds. Only 0 works with a
    negative transition; a test passes 1 to make the X server refuse the alarm
    with a real BadMatch.
    """

    def __init__(self, display: str | None = None, *, alarm_delta: int = 0) -> None:
        self._display_name = display
        self._alarm_delta = alarm_delta
        self._handlers: _Handlers | None = None
        self._on_broken: Callable[[str, bool], None] = lambda _why, _lost: None
        self._x11: Any = None
        self._xext: Any = None
        self._dpy: Any = None
        self._idle_counter = 0
        self._event_base = 0
        self._wake_r = -1
        self._wake_w = -1
        self._lock = threading.Lock()
        self._want_armed = False
        self._stopping = False
        self._on_activity: Callable[[], None] = lambda: None
        self._thread: threading.Thread | None = None

    def open(
        self,
        on_activity: Callable[[], None],
        on_broken: Callable[[str, bool], None] | None = None,
    ) -> None:
        """Connect and find IDLETIME. Raises :class:`IdleSourceError` where it cannot work.

        ``on_broken(why, lost)`` hears, once, that the watch stopped working:
        the X server refused a request (``lost`` false: the counter still
        works), or the display is gone (``lost`` true).
        """
        x11, xext = _load("X11"), _load("Xext")
        _bind(x11, xext)
        name = self._display_name.encode() if self._display_name else None
        dpy = x11.XOpenDisplay(name)
        if not dpy:
            raise IdleSourceError("cannot open the X display for XSync")
        handlers = _Handlers(x11, dpy)
        handlers.install()
        try:
            counter, event_base = self._find_idletime(xext, dpy)
        except IdleSourceError:
            x11.XCloseDisplay(dpy)
            handlers.remove()
            raise
        self._x11, self._xext, self._dpy = x11, xext, dpy
        self._handlers = handlers
        self._idle_counter, self._event_base = counter, event_base
        self._on_activity = on_activity
        if on_broken is not None:
            self._on_broken = on_broken
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="idle-xsync", daemon=True)
        self._thread.start()

    @staticmethod
    def _find_idletime(xext: Any, dpy: Any) -> tuple[int, int]:
        event_base, error_base = ctypes.c_int(), ctypes.c_int()
        if not xext.XSyncQueryExtension(dpy, ctypes.byref(event_base), ctypes.byref(error_base)):
            raise IdleSourceError("the X server has no SYNC extension")
        major, minor = ctypes.c_int(), ctypes.c_int()
        if not xext.XSyncInitialize(dpy, ctypes.byref(major), ctypes.byref(minor)):
            raise IdleSourceError("the X server's SYNC extension is too old")
        count = ctypes.c_int()
        counters = xext.XSyncListSystemCounters(dpy, ctypes.byref(count))
        found = None
        try:
            for index in range(count.value):
                if counters[index].name == b"IDLETIME":
                    found = int(counters[index].counter)
        finally:
            if counters:
                xext.XSyncFreeSystemCounterList(counters)
        if found is None:
            raise IdleSourceError("the X server has no IDLETIME counter")
        return found, event_base.value

    def arm(self) -> None:
        self._request(armed=True)

    def disarm(self) -> None:
        self._request(armed=False)

    def armed(self) -> bool:
        with self._lock:
            return self._want_armed

    def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        with self._lock:
            self._stopping = True
        self._poke()
        thread.join(2.0)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1

    def _request(self, *, armed: bool) -> None:
        with self._lock:
            if self._want_armed == armed:
                return
            self._want_armed = armed
        self._poke()

    def _poke(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"!")

    # -- the watch's thread --------------------------------------------------------------

    def _run(self) -> None:
        x11, dpy, handlers = self._x11, self._dpy, self._handlers
        assert handlers is not None
        fd = x11.XConnectionNumber(dpy)
        event = ctypes.create_string_buffer(_XEVENT_SIZE)
        alarm = 0
        broken: tuple[str, bool] | None = None
        try:
            while True:
                with self._lock:
                    stopping, want = self._stopping, self._want_armed
                if stopping:
                    return
                if want and not alarm:
                    alarm = self._create_alarm()
                elif not want and alarm:
                    self._xext.XSyncDestroyAlarm(dpy, alarm)
                    x11.XFlush(dpy)
                    alarm = 0
                broken = self._broken(handlers)
                if broken:
                    return
                ready, _, _ = select.select([fd, self._wake_r], [], [])
                if self._wake_r in ready:
                    with contextlib.suppress(OSError):
                        os.read(self._wake_r, 512)
                fired = False
                while not handlers.lost and x11.XPending(dpy):
                    x11.XNextEvent(dpy, event)
                    kind = ctypes.cast(event, ctypes.POINTER(ctypes.c_int))[0]
                    fired = fired or kind == self._event_base + _XSYNC_ALARM_NOTIFY
                broken = self._broken(handlers)
                if broken:
                    return
                if fired and alarm:
                    with self._lock:
                        report = self._want_armed
                        self._want_armed = False
                    if report:
                        self._on_activity()
        except Exception:
            log.exception("the XSync idle watch failed")
            broken = ("the XSync idle watch failed", False)
        finally:
            # On a lost display libX11 only frees its memory here: it knows
            # the connection is dead and sends nothing.
            with contextlib.suppress(Exception):
                x11.XCloseDisplay(dpy)
            handlers.remove()
            self._dpy = None
            if broken is not None:
                self._on_broken(*broken)

    def _broken(self, handlers: _Handlers) -> tuple[str, bool] | None:
        """Why the watch cannot go on, if it cannot: ``(one line, display lost)``."""
        if handlers.lost:
            return ("the X display closed the connection", True)
        if handlers.errors:
            name, request, minor = handlers.errors[0]
            return (
                f"the X server refused the XSync alarm ({name}, request {request}.{minor})",
                False,
            )
        return None

    def _create_alarm(self) -> int:
        attributes = _AlarmAttributes()
        attributes.trigger.counter = self._idle_counter
        attributes.trigger.value_type = _XSYNC_ABSOLUTE
        # The counter falls through 1 ms only when input resets it.
        attributes.trigger.wait_value = _Value(0, 1)
        attributes.trigger.test_type = _XSYNC_NEGATIVE_TRANSITION
        # A negative test with a positive delta is BadMatch.
        attributes.delta = _Value(0, self._alarm_delta)
        attributes.events = 1
        mask = (
            _XSYNC_CA_COUNTER
            | _XSYNC_CA_VALUE_TYPE
            | _XSYNC_CA_VALUE
            | _XSYNC_CA_TEST_TYPE
            | _XSYNC_CA_DELTA
            | _XSYNC_CA_EVENTS
        )
        alarm = int(self._xext.XSyncCreateAlarm(self._dpy, mask, ctypes.byref(attributes)))
        # Wait for the server's verdict here, so a refusal is seen now, not
        # at some later event. Once per away: not on any hot path.
        self._x11.XSync(self._dpy, 0)
        return alarm
