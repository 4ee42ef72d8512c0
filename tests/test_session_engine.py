"""Lock, sleep and inhibitors through the real engine and policy, in virtual time.

The engine is stepped on the test's thread (tests/fakes.py's EngineHarness); the
clock, the idle source and the reporter are small fakes. The reporter answers
every request the way a server that accepts it would, so the policy sees real
answers.
"""

from __future__ import annotations

import threading
import time

import pytest

from presence_agent.events import (
    Desired,
    IdleInhibit,
    InputSeen,
    ManualChoice,
    Now,
    Reconnect,
    Refreshed,
    ScreenLock,
    Suspend,
    Why,
)
from presence_agent.policy import PresencePolicy
from presence_agent.session._bridge import EngineBridge
from presence_agent.vocab import ServerStatus, Source, Status
from tests.fakes import WALL, EngineHarness

AWAY_AFTER = 60.0
GO_AWAY = Desired(Status.AWAY, Source.IDLE)
COME_BACK = Desired(Status.AVAILABLE, Source.IDLE)


class Harness(EngineHarness):
    def go_idle_away(self) -> None:
        self.advance(AWAY_AFTER + 1)
        assert self.status() == (Status.AWAY, True)


@pytest.fixture
def h() -> Harness:
    harness = Harness(AWAY_AFTER, answering=True)
    harness.connect(ServerStatus(Status.AVAILABLE, by_idle=False))
    return harness


# -- suspend and resume ----------------------------------------------------------------


def test_a_clock_jump_on_wake_means_away_not_available(h: Harness) -> None:
    # Asleep an hour, with no warning from the OS (the monotonic clock stood still).
    h.clock.sleep(3600)
    # The engine's next wake (its deadline here; the 15 s watchdog at the
    # latest) reads an idle counter that left the sleep out and saw the key
    # that woke the machine: 1 s. The clock jump says otherwise.
    h.clock.advance(AWAY_AFTER)
    h.source.last_input = h.clock.now().mono - 1
    h.tick()
    assert h.status() == (Status.AWAY, True)
    assert h.reporter.sent == [GO_AWAY]
    assert h.snap().why is Why.SLEEP
    assert h.source.armed
    # And the first input after waking brings Available back.
    h.input()
    assert h.status() == (Status.AVAILABLE, False)
    assert h.reporter.sent == [GO_AWAY, COME_BACK]


def test_a_suspend_first_seen_by_a_server_answer_still_means_away(h: Harness) -> None:
    # An hour asleep. On waking, the first thing the engine hears is the server (the /ws
    # reconnect's re-read), which still says available: that is no sign of the person.
    h.clock.sleep(3600)
    h.post(Refreshed(ServerStatus(Status.AVAILABLE, by_idle=False)))
    # Then the key that woke the machine, one second ago by the idle counter.
    h.clock.advance(1)
    h.source.last_input = h.clock.now().mono - 1
    h.post(InputSeen())
    snap = h.snap()
    assert (snap.status, snap.by_idle, snap.why) == (Status.AWAY, True, Why.SLEEP)
    assert h.reporter.sent == [GO_AWAY], "away (idle) on the jump, and nothing else"
    assert h.source.armed, "the next input must bring the person back"
    # Time passes with no input: nothing more is reported (no 'available' for the sleep).
    h.advance(AWAY_AFTER * 3)
    assert h.reporter.sent == [GO_AWAY]
    h.input()  # real input now: back
    assert h.reporter.sent == [GO_AWAY, COME_BACK]


def test_input_stamped_across_a_sleep_is_not_presence(h: Harness) -> None:
    h.go_idle_away()
    h.clock.sleep(7200)
    # Input delivered right after wake, say the key that woke the machine: the
    # reading spans the sleep, so it cannot say the person is back now.
    h.post(InputSeen())
    assert h.status() == (Status.AWAY, True)
    assert h.reporter.sent == [GO_AWAY]


def test_warned_sleep_sends_away_before_and_reconnects_after(h: Harness) -> None:
    bridge = EngineBridge(h, sleep_grace=30.0)
    h.subscribe(bridge.on_snapshot)
    h.reporter.answering = False  # answer by hand: sleeping() must wait for the answer
    sent = threading.Event()
    h.subscribe(lambda snap: sent.set() if snap.pending is Status.AWAY else None)
    done = threading.Event()

    def sleep() -> None:
        bridge.sleeping()
        done.set()

    threading.Thread(target=sleep, daemon=True).start()
    assert sent.wait(10)
    assert h.reporter.sent == [GO_AWAY]
    assert not done.is_set()  # the away is not answered yet
    h.reporter.answer(GO_AWAY)
    assert done.wait(10)
    assert h.snap().why is Why.SLEEP
    h.clock.sleep(3600)
    bridge.woke()
    # The engine opens the connection (which re-reads the status) and the socket afresh.
    assert h.reporter.reconnects == 1
    assert h.keepalive.reopens == 1
    assert h.status() == (Status.AWAY, True)
    assert h.reporter.sent == [GO_AWAY]  # the away is not repeated


