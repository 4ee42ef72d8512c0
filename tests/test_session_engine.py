"""Lock, sleep and inhibitors through the real engine and policy, on an injected clock.

The engine runs on its own thread as in the app; the clock, the idle source
and the reporter are small fakes. The reporter answers every request the way
a server that accepts it would, so the policy sees real answers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from presence_agent.client import Agent
from presence_agent.engine import (
    Call,
    Engine,
    IdleInhibit,
    InputSeen,
    ManualChoice,
    ScreenLock,
    Suspend,
)
from presence_agent.policy import Desired, Now, PresencePolicy, Why
from presence_agent.reporter import Answered, Connected
from presence_agent.session._bridge import EngineBridge
from presence_agent.vocab import Dialect, ServerStatus, Source, Status
from tests.fakes import WALL, Clock, FakeSource

AWAY_AFTER = 60.0
GO_AWAY = Desired(Status.AWAY, Source.IDLE)
COME_BACK = Desired(Status.AVAILABLE, Source.IDLE)


class Reporter:
    """Accepts every request, answering as the real server would (any thread)."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.sent: list[Desired] = []
        self.refreshes = 0
        self.reconnects = 0
        self.hold = False  # keep requests unanswered (a slow server)
        self.cond = threading.Condition()

    def submit(self, desired: Desired) -> None:
        with self.cond:
            self.sent.append(desired)
            self.cond.notify_all()
        if not self.hold:
            self.answer(desired)

    def answer(self, desired: Desired) -> None:
        assert self.engine is not None
        by_idle = desired.status is Status.AWAY and desired.source is Source.IDLE
        self.engine.post(Answered(desired, ServerStatus(desired.status, by_idle=by_idle)))

    def refresh(self) -> None:
        self.refreshes += 1

    def reconnect(self) -> None:
        self.reconnects += 1

    def wait_sent(self, count: int, timeout: float = 5.0) -> list[Desired]:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.sent) >= count, timeout):
                raise AssertionError(f"expected {count} requests, got {self.sent}")
            return list(self.sent)


class Keepalive:
    def __init__(self) -> None:
        self.reconnects = 0

    def reconnect(self) -> None:
        self.reconnects += 1


