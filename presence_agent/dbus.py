"""The one D-Bus helper: a bus connection, method calls, properties, signals, name owners.

Everything that speaks D-Bus (the Wayland idle counters in ``idle/``, the
screen lockers and logind in ``session/``, the tray-host probe in
``autostart/``) goes through :class:`Bus`, which is a thin layer over
jeepney's own pieces: its threading ``DBusRouter`` (one receiver thread per
connection, replies matched to calls), its ``Proxy`` over a message
generator, ``message_bus`` for the bus daemon's own methods,
``Properties`` and ``MatchRule``. What this module adds is only what every
caller wanted: failures as one exception type with a one-line text, and a
call that answers ``None`` where "not here" is a normal answer.

jeepney is pure Python (no libdbus), and keyring's Secret Service backend
depends on it on Linux anyway. Importing this module imports jeepney; do it
lazily, where D-Bus is used.
"""

from __future__ import annotations

import logging
import queue
from typing import Any

from jeepney import MatchRule, Message, MessageGenerator, Properties, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.common import RouterClosed
from jeepney.io.threading import DBusRouter, Proxy, open_dbus_connection
from jeepney.wrappers import DBusErrorResponse

from presence_agent.errortext import first_line

__all__ = ["CALL_TIMEOUT", "Bus", "BusUnavailable", "CallFailed", "Interface", "signal_fields"]

log = logging.getLogger(__name__)

#: How long a call may take before it counts as failed (a hung service must not hang us).
CALL_TIMEOUT = 1.0
SERVICE_UNKNOWN = "org.freedesktop.DBus.Error.ServiceUnknown"
NAME_HAS_NO_OWNER = "org.freedesktop.DBus.Error.NameHasNoOwner"


class BusUnavailable(Exception):
    """No such bus here (no address, nothing listening, refused). One line."""


