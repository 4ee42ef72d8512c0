"""The engine in virtual time: the real engine and policy on the test's thread, with a fake
clock, idle source and reporter inbox (tests/fakes.py).

Reporter events (Connected, Answered, ...) are posted by hand, as the reporter
thread would. Each post is handled at once; the clock only moves when a test
moves it, and the engine's timer fires exactly when ``wake_at`` says.
"""

from __future__ import annotations

import pytest

from presence_agent.events import (
    Answered,
    Connected,
    Desired,
    Failed,
    InputSeen,
    Intent,
    ManualChoice,
    Outcome,
    Pause,
    PushLive,
    Resume,
    Resync,
    ScreenLock,
    ServerPush,
    SignedOut,
    SignInChanged,
    Snapshot,
    Submit,
    Suspend,
    Trouble,
    WorkerFailed,
)
from presence_agent.policy import Why
from presence_agent.vocab import Dialect, ServerStatus, Source, Status, statuses_for
from tests.fakes import AGENT, EngineHarness

AVAILABLE = ServerStatus(Status.AVAILABLE)
OFFLINE = ServerStatus(Status.OFFLINE)
IDLE_AWAY = ServerStatus(Status.AWAY, by_idle=True)
MANUAL_AWAY = ServerStatus(Status.AWAY, by_idle=False)
GO_AWAY = Desired(Status.AWAY, Source.IDLE)
COME_BACK = Desired(Status.AVAILABLE, Source.IDLE)
START = Desired(Status.AVAILABLE, Source.USER)


@pytest.fixture
def h() -> EngineHarness:
    return EngineHarness()


class Replies:
    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def __call__(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)


# -- start -------------------------------------------------------------------------------------


def test_before_connecting(h):
    snap = h.snap()
    assert snap.connected is False
    assert snap.status is None
    assert snap.idle_source == "fake"
    assert snap.choices == statuses_for(Dialect.DOCUMENTED)
    # Input and idleness mean nothing until the server is known.
    h.source.idle = 10_000
    h.post(InputSeen())
    h.clock.advance(600)
    h.tick()
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
    h.source.idle = 400  # the person has gone: a swept offline waits for their input
    h.connect(OFFLINE)  # swept offline while signed out: a status like any other
    assert h.reporter.submitted == []
    snap = h.snap()
    assert (snap.status, snap.why, snap.signed_out, snap.problem) == (
        Status.OFFLINE,
        Why.ELSEWHERE,
        False,
        None,
    )


def test_a_reconnect_that_finds_a_sweep_while_the_person_works_puts_online_first(h):
    h.connect(AVAILABLE)
    h.post(SignedOut("bad key"))
    h.connect(OFFLINE)  # the person kept working: the real server's sweep is undone
    assert h.reporter.submitted == [Desired(Status.AVAILABLE, Source.IDLE)]
    assert not h.keepalive.intent.may_ping  # PUT first: a ping would flip it silently


# -- idleness ----------------------------------------------------------------------------------


def test_deadline_driven_away_and_input_brings_back(h):
    h.connect(AVAILABLE)
    h.clock.advance(299)
    h.source.idle = 299
    h.tick()
    assert h.reporter.submitted == []

    h.clock.advance(1)
    h.source.idle = 300
    h.tick()  # the deadline has passed: the engine checks at once
    assert h.reporter.submitted == [GO_AWAY]
    assert h.source.armed is True  # the next input matters at once

    h.post(Answered(GO_AWAY, IDLE_AWAY))
    snap = h.snap()
    assert (snap.status, snap.by_idle, snap.why) == (Status.AWAY, True, Why.IDLE)
    assert h.source.armed is True

    h.clock.advance(1200)
    h.source.idle = 0
    h.post(InputSeen())
    assert h.reporter.submitted == [GO_AWAY, COME_BACK]
    assert h.source.armed is False
    h.post(Answered(COME_BACK, AVAILABLE))
    assert h.snap().status is Status.AVAILABLE


def test_input_while_available_is_not_sent(h):
    h.connect(AVAILABLE)
    for _ in range(3):
        h.post(InputSeen())
    assert h.reporter.submitted == []


def test_the_engine_wakes_only_at_the_idle_deadline(h):
    h.connect(AVAILABLE)
    now = h.clock.now()
    assert h.engine.wake_at(now) == now.mono + 300
    reads = h.source.reads
    h.advance(299.9)
    assert (h.ticks, h.source.reads) == (0, reads)  # no watchdog, no polling
    h.advance(0.1)
    assert h.ticks == 1
    assert h.reporter.submitted == [GO_AWAY]


