"""The Windows source against a fake of GetLastInputInfo/GetTickCount (runs everywhere)."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from presence_agent.idle import _windows
from presence_agent.idle._windows import LastInputCounter, idle_ms
from presence_agent.idle.base import IdleSourceError

WRAP = 1 << 32


class FakeTicks:
    """The two Win32 calls, answering from numbers the test sets; records the call order."""

    def __init__(self, now: int, last: int) -> None:
        self.now = now
        self.last = last
        self.calls: list[str] = []

    def last_input_tick(self) -> int:
        self.calls.append("GetLastInputInfo")
        return self.last

    def tick_count(self) -> int:
        self.calls.append("GetTickCount")
        return self.now


def test_idle_time_in_seconds() -> None:
    counter = LastInputCounter(FakeTicks(now=90_000, last=30_000))
    counter.open()
    assert counter.read() == 60.0


@pytest.mark.parametrize(
    ("now", "last", "expected_ms"),
    [
        pytest.param(5_000, WRAP - 10_000, 15_000, id="tick wrapped after the last input"),
        pytest.param(0, WRAP - 1, 1, id="wrapped one ms ago"),
        pytest.param(WRAP - 1, WRAP - 1, 0, id="input right now, just before the wrap"),
        pytest.param(2**31 + 5, 2**31 - 5, 10, id="past 24.8 days (a signed tick goes negative)"),
    ],
)
def test_the_32_bit_tick_wraps_every_49_7_days(now: int, last: int, expected_ms: int) -> None:
    assert idle_ms(now, last) == expected_ms


@given(last=st.integers(0, WRAP - 1), elapsed=st.integers(0, WRAP - 1))
def test_any_idle_time_under_49_7_days_survives_the_wrap(last: int, elapsed: int) -> None:
    assert idle_ms((last + elapsed) % WRAP, last) == elapsed


def test_last_input_is_read_before_the_tick() -> None:
    # The other order lets input land between the calls: last > now, and the
    # wrap arithmetic turns that into 49.7 days of idleness.
    ticks = FakeTicks(now=1_000, last=900)
    counter = LastInputCounter(ticks)
    counter.open()
    counter.read()
    assert ticks.calls == ["GetLastInputInfo", "GetTickCount"]


def test_the_source_is_named_and_polls_only_armed() -> None:
    source = _windows.source(FakeTicks(now=10_000, last=0))
    source.start(lambda: None)
    try:
        assert source.name == "windows"
        assert source.idle_seconds() == 10.0
        assert source.hooks() == ()
    finally:
        source.stop()


@pytest.mark.skipif(sys.platform == "win32", reason="checks the failure off Windows")
def test_off_windows_the_real_calls_fail_cleanly() -> None:
    source = _windows.source()
    with pytest.raises(IdleSourceError, match="only on Windows"):
        source.probe()
