"""Windows: ``GetLastInputInfo``, the session's own last-input tick.

No hook: a low-level keyboard hook on Windows runs in the input path of the
whole desktop, so a slow callback freezes every app's input.

The trap (Gajim had it): ``LASTINPUTINFO.dwTime`` is a 32-bit tick count that
wraps every 49.7 days of uptime. Subtracting it from ``GetTickCount64`` (which
does not wrap), or from a ``GetTickCount`` that ctypes returns as a *signed*
int, makes the idle time absurd after the wrap: the agent then either never
or always goes away. Both ticks here are unsigned 32-bit and the difference
is taken modulo 2**32. ``GetLastInputInfo`` is read before ``GetTickCount``,
so input between the two calls cannot make the difference negative.

Importable everywhere; ``ctypes.windll`` is touched only by :class:`User32`.
"""

from __future__ import annotations

from typing import Any, Protocol

from presence_agent.idle._native import NativeSource
from presence_agent.idle.base import IdleSourceError

_WRAP = 1 << 32


class TickApi(Protocol):
    """The two Win32 calls, so tests can pass a fake."""

    def last_input_tick(self) -> int:
        """``GetLastInputInfo().dwTime``: the 32-bit tick of the last input."""

    def tick_count(self) -> int:
        """``GetTickCount()``: the 32-bit tick now."""


def idle_ms(now_tick: int, last_input_tick: int) -> int:
    """Milliseconds between two 32-bit ticks, across a wrap of the counter.

    Exact while the idle time is under 49.7 days; a 32-bit API cannot say more.
    """
    return (now_tick - last_input_tick) % _WRAP


class User32:
    """The real calls, through ctypes. Built only on Windows."""

    def __init__(self) -> None:
        import ctypes
        from ctypes import wintypes

        class LastInputInfo(ctypes.Structure):
            _fields_ = (("cbSize", wintypes.UINT), ("dwTime", wintypes.DWORD))

        windll: Any = getattr(ctypes, "windll", None)
        if windll is None:
            raise IdleSourceError("GetLastInputInfo exists only on Windows")
        self._info_type = LastInputInfo
        self._get_last_input_info = windll.user32.GetLastInputInfo
        self._get_last_input_info.argtypes = (ctypes.POINTER(LastInputInfo),)
        self._get_last_input_info.restype = wintypes.BOOL
        self._get_tick_count = windll.kernel32.GetTickCount
        self._get_tick_count.argtypes = ()
        # The default restype is a signed int: negative after 24.8 days of uptime.
        self._get_tick_count.restype = ctypes.c_uint32
        self._byref = ctypes.byref
        self._sizeof = ctypes.sizeof

    def last_input_tick(self) -> int:
        info = self._info_type()
        info.cbSize = self._sizeof(info)
        if not self._get_last_input_info(self._byref(info)):
            raise OSError("GetLastInputInfo failed")
        return int(info.dwTime) & (_WRAP - 1)

    def tick_count(self) -> int:
        return int(self._get_tick_count()) & (_WRAP - 1)


class LastInputCounter:
    """Idle time from ``GetLastInputInfo``."""

    what = "GetLastInputInfo idle time"

    def __init__(self, api: TickApi | None = None) -> None:
        self._api = api

    def open(self) -> None:
        if self._api is None:
            self._api = User32()

    def read(self) -> float:
        if self._api is None:
            raise IdleSourceError("GetLastInputInfo is not open")
        last = self._api.last_input_tick()
        now = self._api.tick_count()
        return idle_ms(now, last) / 1000.0

    def close(self) -> None:
        return None


def source(api: TickApi | None = None) -> NativeSource:
    return NativeSource("windows", LastInputCounter(api))