class Harness:
    def __init__(self) -> None:
        self.clock = Clock()
        self.source = FakeSource(self.clock)
        self.reporter = Reporter()
        self.policy = PresencePolicy(AWAY_AFTER)
        self.engine = Engine(self.policy, self.source, self.reporter, clock=self.clock)
        self.reporter.engine = self.engine
        self.thread = threading.Thread(target=self.engine.run, name="engine", daemon=True)

    def start(self, server: ServerStatus) -> None:
        self.thread.start()
        agent = Agent(7, "online", "Ada", None)
        self.engine.post(Connected(agent, Dialect.LIBREDESK, server))
        self.settle()

    def settle(self) -> None:
        """Wait until the engine has handled everything posted so far."""
        done = threading.Event()
        self.engine.post(Call(done.set))
        assert done.wait(5)

    def poke(self) -> None:
        """Wake the engine so it re-reads the (moved) clock and ticks if a deadline passed."""
        self.engine.post(Call(lambda: None))

    def input(self) -> None:
        self.source.last_input = self.clock.now().mono
        self.engine.post(InputSeen())

    def status(self) -> tuple[Status | None, bool]:
        snap = self.engine.snapshot()
        return snap.status, snap.by_idle

    def wait_status(self, status: Status, by_idle: bool, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self.status() != (status, by_idle):
            if time.monotonic() > deadline:
                raise AssertionError(f"still {self.status()}, wanted {(status, by_idle)}")
            time.sleep(0.005)

    def go_idle_away(self) -> None:
        self.clock.advance(AWAY_AFTER + 1)
        self.poke()
        self.wait_status(Status.AWAY, by_idle=True)


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = Harness()
    harness.start(ServerStatus(Status.AVAILABLE, by_idle=False))
    yield harness
    from presence_agent.engine import Stop

    harness.engine.post(Stop())
    harness.thread.join(5)


# -- suspend and resume ----------------------------------------------------------------


def test_a_clock_jump_on_wake_means_away_not_available(h: Harness) -> None:
    # Asleep an hour, with no warning from the OS (the monotonic clock stood still).
    h.clock.sleep(3600)
    # The engine's next wake (its deadline here; the 15 s watchdog at the
    # latest) reads an idle counter that left the sleep out and saw the key
    # that woke the machine: 1 s. The clock jump says otherwise.
    h.clock.advance(AWAY_AFTER)
    h.source.last_input = h.clock.now().mono - 1
    h.poke()
    h.wait_status(Status.AWAY, by_idle=True)
    assert h.reporter.sent == [GO_AWAY]
    assert h.engine.snapshot().why is Why.SLEEP
    assert h.source.armed
    # And the first input after waking brings Available back.
    h.input()
    h.wait_status(Status.AVAILABLE, by_idle=False)
    assert h.reporter.sent == [GO_AWAY, COME_BACK]


def test_input_stamped_across_a_sleep_is_not_presence(h: Harness) -> None:
    h.go_idle_away()
    h.settle()
    h.clock.sleep(7200)
    # Input delivered right after wake, say the key that woke the machine: the
    # reading spans the sleep, so it cannot say the person is back now.
    h.engine.post(InputSeen())
    h.settle()
    assert h.status() == (Status.AWAY, True)
    assert h.reporter.sent == [GO_AWAY]


def test_warned_sleep_sends_away_before_and_reconnects_after(h: Harness) -> None:
    keepalive = Keepalive()
    bridge = EngineBridge(h.engine, h.reporter, keepalive, sleep_grace=5.0)
    h.engine.subscribe(bridge.on_snapshot)
    h.reporter.hold = True  # answer by hand: sleeping() must wait for the answer
    done = threading.Event()
    threading.Thread(target=lambda: (bridge.sleeping(), done.set()), daemon=True).start()
    assert h.reporter.wait_sent(1) == [GO_AWAY]
    assert not done.wait(0.2)
    h.reporter.answer(GO_AWAY)
    assert done.wait(5)
    assert h.engine.snapshot().why is Why.SLEEP
    h.clock.sleep(3600)
    refreshes = h.reporter.refreshes
    bridge.woke()
    h.settle()
    assert h.reporter.reconnects == 1
    assert keepalive.reconnects == 1
    assert h.reporter.refreshes == refreshes + 1  # the engine re-reads the server's status
    assert h.status() == (Status.AWAY, True)
    assert h.reporter.sent == [GO_AWAY]  # the away is not repeated


def test_sleeping_is_bounded_when_the_server_never_answers(h: Harness) -> None:
    bridge = EngineBridge(h.engine, h.reporter, sleep_grace=0.3)
    h.engine.subscribe(bridge.on_snapshot)
    h.reporter.hold = True
    started = time.monotonic()
    bridge.sleeping()
    assert 0.25 <= time.monotonic() - started < 2.0


def test_a_wake_without_warning_sends_the_away_it_missed(h: Harness) -> None:
    bridge = EngineBridge(h.engine, h.reporter)
    h.clock.sleep(3600)
    bridge.woke()
    h.wait_status(Status.AWAY, by_idle=True)
    assert h.reporter.sent == [GO_AWAY]
    assert h.reporter.reconnects == 1


def test_sleep_leaves_a_manual_status_alone(h: Harness) -> None:
    h.engine.post(ManualChoice(Status.REASSIGNING))
    h.wait_status(Status.REASSIGNING, by_idle=False)
    bridge = EngineBridge(h.engine, h.reporter, sleep_grace=1.0)
    h.engine.subscribe(bridge.on_snapshot)
    bridge.sleeping()
    h.clock.sleep(3600)
    bridge.woke()
    h.clock.advance(15)
    h.poke()
    h.settle()
    assert h.status() == (Status.REASSIGNING, False)
    assert [d.status for d in h.reporter.sent] == [Status.REASSIGNING]


# -- screen lock -----------------------------------------------------------------------


def test_lock_is_idle_away_and_only_input_after_unlock_brings_it_back(h: Harness) -> None:
    h.engine.post(ScreenLock(True))
    h.wait_status(Status.AWAY, by_idle=True)
    assert h.engine.snapshot().why is Why.LOCKED
    h.settle()
    # Typing the password is input, but not being back: the source is not even armed.
    assert not h.source.armed
    h.input()
    h.settle()
    assert h.status() == (Status.AWAY, True)
    h.engine.post(ScreenLock(False))
    h.settle()
    assert h.status() == (Status.AWAY, True)  # unlocked, but no input yet
    assert h.source.armed
    h.input()
    h.wait_status(Status.AVAILABLE, by_idle=False)
    assert h.reporter.sent == [GO_AWAY, COME_BACK]


@pytest.mark.parametrize("manual", [Status.AWAY, Status.REASSIGNING])
def test_a_manual_status_is_untouched_by_lock_and_unlock(h: Harness, manual: Status) -> None:
    h.engine.post(ManualChoice(manual))
    h.wait_status(manual, by_idle=False)
    h.engine.post(ScreenLock(True))
    h.engine.post(ScreenLock(False))
    h.input()
    h.settle()
    assert h.status() == (manual, False)
    assert [d.status for d in h.reporter.sent] == [manual]


def test_locking_while_already_idle_away_sends_nothing_more(h: Harness) -> None:
    h.go_idle_away()
    h.engine.post(ScreenLock(True))
    h.settle()
    assert not h.source.armed
    assert h.reporter.sent == [GO_AWAY]


# -- idle inhibitors -------------------------------------------------------------------


def test_an_inhibitor_holds_off_the_idle_away(h: Harness) -> None:
    h.engine.post(IdleInhibit(True))
    h.clock.advance(AWAY_AFTER * 10)
    h.poke()
    h.settle()
    assert h.status() == (Status.AVAILABLE, False)
    assert h.reporter.sent == []
    assert h.policy.next_deadline(h.clock.now()) is None  # and no busy wake-ups meanwhile
    # When the call ends the idle clock starts afresh, as after a resume.
    h.engine.post(IdleInhibit(False))
    h.settle()
    h.clock.advance(AWAY_AFTER - 1)
    h.poke()
    h.settle()
    assert h.reporter.sent == []
    h.clock.advance(2)
    h.poke()
    h.wait_status(Status.AWAY, by_idle=True)


def test_an_inhibitor_does_not_hide_a_lock_or_a_sleep(h: Harness) -> None:
    h.engine.post(IdleInhibit(True))
    h.engine.post(ScreenLock(True))
    h.wait_status(Status.AWAY, by_idle=True)
    h.engine.post(ScreenLock(False))
    h.input()
    h.wait_status(Status.AVAILABLE, by_idle=False)
    h.engine.post(Suspend(before=True))
    h.wait_status(Status.AWAY, by_idle=True)


def test_an_inhibitor_leaves_the_person_s_own_pause_alone() -> None:
    policy = PresencePolicy(AWAY_AFTER)
    now = Now(0.0, WALL)
    policy.start(now, ServerStatus(Status.AVAILABLE, by_idle=False))
    policy.pause(now, None)
    policy.inhibit(now, True)
    policy.inhibit(now, False)
    assert policy.paused(Now(10_000.0, WALL + 10_000))
    later = Now(10_000.0, WALL + 10_000)
    assert policy.idle_check(later, 10_000.0) is None


# -- the bridge ------------------------------------------------------------------------


class PostLog:
    """An engine that only records posts."""

    def __init__(self) -> None:
        self.posted: list[object] = []

    def post(self, event: object) -> None:
        self.posted.append(event)

    def snapshot(self) -> object:
        raise AssertionError("not needed")


def test_the_bridge_reports_each_lock_change_once() -> None:
    engine = PostLog()
    bridge = EngineBridge(engine, Reporter())  # type: ignore[arg-type]
    for locked in (True, True, False, False, True):
        bridge.locked(locked)
    assert engine.posted == [ScreenLock(True), ScreenLock(False), ScreenLock(True)]


def test_lock_means_away_false_ignores_the_lock() -> None:
    engine = PostLog()
    bridge = EngineBridge(engine, Reporter(), lock_means_away=False)  # type: ignore[arg-type]
    bridge.locked(True)
    assert engine.posted == []


def test_inhibited_while_any_holder_holds() -> None:
    engine = PostLog()
    bridge = EngineBridge(engine, Reporter())  # type: ignore[arg-type]
    bridge.inhibited("gnome", False)
    bridge.inhibited("gnome", True)
    bridge.inhibited("logind", True)
    bridge.inhibited("gnome", False)
    bridge.inhibited("logind", False)
    # Posted on every change of what holds it (the tray names the holder), once per state.
    assert engine.posted == [
        IdleInhibit(True, "an app holds idle off (GNOME)"),
        IdleInhibit(True, "an app holds idle off (systemd-inhibit)"),
        IdleInhibit(False, ""),
    ]
