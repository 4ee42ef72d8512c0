"""macOS: screen lock and sleep from Cocoa notifications (through PyObjC).

* ``com.apple.screenIsLocked`` / ``com.apple.screenIsUnlocked`` on the
  distributed notification center.
* ``NSWorkspaceWillSleepNotification`` / ``NSWorkspaceDidWakeNotification``
  on NSWorkspace's center. macOS waits for the observers of the sleep
  notification to return, so the bounded wait for the away happens there.

Cocoa delivers both on the main thread's run loop, which the tray
(pystray's NSApplication) runs. A headless ``run --no-tray`` has no run loop:
there lock and sleep go unseen, and a sleep is noticed from the clock jump
on wake. PyObjC comes with pystray on macOS; it is imported only in
:class:`Cocoa`, so this module imports everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from presence_agent.session.base import SessionEvents, Signal, WatcherUnavailable

log = logging.getLogger(__name__)

SCREEN_LOCKED = "com.apple.screenIsLocked"
SCREEN_UNLOCKED = "com.apple.screenIsUnlocked"
WILL_SLEEP = "NSWorkspaceWillSleepNotification"
DID_WAKE = "NSWorkspaceDidWakeNotification"
_RUN_LOOP = " (delivered while the tray runs)"


class NotificationApi(Protocol):
    """The two Cocoa notification centers. Tests pass a fake."""

    def observe(self, distributed: bool, name: str, callback: Callable[[], None]) -> None:
        """Call ``callback`` on each notification ``name`` (distributed, or NSWorkspace's)."""

    def remove_all(self) -> None:
        """Remove every observer added by :meth:`observe`."""


class MacWatcher:
    """Lock and sleep notifications.

    Thread use: ``start``/``stop`` from the wiring thread (the main thread);
    the callbacks run on the main thread's run loop and call :class:`SessionEvents`.
    """

    name = "macos"

    def __init__(self, api: NotificationApi | None = None) -> None:
        self._api = api
        self._events: SessionEvents | None = None

    def start(self, events: SessionEvents) -> list[Signal]:
        self._events = events
        if self._api is None:
            self._api = Cocoa()
        api = self._api
        api.observe(True, SCREEN_LOCKED, lambda: self.on_notification(SCREEN_LOCKED))
        api.observe(True, SCREEN_UNLOCKED, lambda: self.on_notification(SCREEN_UNLOCKED))
        api.observe(False, WILL_SLEEP, lambda: self.on_notification(WILL_SLEEP))
        api.observe(False, DID_WAKE, lambda: self.on_notification(DID_WAKE))
        return [
            Signal(
                "lock", True, f"{SCREEN_LOCKED} / {SCREEN_UNLOCKED} (needs the tray's run loop)"
            ),
            Signal("suspend", True, f"{WILL_SLEEP} / {DID_WAKE} (needs the tray's run loop)"),
            Signal("inhibit", False, "power assertions are not read on macOS"),
        ]

    def stop(self) -> None:
        if self._api is not None:
            self._api.remove_all()

    def on_notification(self, name: str) -> None:
        events = self._events
        if events is None:
            return
        if name == SCREEN_LOCKED:
            events.locked(True)
        elif name == SCREEN_UNLOCKED:
            events.locked(False)
        elif name == WILL_SLEEP:
            events.sleeping()
        elif name == DID_WAKE:
            events.woke()


class Cocoa:
    """The real notification centers (PyObjC)."""

    def __init__(self) -> None:
        try:
            from AppKit import NSWorkspace
            from Foundation import NSDistributedNotificationCenter
        except ImportError as exc:
            raise WatcherUnavailable(f"PyObjC is missing ({exc})") from None
        self._distributed: Any = NSDistributedNotificationCenter.defaultCenter()
        self._workspace: Any = NSWorkspace.sharedWorkspace().notificationCenter()
        self._tokens: list[tuple[Any, Any]] = []

    def observe(self, distributed: bool, name: str, callback: Callable[[], None]) -> None:
        center = self._distributed if distributed else self._workspace

        def block(_notification: Any) -> None:
            try:
                callback()
            except Exception:
                log.exception("handling %s failed", name)

        token = center.addObserverForName_object_queue_usingBlock_(name, None, None, block)
        self._tokens.append((center, token))

    def remove_all(self) -> None:
        tokens, self._tokens = self._tokens, []
        for center, token in tokens:
            center.removeObserver_(token)
