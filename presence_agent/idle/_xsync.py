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
    xext.XSyncQueryExtension.argtypes = [p, ip, ip]
    xext.XSyncInitialize.argtypes = [p, ip, ip]
    xext.XSyncListSystemCounters.argtypes = [p, ip]
    xext.XSyncListSystemCounters.restype = ctypes.POINTER(_SystemCounter)
    xext.XSyncFreeSystemCounterList.argtypes = [ctypes.POINTER(_SystemCounter)]
    xext.XSyncCreateAlarm.argtypes = [p, ul, ctypes.POINTER(_AlarmAttributes)]
    xext.XSyncCreateAlarm.restype = ul
    xext.XSyncDestroyAlarm.argtypes = [p, ul]


class XSyncWatch:
    """Calls ``on_activity`` once at the first input after :meth:`arm`.

    Thread use: ``open``/``arm``/``disarm``/``close`` from the engine thread;
    every X call happens on the watch's own thread, which alone calls
    ``on_activity``.
    """

    def __init__(self, display: str | None = None) -> None:
        self._display_name = display
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

    def open(self, on_activity: Callable[[], None]) -> None:
        """Connect and find IDLETIME. Raises :class:`IdleSourceError` where it cannot work."""
        x11, xext = _load("X11"), _load("Xext")
        _bind(x11, xext)
        name = self._display_name.encode() if self._display_name else None
        dpy = x11.XOpenDisplay(name)
        if not dpy:
            raise IdleSourceError("cannot open the X display for XSync")
        try:
            counter, event_base = self._find_idletime(xext, dpy)
        except IdleSourceError:
            x11.XCloseDisplay(dpy)
            raise
        self._x11, self._xext, self._dpy = x11, xext, dpy
        self._idle_counter, self._event_base = counter, event_base
        self._on_activity = on_activity
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
        x11, dpy = self._x11, self._dpy
        fd = x11.XConnectionNumber(dpy)
        event = ctypes.create_string_buffer(_XEVENT_SIZE)
        alarm = 0
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
                ready, _, _ = select.select([fd, self._wake_r], [], [])
                if self._wake_r in ready:
                    with contextlib.suppress(OSError):
                        os.read(self._wake_r, 512)
                fired = False
                while x11.XPending(dpy):
                    x11.XNextEvent(dpy, event)
                    kind = ctypes.cast(event, ctypes.POINTER(ctypes.c_int))[0]
                    fired = fired or kind == self._event_base + _XSYNC_ALARM_NOTIFY
                if fired and alarm:
                    with self._lock:
                        report = self._want_armed
                        self._want_armed = False
                    if report:
                        self._on_activity()
        except Exception:
            log.exception("the XSync idle watch failed")
        finally:
            with contextlib.suppress(Exception):
                x11.XCloseDisplay(dpy)
            self._dpy = None

    def _create_alarm(self) -> int:
        attributes = _AlarmAttributes()
        attributes.trigger.counter = self._idle_counter
        attributes.trigger.value_type = _XSYNC_ABSOLUTE
        # The counter falls through 1 ms only when input resets it.
        attributes.trigger.wait_value = _Value(0, 1)
        attributes.trigger.test_type = _XSYNC_NEGATIVE_TRANSITION
        attributes.delta = _Value(0, 0)  # a negative test with a positive delta is BadMatch
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
        self._x11.XFlush(self._dpy)
        return alarm
