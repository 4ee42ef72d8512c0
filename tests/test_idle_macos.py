"""The macOS source against a fake of CGEventSourceSecondsSinceLastEventType (runs everywhere)."""

from __future__ import annotations

import math
import sys
import time

import pytest

from presence_agent.idle import _macos
from presence_agent.idle._macos import ANY_INPUT_EVENT, HID_SYSTEM_STATE, HidIdleCounter
from presence_agent.idle.base import IdleSourceError


class FakeQuartz:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.asked: list[tuple[int, int]] = []

    def seconds_since_last_event(self, state: int, event_type: int) -> float:
        self.asked.append((state, event_type))
        return self.seconds


def test_asks_the_hid_system_for_any_input() -> None:
    quartz = FakeQuartz(12.25)
    counter = HidIdleCounter(quartz)
    counter.open()
    assert counter.read() == 12.25
    # The whole session's hardware state, every event type: not one app's events.
    assert quartz.asked == [(HID_SYSTEM_STATE, ANY_INPUT_EVENT)]
    assert (HID_SYSTEM_STATE, ANY_INPUT_EVENT) == (1, 0xFFFFFFFF)


def test_no_answer_is_an_error_not_a_number() -> None:
    counter = HidIdleCounter(FakeQuartz(math.nan))
    counter.open()
    with pytest.raises(IdleSourceError, match="no idle time"):
        counter.read()


def test_armed_source_sees_the_counter_drop() -> None:
    quartz = FakeQuartz(400.0)
    source = _macos.source(quartz)
    seen = []
    source.start(lambda: seen.append(True))
    try:
        assert source.name == "macos"
        source.arm()
        quartz.seconds = 0.02
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
        assert seen == [True]
    finally:
        source.stop()


@pytest.mark.skipif(sys.platform == "darwin", reason="checks the failure off macOS")
def test_off_macos_coregraphics_fails_cleanly() -> None:
    with pytest.raises(IdleSourceError, match="cannot load CoreGraphics"):
        _macos.source().probe()
