"""The shared native source: one read at the deadline, a short poll only while armed."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from presence_agent.idle._native import NativeSource
from presence_agent.idle.base import IdleSourceError

INTERVAL = 0.01


class FakeCounter:
    """An OS idle counter the test moves by hand. Any thread may set ``value``."""

    what = "fake idle time"

    def __init__(self, value: float = 0.0) -> None:
        self.value = value
        self.reads = 0
        self.opened = 0
        self.closed = 0
        self.fail_open: IdleSourceError | None = None
        self.fail_read: Exception | None = None
        self.lock = threading.Lock()

    def open(self) -> None:
        if self.fail_open is not None:
            raise self.fail_open
        self.opened += 1

    def read(self) -> float:
        with self.lock:
            self.reads += 1
            if self.fail_read is not None:
                raise self.fail_read
            return self.value

    def close(self) -> None:
        self.closed += 1

    def set(self, value: float) -> None:
        with self.lock:
            self.value = value


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Activity:
    """``on_activity`` that counts, and lets a test wait for a count."""

    def __init__(self) -> None:
        self.calls = 0
        self.cond = threading.Condition()

    def __call__(self) -> None:
        with self.cond:
            self.calls += 1
            self.cond.notify_all()

    def wait(self, count: int, timeout: float = 5.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.calls >= count, timeout)


def poll_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("idle-poll-")]


@pytest.fixture
def counter() -> FakeCounter:
    return FakeCounter(10.0)


@pytest.fixture
def source(counter: FakeCounter):
    src = NativeSource("fake", counter, interval=INTERVAL)
    yield src
    src.stop()


def test_reads_the_counter_once_per_question_and_starts_no_thread(
    source: NativeSource, counter: FakeCounter
) -> None:
    before = poll_threads()
    source.start(Activity())
    counter.set(42.5)
    assert source.idle_seconds() == 42.5
    assert counter.reads == 1
    assert source.hooks() == ()
    assert poll_threads() == before


def test_armed_it_polls_and_reports_the_first_input_once(
    source: NativeSource, counter: FakeCounter
) -> None:
    activity = Activity()
    source.start(activity)
    source.arm()
    assert source.hooks() == ("poll fake idle time every 10 ms",)
    # The counter grows while nobody is there: that is not input.
    for value in (10.5, 11.0, 11.5):
        counter.set(value)
        time.sleep(INTERVAL * 3)
    assert activity.calls == 0
    counter.set(0.01)  # the counter went down: input
    assert activity.wait(1)
    # Reported once, and the source disarmed itself (the engine re-arms when away again).
    assert source.hooks() == ()
    counter.set(0.0)
    time.sleep(INTERVAL * 5)
    assert activity.calls == 1


def test_disarmed_it_stops_reading(source: NativeSource, counter: FakeCounter) -> None:
    source.start(Activity())
    source.arm()
    deadline = time.monotonic() + 5
    while counter.reads < 3 and time.monotonic() < deadline:
        time.sleep(INTERVAL)
    source.disarm()
    time.sleep(INTERVAL * 3)  # let a poll in flight finish
    reads = counter.reads
    time.sleep(INTERVAL * 10)
    assert counter.reads == reads
    assert source.hooks() == ()


def test_arming_twice_keeps_the_first_baseline(source: NativeSource, counter: FakeCounter) -> None:
    activity = Activity()
    source.start(activity)
    source.arm()
    counter.set(5.0)  # input since the baseline of 10 s...
    source.arm()  # ...must not be swallowed by a second arm (the engine arms after every event)
    assert activity.wait(1)


def test_an_unreadable_counter_lets_idle_time_run_on(
    counter: FakeCounter, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    source = NativeSource("fake", counter, clock=clock, interval=INTERVAL)
    source.start(Activity())
    assert source.idle_seconds() == 10.0
    counter.fail_read = OSError("display gone")
    clock.now += 30
    with caplog.at_level(logging.WARNING):
        assert source.idle_seconds() == 40.0
        clock.now += 5
        assert source.idle_seconds() == 45.0
    assert [r.getMessage() for r in caplog.records].count(
        "cannot read the fake idle time: display gone"
    ) == 1
    counter.fail_read = None
    assert source.idle_seconds() == 10.0
    source.stop()


def test_a_library_error_never_escapes(counter: FakeCounter) -> None:
    class XlibLikeError(Exception):
        pass

    source = NativeSource("fake", counter, interval=INTERVAL)
    source.start(Activity())
    counter.fail_read = XlibLikeError("connection closed")
    assert source.idle_seconds() == 0.0  # no good reading yet: "just now"
    source.arm()  # must not raise either
    source.stop()


def test_probe_opens_reads_and_closes(counter: FakeCounter) -> None:
    source = NativeSource("fake", counter)
    source.probe()
    assert (counter.opened, counter.reads, counter.closed) == (1, 1, 1)
    counter.fail_open = IdleSourceError("no extension")
    with pytest.raises(IdleSourceError, match="no extension"):
        source.probe()
    counter.fail_open = None
    counter.fail_read = OSError("refused")
    with pytest.raises(IdleSourceError, match="fake idle time: refused"):
        source.probe()
    assert counter.closed == 3


def test_stop_is_idempotent_and_ends_the_poll_thread(counter: FakeCounter) -> None:
    source = NativeSource("fake", counter, interval=INTERVAL)
    source.stop()  # before start
    source.start(Activity())
    source.arm()
    assert any(t.name == "idle-poll-fake" for t in poll_threads())
    source.stop()
    source.stop()
    assert not any(t.name == "idle-poll-fake" for t in poll_threads())
    assert counter.closed >= 1
    source.arm()  # after stop: nothing happens
    assert source.hooks() == ()
