"""Idle counters the desktop offers on the D-Bus session bus, for Wayland.

Under Wayland no client may watch global input (that is the point of
Wayland), so pynput sees nothing; the compositor itself tells the idle time:

* GNOME (Mutter): ``org.gnome.Mutter.IdleMonitor.GetIdletime`` on
  ``/org/gnome/Mutter/IdleMonitor/Core``, in milliseconds.
* KDE and others: ``org.freedesktop.ScreenSaver.GetSessionIdleTime``, in
  milliseconds. GNOME's own ``org.freedesktop.ScreenSaver`` answers this with
  ``NotSupported``, which is why the factory probes with a real call.

D-Bus goes through the one helper, presence_agent/dbus.py (jeepney).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from presence_agent.errortext import first_line
from presence_agent.idle._native import NativeSource
from presence_agent.idle.base import IdleSourceError

if TYPE_CHECKING:
    from presence_agent.dbus import Bus


class DBusIdleCounter:
    """``method`` of ``interface`` at ``path`` on ``bus_name``, answering milliseconds."""

    def __init__(
        self,
        what: str,
        bus_name: str,
        path: str,
        interface: str,
        method: str,
        *,
        bus: str = "SESSION",
    ) -> None:
        self.what = what
        self._address = bus
        self._bus_name = bus_name
        self._target = (bus_name, path, interface)
        self._method = method
        self._bus: Bus | None = None

    def open(self) -> None:
        if self._bus is not None:
            return
        try:
            from presence_agent.dbus import Bus, BusUnavailable
        except ImportError as exc:
            raise IdleSourceError(f"jeepney is missing ({first_line(exc)})") from None
        try:
            self._bus = Bus(self._address)
        except BusUnavailable as exc:
            raise IdleSourceError(str(exc)) from None

    def read(self) -> float:
        from presence_agent.dbus import CallFailed, Interface

        if self._bus is None:
            raise IdleSourceError("the D-Bus connection is not open")
        try:
            body = self._bus.call(Interface(*self._target), self._method)
        except CallFailed as exc:
            if exc.absent:
                raise IdleSourceError(f"{self._bus_name} is not on the session bus") from None
            if exc.name == "timeout":
                raise IdleSourceError(f"{self._bus_name} did not answer {self._method}") from None
            raise IdleSourceError(f"{self._bus_name} answered {exc}") from None
        if not body or not isinstance(body[0], int):
            raise IdleSourceError(f"{self._bus_name} gave no idle time")
        return body[0] / 1000.0

    def close(self) -> None:
        bus, self._bus = self._bus, None
        if bus is not None:
            bus.close()


def mutter(bus: str = "SESSION") -> NativeSource:
    return NativeSource(
        "mutter",
        DBusIdleCounter(
            "Mutter IdleMonitor idle time",
            "org.gnome.Mutter.IdleMonitor",
            "/org/gnome/Mutter/IdleMonitor/Core",
            "org.gnome.Mutter.IdleMonitor",
            "GetIdletime",
            bus=bus,
        ),
    )


def freedesktop(bus: str = "SESSION") -> NativeSource:
    return NativeSource(
        "freedesktop",
        DBusIdleCounter(
            "org.freedesktop.ScreenSaver idle time",
            "org.freedesktop.ScreenSaver",
            "/org/freedesktop/ScreenSaver",
            "org.freedesktop.ScreenSaver",
            "GetSessionIdleTime",
            bus=bus,
        ),
    )