def test_sleeping_is_bounded_when_the_server_never_answers(h: Harness) -> None:
    # Real time here: the bridge holds the OS's sleep for at most its grace.
    bridge = EngineBridge(h, sleep_grace=0.05, clock=time.monotonic)
    h.subscribe(bridge.on_snapshot)
    h.reporter.answering = False
    bridge.sleeping()
    assert h.reporter.sent == [GO_AWAY]
    assert h.snap().pending is Status.AWAY  # still on its way, and sleeping() returned


def test_a_wake_without_warning_sends_the_away_it_missed(h: Harness) -> None:
    bridge = EngineBridge(h)
    h.clock.sleep(3600)
    bridge.woke()
    assert h.status() == (Status.AWAY, True)
    assert h.reporter.sent == [GO_AWAY]
    assert h.reporter.inputs.count(Reconnect()) == 1


def test_sleep_leaves_a_manual_status_alone(h: Harness) -> None:
    h.post(ManualChoice(Status.REASSIGNING))
    assert h.status() == (Status.REASSIGNING, False)
    bridge = EngineBridge(h, sleep_grace=1.0)
    h.subscribe(bridge.on_snapshot)
    bridge.sleeping()
    h.clock.sleep(3600)
    bridge.woke()
    h.clock.advance(15)
    h.tick()
    assert h.status() == (Status.REASSIGNING, False)
    assert [d.status for d in h.reporter.sent] == [Status.REASSIGNING]


# -- screen lock -----------------------------------------------------------------------


def test_lock_is_idle_away_and_only_input_after_unlock_brings_it_back(h: Harness) -> None:
    h.post(ScreenLock(True))
    assert h.status() == (Status.AWAY, True)
    assert h.snap().why is Why.LOCKED
    # Typing the password is input, but not being back: the source is not even armed.
    assert not h.source.armed
    h.input()
    assert h.status() == (Status.AWAY, True)
    h.post(ScreenLock(False))
    assert h.status() == (Status.AWAY, True)  # unlocked, but no input yet
    assert h.source.armed
    h.input()
    assert h.status() == (Status.AVAILABLE, False)
    assert h.reporter.sent == [GO_AWAY, COME_BACK]


@pytest.mark.parametrize("manual", [Status.AWAY, Status.REASSIGNING])
def test_a_manual_status_is_untouched_by_lock_and_unlock(h: Harness, manual: Status) -> None:
    h.post(ManualChoice(manual))
    assert h.status() == (manual, False)
    h.post(ScreenLock(True))
    h.post(ScreenLock(False))
    h.input()
    assert h.status() == (manual, False)
    assert [d.status for d in h.reporter.sent] == [manual]


def test_locking_while_already_idle_away_sends_nothing_more(h: Harness) -> None:
    h.go_idle_away()
    h.post(ScreenLock(True))
    assert not h.source.armed
    assert h.reporter.sent == [GO_AWAY]


# -- idle inhibitors -------------------------------------------------------------------


def test_an_inhibitor_holds_off_the_idle_away(h: Harness) -> None:
    h.post(IdleInhibit(True))
    h.clock.advance(AWAY_AFTER * 10)
    h.tick()
    assert h.status() == (Status.AVAILABLE, False)
    assert h.reporter.sent == []
    assert h.policy.next_wake(h.clock.now()) is None  # and no busy wake-ups meanwhile
    # When the call ends the idle clock starts afresh, as after a resume.
    h.post(IdleInhibit(False))
    h.clock.advance(AWAY_AFTER - 1)
    h.tick()
    assert h.reporter.sent == []
    h.clock.advance(2)
    h.tick()
    assert h.status() == (Status.AWAY, True)


def test_an_inhibitor_does_not_hide_a_lock_or_a_sleep(h: Harness) -> None:
    h.post(IdleInhibit(True))
    h.post(ScreenLock(True))
    assert h.status() == (Status.AWAY, True)
    h.post(ScreenLock(False))
    h.input()
    assert h.status() == (Status.AVAILABLE, False)
    h.post(Suspend(before=True))
    assert h.status() == (Status.AWAY, True)


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
    bridge = EngineBridge(engine)  # type: ignore[arg-type]
    for locked in (True, True, False, False, True):
        bridge.locked(locked)
    assert engine.posted == [ScreenLock(True), ScreenLock(False), ScreenLock(True)]


def test_lock_means_away_false_ignores_the_lock() -> None:
    engine = PostLog()
    bridge = EngineBridge(engine, lock_means_away=False)  # type: ignore[arg-type]
    bridge.locked(True)
    assert engine.posted == []


def test_inhibited_while_any_holder_holds() -> None:
    engine = PostLog()
    bridge = EngineBridge(engine)  # type: ignore[arg-type]
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
