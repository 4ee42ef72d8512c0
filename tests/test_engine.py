"""The engine on its own thread, with a fake clock, idle source and reporter.

Reporter events (Connected, Answered, ...) are posted by hand, as the
reporter thread would. The clock only moves when a test moves it; a posted
no-op :class:`Call` wakes the engine to look at the new time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from presence_agent.client import Agent
from presence_agent.engine import (
    WATCHDOG,
    Call,
    Engine,
    InputSeen,
    ManualChoice,
    Outcome,
    Pause,
    Resume,
    ScreenLock,
    ServerPush,
    Snapshot,
    Stop,
)
from presence_agent.policy import Desired, Now, PresencePolicy, Why
from presence_agent.reporter import Answered, Connected, Failed, SignedOut, Trouble
from presence_agent.vocab import Dialect, ServerStatus, Source, Status, statuses_for

WAIT = 3.0
AGENT = Agent(id=7, status_word="online", name="Ada Lovelace", email=None)
AVAILABLE = ServerStatus(Status.AVAILABLE)
OFFLINE = ServerStatus(Status.OFFLINE)
IDLE_AWAY = ServerStatus(Status.AWAY, by_idle=True)
MANUAL_AWAY = ServerStatus(Status.AWAY, by_idle=False)
GO_AWAY = Desired(Status.AWAY, Source.IDLE)
COME_BACK = Desired(Status.AVAILABLE, Source.IDLE)


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.002)


class FakeClock:
    def __init__(self) -> None:
        self.mono = 5000.0
        self.wall = 1_700_000_000.0
        self._lock = threading.Lock()

    def now(self) -> Now:
        with self._lock:
            return Now(self.mono, self.wall)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.mono += seconds
            self.wall += seconds


class FakeSource:
    name = "fake"

    def __init__(self) -> None:
        self.idle = 0.0
        self.armed = False
        self.reads = 0

    def start(self, on_activity: Callable[[], None]) -> None:
        pass

    def stop(self) -> None:
        pass

    def idle_seconds(self) -> float:
        self.reads += 1
        return self.idle

    def arm(self) -> None:
        self.armed = True

    def disarm(self) -> None:
        self.armed = False


class FakeReporter:
    def __init__(self) -> None:
        self.submitted: list[Desired] = []
        self.refreshes = 0

    def submit(self, desired: Desired) -> None:
        self.submitted.append(desired)

    def refresh(self) -> None:
        self.refreshes += 1


class Harness:
    def __init__(self, refresh_every: float | None = None) -> None:
        self.clock = FakeClock()
        self.source = FakeSource()
        self.reporter = FakeReporter()
        self.policy = PresencePolicy(300.0)
        self.engine = Engine(
            self.policy,
            self.source,
            self.reporter,
            clock=self.clock,  # type: ignore[arg-type]
            refresh_every=refresh_every,
        )
        self.snapshots: list[Snapshot] = []
        self.engine.subscribe(self.snapshots.append)
        self.thread = threading.Thread(target=self.engine.run, name="engine-under-test")
        self.thread.start()

    def post(self, event) -> None:
        self.engine.post(event)

    def sync(self) -> None:
        """Wait until the engine has handled everything posted so far."""
        done = threading.Event()
        self.post(Call(done.set))
        assert done.wait(WAIT)

    def wake(self) -> None:
        """Make the engine look at the clock (as its timer would)."""
        self.post(Call(lambda: None))

    def connect(self, server: ServerStatus = AVAILABLE, dialect=Dialect.LIBREDESK) -> None:
        self.post(Connected(AGENT, dialect, server))
        self.sync()

    def snap(self) -> Snapshot:
        return self.engine.snapshot()

    def stop(self) -> None:
        self.post(Stop())
        self.thread.join(WAIT)
        assert not self.thread.is_alive()


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = Harness()
    yield harness
    harness.stop()


@pytest.fixture
def documented() -> Iterator[Harness]:
    harness = Harness(refresh_every=60.0)
    yield harness
    harness.stop()


class Replies:
    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def __call__(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)


# -- start -------------------------------------------------------------------------------------


def test_before_connecting(h):
    h.sync()
    snap = h.snap()
    assert snap.connected is False
    assert snap.status is None
    assert snap.idle_source == "fake"
    assert snap.choices == statuses_for(Dialect.DOCUMENTED)
    # Input and idleness mean nothing until the server is known.
    h.source.idle = 10_000
    h.post(InputSeen())
    h.clock.advance(600)
    h.wake()
    h.sync()
    assert h.reporter.submitted == []


def test_start_on_offline_asks_available(h):
    h.connect(OFFLINE)
    assert h.reporter.submitted == [Desired(Status.AVAILABLE, Source.USER)]
    snap = h.snap()
    assert snap.connected is True
    assert snap.dialect is Dialect.LIBREDESK
    assert snap.choices == statuses_for(Dialect.LIBREDESK)
    assert (snap.agent_name, snap.agent_id) == ("Ada Lovelace", 7)
    assert snap.status is Status.OFFLINE
    assert snap.pending is Status.AVAILABLE

    h.post(Answered(Desired(Status.AVAILABLE, Source.USER), AVAILABLE))
    h.sync()
    snap = h.snap()
    assert (snap.status, snap.pending, snap.why) == (Status.AVAILABLE, None, Why.START)
    assert snap.since_wall == h.clock.wall


def test_start_on_available_asks_nothing(h):
    h.connect(AVAILABLE)
    assert h.reporter.submitted == []
    assert h.snap().status is Status.AVAILABLE


@pytest.mark.parametrize(
    ("dialect", "choices"),
    [
        (Dialect.LIBREDESK, (Status.AVAILABLE, Status.AWAY, Status.REASSIGNING, Status.OFFLINE)),
        (Dialect.DOCUMENTED, (Status.AVAILABLE, Status.BUSY, Status.AWAY, Status.OFFLINE)),
    ],
)
def test_snapshot_choices_follow_the_dialect(h, dialect, choices):
    h.connect(AVAILABLE, dialect)
    assert h.snap().choices == choices
    assert h.snap().dialect is dialect


def test_reconnect_reads_the_server_instead_of_starting_again(h):
    h.connect(AVAILABLE)
    h.post(SignedOut("bad key"))
    h.sync()
    h.connect(OFFLINE)  # swept offline while signed out: a status like any other
    assert h.reporter.submitted == []
    snap = h.snap()
    assert (snap.status, snap.why, snap.signed_out, snap.problem) == (
        Status.OFFLINE,
        Why.ELSEWHERE,
        False,
        None,
    )


# -- idleness ----------------------------------------------------------------------------------


def test_deadline_driven_away_and_input_brings_back(h):
    h.connect(AVAILABLE)
    h.clock.advance(299)
    h.source.idle = 299
    h.wake()
    h.sync()
    assert h.reporter.submitted == []

    h.clock.advance(1)
    h.source.idle = 300
    h.wake()  # the deadline has passed: the engine checks at once
    wait_until(lambda: h.reporter.submitted == [GO_AWAY])
    h.sync()
    assert h.source.armed is True  # the next input matters at once

    h.post(Answered(GO_AWAY, IDLE_AWAY))
    h.sync()
    snap = h.snap()
    assert (snap.status, snap.by_idle, snap.why) == (Status.AWAY, True, Why.IDLE)
    assert h.source.armed is True

    h.clock.advance(1200)
    h.source.idle = 0
    h.post(InputSeen())
    h.sync()
    assert h.reporter.submitted == [GO_AWAY, COME_BACK]
    assert h.source.armed is False
    h.post(Answered(COME_BACK, AVAILABLE))
    h.sync()
    assert h.snap().status is Status.AVAILABLE


def test_input_while_available_is_not_sent(h):
    h.connect(AVAILABLE)
    for _ in range(3):
        h.post(InputSeen())
    h.sync()
    assert h.reporter.submitted == []


def test_no_polling_while_nothing_is_due(h):
    h.connect(AVAILABLE)
    reads = h.source.reads
    time.sleep(0.3)  # the fake clock stands still: the next deadline is 300 s away
    assert h.source.reads == reads
    assert h.reporter.submitted == []


def test_watchdog_wakes_without_a_deadline(h):
    # Manual away: no idle deadline, but the engine still wakes every WATCHDOG
    # seconds (to notice a suspend); it does not go away or come back.
    h.connect(MANUAL_AWAY)
    h.clock.advance(WATCHDOG)
    h.source.idle = 10_000
    h.wake()
    h.sync()
    assert h.reporter.submitted == []


def test_screen_lock_is_away_at_once(h):
    h.connect(AVAILABLE)
    h.post(ScreenLock(locked=True))
    h.sync()
    assert h.reporter.submitted == [GO_AWAY]
    h.post(Answered(GO_AWAY, IDLE_AWAY))
    h.sync()
    assert h.snap().why is Why.LOCKED


def test_pause_holds_idle_away_and_resume_restarts_the_clock(h):
    h.connect(AVAILABLE)
    h.post(Pause(None))
    h.sync()
    snap = h.snap()
    assert snap.paused is True
    assert snap.paused_until_wall is None
    h.clock.advance(3600)
    h.source.idle = 3600
    h.wake()
    h.sync()
    assert h.reporter.submitted == []

    h.post(Resume())
    h.sync()
    assert h.snap().paused is False
    h.clock.advance(WATCHDOG)
    h.wake()
    h.sync()
    assert h.reporter.submitted == []  # not at once after a resume
    h.clock.advance(300 - WATCHDOG)
    h.wake()
    wait_until(lambda: h.reporter.submitted == [GO_AWAY])


def test_timed_pause_shows_its_end(h):
    h.connect(AVAILABLE)
    h.post(Pause(1800))
    h.sync()
    snap = h.snap()
    assert snap.paused is True
    assert snap.paused_until_wall == pytest.approx(h.clock.wall + 1800)
    h.clock.advance(1800)
    h.wake()
    h.sync()
    h.sync()
    assert h.snap().paused is False
    assert h.snap().paused_until_wall is None


# -- manual choices ----------------------------------------------------------------------------


def test_manual_choice_is_sent_and_answered(h):
    h.connect(AVAILABLE)
    replies = Replies()
    h.post(ManualChoice(Status.AWAY, replies))
    h.sync()
    desired = Desired(Status.AWAY, Source.USER)
    assert h.reporter.submitted == [desired]
    assert replies.outcomes == []  # only the server's answer settles it
    assert h.snap().pending is Status.AWAY
    h.post(Answered(desired, MANUAL_AWAY))
    h.sync()
    assert replies.outcomes == [Outcome(True, Status.AWAY, "now Away")]
    snap = h.snap()
    assert (snap.status, snap.by_idle, snap.why, snap.pending) == (
        Status.AWAY,
        False,
        Why.MANUAL,
        None,
    )
    # Idleness and input leave it alone.
    h.clock.advance(3600)
    h.source.idle = 3600
    h.wake()
    h.post(InputSeen())
    h.sync()
    assert h.reporter.submitted == [desired]


def test_manual_choice_answered_with_something_else(h):
    h.connect(AVAILABLE)
    replies = Replies()
    h.post(ManualChoice(Status.AVAILABLE, replies))
    h.sync()
    h.post(Answered(Desired(Status.AVAILABLE, Source.USER), OFFLINE))
    h.sync()
    (outcome,) = replies.outcomes
    assert outcome.ok is True
    assert outcome.status is Status.OFFLINE
    assert outcome.message == "asked for Available, but the server keeps Offline"
    assert h.snap().status is Status.OFFLINE


def test_manual_choice_that_fails(h):
    h.connect(AVAILABLE)
    replies = Replies()
    h.post(ManualChoice(Status.OFFLINE, replies))
    h.sync()
    h.post(Failed(Desired(Status.OFFLINE, Source.USER), "the server rejected the request"))
    h.sync()
    assert replies.outcomes == [Outcome(False, Status.AVAILABLE, "the server rejected the request")]
    assert h.snap().pending is None


def test_manual_choice_before_connecting_is_refused(h):
    replies = Replies()
    h.post(ManualChoice(Status.AWAY, replies))
    h.sync()
    assert replies.outcomes == [Outcome(False, None, "not connected to the server yet")]
    assert h.reporter.submitted == []


def test_busy_is_refused_on_real_libredesk(h):
    h.connect(AVAILABLE, Dialect.LIBREDESK)
    replies = Replies()
    h.post(ManualChoice(Status.BUSY, replies))
    h.sync()
    (outcome,) = replies.outcomes
    assert outcome.ok is False
    assert "'Busy'" in outcome.message
    assert h.reporter.submitted == []


def test_busy_is_sent_on_the_documented_server(documented):
    documented.connect(AVAILABLE, Dialect.DOCUMENTED)
    documented.post(ManualChoice(Status.BUSY))
    documented.sync()
    assert documented.reporter.submitted == [Desired(Status.BUSY, Source.USER)]


def test_signed_out(h):
    h.connect(AVAILABLE)
    h.post(SignedOut("the server refused the API key or secret (401)"))
    h.sync()
    snap = h.snap()
    assert (snap.connected, snap.signed_out) == (False, True)
    assert snap.problem == "the server refused the API key or secret (401)"
    replies = Replies()
    h.post(ManualChoice(Status.AWAY, replies))
    h.post(ScreenLock(locked=True))
    h.sync()
    assert replies.outcomes == [
        Outcome(False, Status.AVAILABLE, "the server refused the API key or secret (401)")
    ]
    assert h.reporter.submitted == []


def test_trouble_is_shown_and_cleared(h):
    h.connect(AVAILABLE)
    h.post(Trouble("cannot connect to https://desk.example.com"))
    h.sync()
    assert h.snap().problem == "cannot connect to https://desk.example.com"
    h.post(Trouble(None))
    h.sync()
    assert h.snap().problem is None


# -- the server's word -------------------------------------------------------------------------


def test_push_from_elsewhere_is_respected(h):
    h.connect(AVAILABLE)
    h.post(ServerPush(MANUAL_AWAY))
    h.sync()
    snap = h.snap()
    assert (snap.status, snap.by_idle, snap.why) == (Status.AWAY, False, Why.ELSEWHERE)
    assert h.source.armed is False
    h.clock.advance(3600)
    h.source.idle = 3600
    h.wake()
    h.post(InputSeen())
    h.sync()
    assert h.reporter.submitted == []


def test_pushed_idle_away_is_undone_by_input(h):
    # The web app's own idle detection set "away"; the person is at this desk.
    h.connect(AVAILABLE)
    h.post(ServerPush(IDLE_AWAY))
    h.sync()
    assert h.source.armed is True
    h.post(InputSeen())
    h.sync()
    assert h.reporter.submitted == [COME_BACK]


def test_documented_server_is_polled_and_read_on_return(documented):
    documented.connect(AVAILABLE, Dialect.DOCUMENTED)
    assert documented.reporter.refreshes == 0
    documented.clock.advance(60)
    documented.wake()
    wait_until(lambda: documented.reporter.refreshes == 1)
    # Back from an idle away: the server is read again.
    documented.post(ServerPush(ServerStatus(Status.AWAY, by_idle=True)))
    documented.sync()
    before = documented.reporter.refreshes
    documented.post(InputSeen())
    documented.sync()
    assert documented.reporter.submitted == [COME_BACK]
    assert documented.reporter.refreshes == before + 1


# -- snapshots ---------------------------------------------------------------------------------


def test_listeners_get_each_new_snapshot_once(h):
    h.connect(AVAILABLE)
    count = len(h.snapshots)
    assert count >= 1
    assert h.snapshots[-1] == h.snap()
    for _ in range(3):
        h.post(InputSeen())
    h.sync()
    assert len(h.snapshots) == count  # nothing changed, nothing published
    h.post(ServerPush(OFFLINE))
    h.sync()
    assert len(h.snapshots) == count + 1
    assert h.snapshots[-1].status is Status.OFFLINE


def test_a_failing_listener_does_not_stop_the_engine(h):
    def broken(snap: Snapshot) -> None:
        raise RuntimeError("tray bug")

    h.engine.subscribe(broken)
    h.connect(OFFLINE)
    assert h.reporter.submitted == [Desired(Status.AVAILABLE, Source.USER)]
    assert h.thread.is_alive()