def test_no_wake_at_all_while_nothing_can_change(h):
    # Manual away: no idle deadline, and no watchdog either (a suspend is noticed
    # from the clocks at the next event, or from the session watcher).
    h.connect(MANUAL_AWAY)
    assert h.engine.wake_at(h.clock.now()) is None
    h.source.idle = 10_000
    h.advance(86_400)
    assert h.ticks == 0
    assert h.reporter.submitted == []


def test_screen_lock_is_away_at_once(h):
    h.connect(AVAILABLE)
    h.post(ScreenLock(locked=True))
    assert h.reporter.submitted == [GO_AWAY]
    h.post(Answered(GO_AWAY, IDLE_AWAY))
    assert h.snap().why is Why.LOCKED


def test_pause_holds_idle_away_and_resume_restarts_the_clock(h):
    h.connect(AVAILABLE)
    h.post(Pause(None))
    snap = h.snap()
    assert snap.paused is True
    assert snap.paused_until_wall is None
    h.clock.advance(3600)
    h.source.idle = 3600
    h.tick()
    assert h.reporter.submitted == []

    h.post(Resume())
    assert h.snap().paused is False
    h.advance(299)
    assert h.reporter.submitted == []  # not at once after a resume
    h.advance(1)
    assert h.reporter.submitted == [GO_AWAY]


def test_timed_pause_shows_its_end(h):
    h.connect(AVAILABLE)
    h.post(Pause(1800))
    snap = h.snap()
    assert snap.paused is True
    assert snap.paused_until_wall == pytest.approx(h.clock.wall + 1800)
    h.clock.advance(1800)
    h.tick()
    assert h.snap().paused is False
    assert h.snap().paused_until_wall is None


# -- manual choices ----------------------------------------------------------------------------


def test_manual_choice_is_sent_and_answered(h):
    h.connect(AVAILABLE)
    replies = Replies()
    h.post(ManualChoice(Status.AWAY, replies))
    desired = Desired(Status.AWAY, Source.USER)
    assert h.reporter.submitted == [desired]
    assert replies.outcomes == []  # only the server's answer settles it
    assert h.snap().pending is Status.AWAY
    h.post(Answered(desired, MANUAL_AWAY))
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
    h.tick()
    h.post(InputSeen())
    assert h.reporter.submitted == [desired]


def test_manual_choice_answered_with_something_else(h):
    h.connect(AVAILABLE)
    replies = Replies()
    h.post(ManualChoice(Status.AVAILABLE, replies))
    h.post(Answered(Desired(Status.AVAILABLE, Source.USER), OFFLINE))
    (outcome,) = replies.outcomes
    assert outcome.ok is True
    assert outcome.status is Status.OFFLINE
    assert outcome.message == "asked for Available, but the server keeps Offline"
    assert h.snap().status is Status.OFFLINE


def test_manual_choice_that_fails(h):
    h.connect(AVAILABLE)
    replies = Replies()
    h.post(ManualChoice(Status.OFFLINE, replies))
    h.post(Failed(Desired(Status.OFFLINE, Source.USER), "the server rejected the request"))
    assert replies.outcomes == [Outcome(False, Status.AVAILABLE, "the server rejected the request")]
    assert h.snap().pending is None


def test_manual_choice_before_connecting_is_queued_and_sent_instead_of_the_start(h):
    replies = Replies()
    h.post(ManualChoice(Status.BUSY, replies))
    h.post(ManualChoice(Status.AWAY, replies))  # the newest wins
    away = Desired(Status.AWAY, Source.USER)
    assert h.reporter.submitted == [Desired(Status.BUSY, Source.USER), away]
    assert replies.outcomes == []  # the server has not answered anything yet
    snap = h.snap()
    assert (snap.connected, snap.status, snap.pending) == (False, None, Status.AWAY)

    # The server is offline: the person's choice goes out, not the start's Available.
    h.connect(OFFLINE, Dialect.DOCUMENTED)
    assert h.reporter.submitted == [Desired(Status.BUSY, Source.USER), away]
    assert h.snap().pending is Status.AWAY
    h.post(Answered(away, MANUAL_AWAY))
    assert Outcome(True, Status.AWAY, "now Away") in replies.outcomes
    snap = h.snap()
    assert (snap.status, snap.why, snap.pending) == (Status.AWAY, Why.MANUAL, None)


def test_a_queued_choice_the_server_cannot_hold_gives_way_to_the_start(h):
    replies = Replies()
    h.post(ManualChoice(Status.BUSY, replies))
    h.connect(OFFLINE, Dialect.LIBREDESK)  # a real Libredesk has no Busy
    (outcome,) = replies.outcomes
    assert outcome.ok is False
    assert "'Busy'" in outcome.message
    assert h.reporter.submitted == [Desired(Status.BUSY, Source.USER), START]
    assert h.snap().pending is Status.AVAILABLE


