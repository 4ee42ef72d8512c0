"""Desktop notifications with actions: ``org.freedesktop.Notifications`` on the session bus.

The agenda's reminders ("Back to Available at 13:00 · Extend 15 min") need an
action button, which pystray's notifications cannot carry, and they must also
reach a person running ``run --no-tray``. So on Linux (and the BSDs) the agent
talks to the desktop's notification server itself, through the one D-Bus
helper (presence_agent/dbus.py). Elsewhere, and where no
such server runs, :func:`create` gives ``None`` and the tray's own
notifications are used, without actions.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from presence_agent.events import Notice, NoticeKind

log = logging.getLogger(__name__)

BUS_NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
INTERFACE = "org.freedesktop.Notifications"
APP_NAME = "presence-agent"
#: Reminders vanish when what they announce has happened.
REMINDER_TIMEOUT_MS = 60_000

__all__ = ["DesktopNotifier", "Notifier", "create"]

#: Notices of one family replace each other on screen (the end replaces its reminder).
_FAMILY = {
    NoticeKind.TIMER_SOON: "timer",
    NoticeKind.TIMER_ENDED: "timer",
    NoticeKind.SHIFT_SOON: "shift",
    NoticeKind.SHIFT_ENDED: "shift",
    NoticeKind.SHIFT_STARTED: "shift",
    # Idleness's steps and the return: the newest says where the person stands.
    NoticeKind.ESCALATED: "idle",
    NoticeKind.RETURNED: "idle",
}
_STOP = object()


class Notifier(Protocol):
    """Shows notices. Thread use: :meth:`show` from any thread, never blocking."""

    def show(self, notice: Notice) -> None: ...

    def stop(self) -> None: ...


class DesktopNotifier:
    """Notices through the session bus's notification server, with actions where it has them.

    Thread use: :meth:`start` and :meth:`stop` from the wiring thread; :meth:`show`
    from any thread (it only queues). D-Bus calls and ``on_action`` run on the
    notifier's own thread, which sleeps on one queue fed by both :meth:`show`
    and the bus's ``ActionInvoked`` signals: nothing polls.
    """

    def __init__(
        self, on_action: Callable[[str, Notice], None], *, address: str = "SESSION"
    ) -> None:
        self._on_action = on_action
        self._address = address
        self._queue: queue.Queue[Any] = queue.Queue()
        self._bus: Any = None
        self._target: Any = None
        self._actions = False
        #: Notification id -> the notice shown with it; family -> the id on screen.
        self._shown: dict[int, Notice] = {}
        self._family_ids: dict[str, int] = {}
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Connect; ``False`` (and nothing started) if the bus or the server is missing."""
        if self._thread is not None:
            return True
        from presence_agent.dbus import Bus, BusUnavailable, Interface

        try:
            bus = Bus(self._address)
        except BusUnavailable as exc:
            log.info("no notifications: %s", exc)
            return False
        self._target = Interface(BUS_NAME, PATH, INTERFACE)
        # A call, not NameHasOwner: servers are often started on demand (D-Bus activation).
        caps = bus.try_call(self._target, "GetCapabilities")
        if caps is None:
            log.info("no notification server on the session bus")
            bus.close()
            return False
        self._actions = "actions" in (caps[0] if caps else [])
        for member in ("ActionInvoked", "NotificationClosed"):
            bus.subscribe_signal(self._queue, interface=INTERFACE, member=member, path=PATH)
        self._bus = bus
        self._thread = threading.Thread(target=self._run, name="notifications", daemon=True)
        self._thread.start()
        log.info("notifications: %s actions", "with" if self._actions else "without")
        return True

    @property
    def running(self) -> bool:
        """Whether :meth:`start` found a server and the notifier's thread runs."""
        return self._thread is not None and self._bus is not None

    @property
    def has_actions(self) -> bool:
        return self._actions

    def show(self, notice: Notice) -> None:
        self._queue.put(notice)

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until everything shown so far has been handed to the server."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def stop(self) -> None:
        self._queue.put(_STOP)
        thread = self._thread
        if thread is not None:
            thread.join(2.0)
        bus, self._bus = self._bus, None
        if bus is not None:
            bus.close()

    # -- the notifier's thread --------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                if isinstance(item, Notice):
                    self._notify(item)
                elif isinstance(item, threading.Event):
                    item.set()
                else:
                    self._signal(item)
            except Exception:
                log.exception("a notification failed")

    def _notify(self, notice: Notice) -> None:
        family = _FAMILY.get(notice.kind, notice.kind.value)
        replaces = self._family_ids.get(family, 0)
        actions: list[str] = []
        if self._actions:
            for key, label in notice.actions:
                actions += [key, label]
        hints = {"desktop-entry": ("s", APP_NAME), "urgency": ("y", 1)}
        timeout = REMINDER_TIMEOUT_MS if notice.actions else -1
        reply = self._bus.try_call(
            self._target,
            "Notify",
            "susssasa{sv}i",
            (APP_NAME, replaces, "", notice.title, notice.body, actions, hints, timeout),
        )
        log.info("notification: %s%s", notice.title, "" if reply else " (not shown)")
        if not reply:
            return
        ident = int(reply[0])
        self._shown.pop(replaces, None)
        self._shown[ident] = notice
        self._family_ids[family] = ident

    def _signal(self, message: Any) -> None:
        from presence_agent.dbus import signal_fields

        _interface, member, _path, _sender = signal_fields(message)
        body = message.body
        if not body:
            return
        ident = int(body[0])
        notice = self._shown.get(ident)
        if notice is None:
            return  # another application's notification
        if member == "ActionInvoked" and len(body) > 1:
            key = str(body[1])
            if any(key == known for known, _label in notice.actions):
                log.info("notification action: %s", key)
                self._on_action(key, notice)
        elif member == "NotificationClosed":
            self._shown.pop(ident, None)


def create(
    on_action: Callable[[str, Notice], None],
    env: Mapping[str, str] | None = None,
    platform: str = sys.platform,
) -> DesktopNotifier | None:
    """The session bus's notifier, not started yet (:meth:`DesktopNotifier.start` says
    whether a server answers); ``None`` where there can be none (then the tray's are used)."""
    env = os.environ if env is None else env
    if platform in ("win32", "darwin") or not env.get("DBUS_SESSION_BUS_ADDRESS"):
        return None
    return DesktopNotifier(on_action, address=env["DBUS_SESSION_BUS_ADDRESS"])