class CallFailed(Exception):
    """A method call failed. ``name`` is the D-Bus error name, or ``timeout``/``disconnected``."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(text)
        self.name = name

    @property
    def absent(self) -> bool:
        """The service is not on the bus (and cannot be started)."""
        return self.name in (SERVICE_UNKNOWN, NAME_HAS_NO_OWNER)


class Interface(MessageGenerator):  # type: ignore[misc]  # jeepney has no type hints
    """One interface of one object of one service: a jeepney message generator for any method.

    ``Bus.call(iface, "GetActive")`` is what a generated binding's
    ``iface.GetActive()`` would be, without a class per interface.
    """

    def __init__(self, bus_name: str, path: str, interface: str) -> None:
        super().__init__(object_path=path, bus_name=bus_name)
        self.interface = interface

    def method(
        self, member: str, signature: str | None = None, body: tuple[Any, ...] = ()
    ) -> Message:
        return new_method_call(self, member, signature, body)

    def __repr__(self) -> str:
        return f"{self.bus_name} {self.object_path} {self.interface}"


class Bus:
    """One connection to a bus, with jeepney's receiver thread.

    Thread use: every method from any thread except the receiver's own;
    signals go to the queues given to :meth:`subscribe`, to be emptied by a
    thread of the caller's.
    """

    def __init__(self, address: str = "SESSION", *, enable_fds: bool = False) -> None:
        self.address = address
        try:
            self._connection = open_dbus_connection(bus=address, enable_fds=enable_fds)
        except Exception as exc:  # noqa: BLE001 - no bus: KeyError, OSError, jeepney's own
            raise BusUnavailable(f"no D-Bus {_bus_word(address)} bus ({first_line(exc)})") from None
        try:
            self._router = DBusRouter(self._connection)
        except BaseException:
            self._connection.close()
            raise
        self._daemon = Proxy(message_bus, self._router, timeout=CALL_TIMEOUT)
        self._filters: list[Any] = []

    def __enter__(self) -> Bus:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def unique_name(self) -> str:
        return str(self._connection.unique_name)

    def call(
        self,
        target: Interface,
        member: str,
        signature: str | None = None,
        body: tuple[Any, ...] = (),
        *,
        timeout: float = CALL_TIMEOUT,
    ) -> tuple[Any, ...]:
        """Call ``member`` on ``target``; its reply's body. Raises :class:`CallFailed`."""
        return self._send(Proxy(target, self._router).method, member, signature, body, timeout)

    def try_call(
        self,
        target: Interface,
        member: str,
        signature: str | None = None,
        body: tuple[Any, ...] = (),
    ) -> tuple[Any, ...] | None:
        """:meth:`call`, with ``None`` for any failure (the service is absent or refuses)."""
        try:
            return self.call(target, member, signature, body)
        except CallFailed as exc:
            log.debug("D-Bus %s.%s: %s", target.interface, member, exc)
            return None

    def get(self, target: Interface, name: str) -> Any:
        """The value of property ``name`` of ``target``, or ``None`` when it cannot be read."""
        try:
            reply = self._send(
                Proxy(Properties(target), self._router).get, name, None, (), CALL_TIMEOUT
            )
        except CallFailed as exc:
            log.debug("D-Bus property %s.%s: %s", target.interface, name, exc)
            return None
        # (signature, value): a variant.
        return reply[0][1] if reply and isinstance(reply[0], tuple) else None

    def has_owner(self, name: str) -> bool:
        """Whether a connection owns ``name`` right now (activatable but idle: ``False``)."""
        try:
            reply = self._send(self._daemon.NameHasOwner, name, None, (), CALL_TIMEOUT)
        except CallFailed:
            return False
        return bool(reply and reply[0])

    def subscribe(self, into: queue.Queue[Any], rule: MatchRule) -> bool:
        """Deliver the messages matching ``rule`` into ``into``; whether the bus took the rule."""
        handle = self._router.filter(rule, queue=into, bufsize=0)
        try:
            self._send(self._daemon.AddMatch, rule, None, (), CALL_TIMEOUT)
        except CallFailed as exc:
            log.debug("D-Bus AddMatch %s: %s", rule.serialise(), exc)
            handle.close()
            return False
        self._filters.append(handle)
        return True

    def subscribe_signal(self, into: queue.Queue[Any], **match: str) -> bool:
        """:meth:`subscribe` to the signals matching ``match`` (interface, member, path)."""
        return self.subscribe(into, MatchRule(type="signal", **match))

    def watch_owner(self, into: queue.Queue[Any], name: str) -> bool:
        """Deliver ``NameOwnerChanged`` for ``name`` into ``into``: it appeared, or vanished."""
        rule = MatchRule(
            type="signal",
            sender="org.freedesktop.DBus",
            interface="org.freedesktop.DBus",
            member="NameOwnerChanged",
            path="/org/freedesktop/DBus",
        )
        rule.add_arg_condition(0, name)
        return self.subscribe(into, rule)

    def close(self) -> None:
        for handle in self._filters:
            handle.close()
        self._filters.clear()
        try:
            self._router.close()
        finally:
            self._connection.close()

    @staticmethod
    def _send(
        method: Any, member: Any, signature: str | None, body: tuple[Any, ...], timeout: float
    ) -> tuple[Any, ...]:
        try:
            if signature is None and not body:
                result = method(member, _timeout=timeout)
            else:
                result = method(member, signature, body, _timeout=timeout)
        except DBusErrorResponse as exc:
            detail = f": {first_line(exc)}" if exc.data else ""
            raise CallFailed(exc.name, f"{exc.name}{detail}") from None
        except TimeoutError:
            raise CallFailed("timeout", f"no answer within {timeout:g} s") from None
        except (OSError, ValueError, EOFError, RouterClosed) as exc:
            # The connection closed under us (the bus went away), or a
            # message that could not be built from what we were given.
            raise CallFailed("disconnected", first_line(exc, with_type=True)) from None
        return tuple(result)


def signal_fields(message: Message) -> tuple[str, str, str, str]:
    """``(interface, member, path, sender)`` of a received message."""
    from jeepney import HeaderFields

    fields = message.header.fields
    return (
        str(fields.get(HeaderFields.interface, "")),
        str(fields.get(HeaderFields.member, "")),
        str(fields.get(HeaderFields.path, "")),
        str(fields.get(HeaderFields.sender, "")),
    )


def _bus_word(address: str) -> str:
    return address.lower() if address in ("SESSION", "SYSTEM") else "session"
