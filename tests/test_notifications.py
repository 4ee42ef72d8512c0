"""Notifications with actions through a real notification server (dunst) on a private bus."""

from __future__ import annotations

import threading

import pytest

from presence_agent.agenda import EXTEND_ACTION
from presence_agent.events import Notice, NoticeKind
from presence_agent.notifications import DesktopNotifier, create
from tests.notification_daemon import Dunst, notification_daemon

pytestmark = pytest.mark.desktop

__all__ = ["notification_daemon"]

REMINDER = Notice(
    NoticeKind.TIMER_SOON,
    "Back to Available at 13:00",
    "Your Away ends in 1 min.",
    (EXTEND_ACTION,),
)


def test_a_reminder_with_its_action(notification_daemon: Dunst, desktop_env):
    clicked: list[tuple[str, Notice]] = []
    done = threading.Event()

    def on_action(key: str, notice: Notice) -> None:
        clicked.append((key, notice))
        done.set()

    notifier = DesktopNotifier(on_action, address=desktop_env["DBUS_SESSION_BUS_ADDRESS"])
    assert notifier.start()
    try:
        assert notifier.has_actions
        notifier.show(REMINDER)
        notification_daemon.wait_displayed()
        notification_daemon.invoke_action()
        assert done.wait(10), "the action never came back"
        assert clicked == [("extend", REMINDER)]
        received = notification_daemon.received()
        assert [(n["summary"], n["body"], n["appname"]) for n in received] == [
            ("Back to Available at 13:00", "Your Away ends in 1 min.", "presence-agent")
        ]
    finally:
        notifier.stop()


def test_the_end_replaces_its_reminder(notification_daemon: Dunst, desktop_env):
    notifier = DesktopNotifier(lambda *_: None, address=desktop_env["DBUS_SESSION_BUS_ADDRESS"])
    assert notifier.start()
    try:
        notifier.show(REMINDER)
        notification_daemon.wait_displayed()
        notifier.show(Notice(NoticeKind.TIMER_ENDED, "Your Away has ended: Available"))
        assert notifier.flush()
        assert notification_daemon.displayed() == 1
        assert [n["summary"] for n in notification_daemon.received()] == [
            "Your Away has ended: Available"
        ]
    finally:
        notifier.stop()


def test_no_server_no_notifier(desktop_env):
    # The test bus has no notification server (and activates none of the host's).
    notifier = create(lambda *_: None, desktop_env)
    assert notifier is not None
    assert not notifier.start()
    assert create(lambda *_: None, {}) is None
    assert create(lambda *_: None, desktop_env, platform="win32") is None
