"""Idle counters the desktop offers on the D-Bus session bus, for Wayland.

Under Wayland no client may watch global input (that is the point of
Wayland), so pynput sees nothing; the compositor itself tells the idle time:

* GNOME (Mutter): ``org.gnome.Mutter.IdleMonitor.GetIdletime`` on
  ``/org/gnome/Mutter/IdleMonitor/Core``, in milliseconds.
* KDE and others: ``org.freedesktop.ScreenSaver.GetSessionIdleTime``, in
  milliseconds. GNOME's own ``org.freedesktop.ScreenSaver`` answers this with
  ``NotSupported``, which is why the factory probes with a real call.

jeepney speaks D-Bus: pure Python, no libdbus, and keyring's Secret Service
backend already depends on it on Linux.
"""

from __future__ import annotations

from typing import Any

from presence_agent.idle._native import NativeSource
from presence_agent.idle.base import IdleSourceError

#: How long one call may take before the reading counts as failed.
CALL_TIMEOUT = 1.0


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
        timeout: float = CALL_TIMEOUT,
    ) -> None:
        self.what = what
        self._bus = bus
        self._timeout = timeout
        self._target = (bus_name, path, interface, method)
        self._connection: Any = None

    def open(self) -> None:
        if self._connection is not None:
            return
        try:
            from jeepney.io.blocking import open_dbus_connection
        except ImportError as exc:
            raise IdleSourceError(f"jeepney is missing ({exc})") from None
        try:
            self._connection = open_dbus_connection(bus=self._bus)
        except Exception as exc:  # noqa: BLE001 - no bus: KeyError, OSError, jeepney's own
            raise IdleSourceError(f"no D-Bus session bus ({_short(exc)})") from None

    def read(self) -> float:
        from jeepney import DBusAddress, new_method_call
        from jeepney.wrappers import DBusErrorResponse, unwrap_msg

        if self._connection is None:
            raise IdleSourceError("the D-Bus connection is not open")
        bus_name, path, interface, method = self._target
        message = new_method_call(DBusAddress(path, bus_name, interface), method)
        try:
            reply = self._connection.send_and_get_reply(message, timeout=self._timeout)
            body = unwrap_msg(reply)
        except DBusErrorResponse as exc:
            if exc.name == "org.freedesktop.DBus.Error.ServiceUnknown":
                raise IdleSourceError(f"{bus_name} is not on the session bus") from None
            raise IdleSourceError(f"{bus_name} answered {exc.name}") from None
        except TimeoutError:
            raise IdleSourceError(f"{bus_name} did not answer {method}") from None
        if not body or not isinstance(body[0], int):
            raise IdleSourceError(f"{bus_name} gave no idle time")
        return body[0] / 1000.0

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


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


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
