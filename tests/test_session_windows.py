"""The Windows watcher against a fake hidden window (runs everywhere)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

import pytest

from presence_agent.session._windows import (
    PBT_APMRESUMEAUTOMATIC,
    PBT_APMSUSPEND,
    WM_POWERBROADCAST,
    WM_WTSSESSION_CHANGE,
    WTS_SESSION_LOCK,
    WTS_SESSION_UNLOCK,
    Win32Window,
    WindowsWatcher,
)
from presence_agent.session.base import WatcherUnavailable
from tests.fakes import SessionRecorder as Recorder

#: PBT_APMRESUMESUSPEND: sent after RESUMEAUTOMATIC only when a person woke the machine.
PBT_APMRESUMESUSPEND = 0x7
#: WTS_SESSION_LOGON: a session change that is not a lock.
WTS_SESSION_LOGON = 0x5


class FakeWindow:
    """Runs a message loop of messages the test feeds, on the watcher's thread."""

    def __init__(self, problem: str | None = None) -> None:
        self.problem = problem
        self.messages: list[tuple[int, int, int] | None] = []
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None
        self.quit_called = False

    def run(self, handler: Callable[[int, int, int], None], ready: Callable[[str | None], None]):
        self.thread = threading.current_thread()
        ready(self.problem)
        if self.problem:
            return
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.messages)
                message = self.messages.pop(0)
            if message is None:
                return
            handler(*message)

    def send(self, message: int, wparam: int, lparam: int = 0) -> None:
        with self.cond:
            self.messages.append((message, wparam, lparam))
            self.cond.notify_all()

    def quit(self) -> None:
        self.quit_called = True
        with self.cond:
            self.messages.append(None)
            self.cond.notify_all()


def test_lock_sleep_and_wake_from_window_messages() -> None:
    window = FakeWindow()
    watcher = WindowsWatcher(window)
    recorder = Recorder()
    signals = watcher.start(recorder)
    try:
        assert {(s.kind, s.available) for s in signals} == {
            ("lock", True),
            ("suspend", True),
            ("inhibit", False),
        }
        window.send(WM_WTSSESSION_CHANGE, WTS_SESSION_LOGON)
        window.send(WM_WTSSESSION_CHANGE, WTS_SESSION_LOCK)
        window.send(WM_WTSSESSION_CHANGE, WTS_SESSION_UNLOCK)
        window.send(WM_POWERBROADCAST, PBT_APMSUSPEND)
        window.send(WM_POWERBROADCAST, PBT_APMRESUMEAUTOMATIC)
        window.send(WM_POWERBROADCAST, PBT_APMRESUMESUSPEND)  # the same wake: not twice
        recorder.wait_for(("woke", None))
    finally:
        watcher.stop()
    assert recorder.events == [
        ("locked", True),
        ("locked", False),
        ("sleeping", None),
        ("woke", None),
    ]
    assert window.quit_called
    assert window.thread is not None
    assert not window.thread.is_alive()


def test_a_window_that_cannot_be_made_is_unavailable() -> None:
    watcher = WindowsWatcher(FakeWindow(problem="CreateWindowExW failed (5)"))
    with pytest.raises(WatcherUnavailable, match="CreateWindowExW failed"):
        watcher.start(Recorder())
    watcher.stop()


@pytest.mark.skipif(sys.platform == "win32", reason="checks the failure off Windows")
def test_off_windows_the_real_window_fails_cleanly() -> None:
    with pytest.raises(WatcherUnavailable, match="only on Windows"):
        WindowsWatcher(Win32Window()).start(Recorder())
