"""The macOS watcher against a fake of the Cocoa notification centers (runs everywhere)."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from presence_agent.session._macos import (
    DID_WAKE,
    SCREEN_LOCKED,
    SCREEN_UNLOCKED,
    WILL_SLEEP,
    Cocoa,
    MacWatcher,
)
from presence_agent.session.base import WatcherUnavailable
from tests.fakes import SessionRecorder as Recorder


class FakeCenters:
    def __init__(self) -> None:
        self.observers: dict[tuple[bool, str], Callable[[], None]] = {}

    def observe(self, distributed: bool, name: str, callback: Callable[[], None]) -> None:
        self.observers[(distributed, name)] = callback

    def remove_all(self) -> None:
        self.observers.clear()

    def post(self, distributed: bool, name: str) -> None:
        callback = self.observers.get((distributed, name))
        if callback is not None:
            callback()


def test_lock_from_distributed_and_sleep_from_workspace_notifications() -> None:
    centers = FakeCenters()
    watcher = MacWatcher(centers)
    recorder = Recorder()
    signals = watcher.start(recorder)
    assert [s.kind for s in signals if s.available] == ["lock", "suspend"]
    # The lock notifications are distributed ones; sleep and wake are NSWorkspace's.
    centers.post(False, SCREEN_LOCKED)
    centers.post(True, SCREEN_LOCKED)
    centers.post(True, SCREEN_UNLOCKED)
    centers.post(True, WILL_SLEEP)
    centers.post(False, WILL_SLEEP)
    centers.post(False, DID_WAKE)
    assert recorder.events == [
        ("locked", True),
        ("locked", False),
        ("sleeping", None),
        ("woke", None),
    ]
    watcher.stop()
    assert centers.observers == {}


@pytest.mark.skipif(sys.platform == "darwin", reason="checks the failure off macOS")
def test_off_macos_cocoa_is_unavailable() -> None:
    with pytest.raises(WatcherUnavailable, match="PyObjC is missing"):
        Cocoa()