def test_manual_choice_while_signed_out_before_connecting_is_refused(h):
    h.post(SignedOut("no API secret: run presence-agent login"))
    replies = Replies()
    h.post(ManualChoice(Status.AWAY, replies))
    assert replies.outcomes == [Outcome(False, None, "no API secret: run presence-agent login")]
    assert h.reporter.submitted == []


def test_busy_is_refused_on_real_libredesk(h):
    h.connect(AVAILABLE, Dialect.LIBREDESK)
    replies = Replies()
    h.post(ManualChoice(Status.BUSY, replies))
    (outcome,) = replies.outcomes
    assert outcome.ok is False
    assert "'Busy'" in outcome.message
    assert h.reporter.submitted == []


def test_busy_is_sent_on_the_documented_server(h):
    h.connect(AVAILABLE, Dialect.DOCUMENTED)
    h.post(ManualChoice(Status.BUSY))
    assert h.reporter.submitted == [Desired(Status.BUSY, Source.USER)]


def test_signed_out(h):
    h.connect(AVAILABLE)
    h.post(SignedOut("the server refused the API key or secret (401)"))
    snap = h.snap()
    assert (snap.connected, snap.signed_out) == (False, True)
    assert snap.problem == "the server refused the API key or secret (401)"
    replies = Replies()
    h.post(ManualChoice(Status.AWAY, replies))
    h.post(ScreenLock(locked=True))
    assert replies.outcomes == [
        Outcome(False, Status.AVAILABLE, "the server refused the API key or secret (401)")
    ]
    # What idleness asks is still handed to the reporter, which keeps it (the newest
    # only) until new credentials connect it, so the engine and the reporter never
    # disagree about the newest request.
    assert h.reporter.submitted == [GO_AWAY]


def test_input_after_a_sign_out_that_followed_an_idle_away_reaches_the_engine_once(h):
    h.connect(AVAILABLE)
    h.advance(300)
    h.post(Answered(GO_AWAY, IDLE_AWAY))
    assert h.source.armed is True
    h.post(SignedOut("the server refused the API key or secret (401)"))
    arms = h.source.arms
    h.input()
    # The return is asked (and kept by the reporter): the source is not armed again,
    # so no further input event comes to the engine while signed out.
    assert h.reporter.submitted == [GO_AWAY, COME_BACK]
    assert h.source.armed is False
    for _ in range(5):
        h.advance(1)
        h.input()
    assert h.source.arms == arms
    assert h.reporter.submitted == [GO_AWAY, COME_BACK]


def test_sign_in_changes_reach_the_reporter(h):
    from presence_agent.events import ReloadCredentials

    h.post(SignInChanged())
    assert h.reporter.inputs == [ReloadCredentials()]


def test_a_start_available_that_the_server_is_slow_to_take_survives_idleness(h):
    # Regression: a 503 burst at start left the agent "Offline (start)" for good, because
    # the idle away replaced the unanswered Available and was then skipped.
    h.connect(OFFLINE)
    assert h.reporter.submitted == [START]
    h.advance(3600)
    h.post(ScreenLock(True))
    h.post(ScreenLock(False))
    assert h.reporter.submitted == [START]
    assert h.snap().pending is Status.AVAILABLE
    h.post(Answered(START, AVAILABLE))
    # Now idleness acts, at once: an hour has passed without input.
    assert h.reporter.submitted == [START, GO_AWAY]


def test_idle_changes_look_first_unless_pushes_are_live(h):
    h.connect(AVAILABLE)
    h.advance(300)
    assert h.reporter.submits[-1] == Submit(GO_AWAY, look_first=True)
    h.post(Answered(GO_AWAY, IDLE_AWAY))
    h.post(PushLive(True))
    h.input()
    assert h.reporter.submits[-1] == Submit(COME_BACK, look_first=False)
    h.post(ManualChoice(Status.OFFLINE))
    assert h.reporter.submits[-1].look_first is False  # a person's choice is sent as is


def test_keepalive_intent_follows_the_connection_and_offline(h):
    assert h.keepalive.intent == Intent(open=False, agent_id=None, may_ping=True) or (
        h.keepalive.intent is None
    )
    h.connect(OFFLINE)
    # Offline held, available asked: no ping until the server holds available.
    # (reads=1: the connect's read, which the keepalive waits for before a first ping)
    assert h.keepalive.intent == Intent(open=True, agent_id=AGENT.id, may_ping=False, reads=1)
    h.post(Answered(START, AVAILABLE))
    assert h.keepalive.intent == Intent(open=True, agent_id=AGENT.id, may_ping=True, reads=1)
    h.post(ManualChoice(Status.OFFLINE))
    # Offline asked: no ping from now on, before the answer even comes.
    assert h.keepalive.intent == Intent(open=True, agent_id=AGENT.id, may_ping=False, reads=1)
    h.post(SignedOut("401"))
    assert h.keepalive.intent == Intent(open=False, agent_id=AGENT.id, may_ping=False, reads=1)


def test_no_keepalive_on_a_documented_server(h):
    h.connect(AVAILABLE, Dialect.DOCUMENTED)
    assert h.keepalive.intent is not None
    assert h.keepalive.intent.open is False


def test_a_wake_reconnects_the_reporter_and_the_socket(h):
    from presence_agent.events import Reconnect

    h.connect(AVAILABLE)
    h.post(Suspend(before=False))
    assert Reconnect() in h.reporter.inputs
    assert h.keepalive.reopens == 1


def test_a_resync_rereads_the_server(h):
    h.connect(AVAILABLE)
    h.post(Resync())
    assert h.reporter.refreshes == 1


def test_a_crashed_worker_is_shown_until_it_is_heard_from_again(h):
    h.connect(AVAILABLE)
    h.post(WorkerFailed("reporter", "internal error in the reporter: FileNotFoundError", 4.0))
    assert h.snap().problem == "internal error in the reporter: FileNotFoundError"
    h.post(ServerPush(AVAILABLE))  # the keepalive is fine; the reporter still is not
    assert h.snap().problem is not None
    h.post(Connected(AGENT, Dialect.LIBREDESK, AVAILABLE))
    assert h.snap().problem is None


def test_trouble_is_shown_and_cleared(h):
    h.connect(AVAILABLE)
    h.post(Trouble("cannot connect to https://desk.example.com"))
    assert h.snap().problem == "cannot connect to https://desk.example.com"
    h.post(Trouble(None))
    assert h.snap().problem is None


# -- the server's word -------------------------------------------------------------------------


def test_push_from_elsewhere_is_respected(h):
    h.connect(AVAILABLE)
    h.post(ServerPush(MANUAL_AWAY))
    snap = h.snap()
    assert (snap.status, snap.by_idle, snap.why) == (Status.AWAY, False, Why.ELSEWHERE)
    assert h.source.armed is False
    h.clock.advance(3600)
    h.source.idle = 3600
    h.tick()
    h.post(InputSeen())
    assert h.reporter.submitted == []


def test_pushed_idle_away_is_undone_by_input(h):
    # The web app's own idle detection set "away" while the person was away from this desk too.
    h.connect(AVAILABLE)
    h.source.idle = 400
    h.post(ServerPush(IDLE_AWAY))
    assert h.source.armed is True
    assert h.reporter.submitted == []
    h.post(InputSeen())
    assert h.reporter.submitted == [COME_BACK]


def test_pushed_idle_away_while_the_person_works_here_is_undone_at_once(h):
    # On a real server "away" is always an idle status: the person is at this desk.
    h.connect(AVAILABLE)
    h.source.idle = 10
    h.post(ServerPush(IDLE_AWAY))
    assert h.reporter.submitted == [COME_BACK]


def test_documented_server_is_polled_and_read_on_return(h):
    h.connect(AVAILABLE, Dialect.DOCUMENTED)
    assert h.reporter.refreshes == 0
    h.clock.advance(60)
    h.tick()
    assert h.reporter.refreshes == 1
    # Back from an idle away: the server is read again.
    h.post(ServerPush(ServerStatus(Status.AWAY, by_idle=True)))
    before = h.reporter.refreshes
    h.post(InputSeen())
    assert h.reporter.submitted == [COME_BACK]
    assert h.reporter.refreshes == before + 1


# -- snapshots ---------------------------------------------------------------------------------


def test_listeners_get_each_new_snapshot_once(h):
    h.connect(AVAILABLE)
    count = len(h.snapshots)
    assert count >= 1
    assert h.snapshots[-1] == h.snap()
    for _ in range(3):
        h.post(InputSeen())
    assert len(h.snapshots) == count  # nothing changed, nothing published
    h.post(ServerPush(OFFLINE))
    assert len(h.snapshots) == count + 1
    assert h.snapshots[-1].status is Status.OFFLINE


def test_a_failing_listener_does_not_stop_the_engine(h):
    def broken(snap: Snapshot) -> None:
        raise RuntimeError("tray bug")

    h.engine.subscribe(broken)
    h.connect(OFFLINE)
    assert h.reporter.submitted == [Desired(Status.AVAILABLE, Source.USER)]
    h.post(Answered(START, AVAILABLE))
    assert h.snap().status is Status.AVAILABLE
