"""The engine with timed choices, Extend and notices, stepped in virtual time (tests/fakes.py)."""

from __future__ import annotations

from presence_agent.events import ExtendTimer, Notice, NoticeKind, Outcome, TimedChoice
from presence_agent.timers import EXTEND_BY
from presence_agent.vocab import ServerStatus, Status
from tests.fakes import EngineHarness


def test_a_timed_choice_through_the_engine_reminds_extends_and_ends():
    h = EngineHarness(300.0, answering=True)
    notices: list[Notice] = []
    h.subscribe_notices(notices.append)
    h.connect(ServerStatus(Status.AVAILABLE))
    replies: list[Outcome] = []
    until = h.clock.now().wall + 600
    h.post(TimedChoice(Status.AWAY, until, "tray", replies.append))
    assert [r.status for r in replies] == [Status.AWAY]
    timer = h.snap().agenda.timer
    assert timer is not None
    assert timer.until == until
    h.advance(541)  # the reminder, a minute before
    assert [n.kind for n in notices] == [NoticeKind.TIMER_SOON]
    assert notices[0].actions == (("extend", "Extend 15 min"),)
    h.post(ExtendTimer(EXTEND_BY))  # the notification's button
    extended = h.snap().agenda.timer
    assert extended is not None
    assert extended.until == until + EXTEND_BY
    h.advance(EXTEND_BY + 60 - 2)  # just before the new end
    h.input()
    h.advance(2)
    assert h.status() == (Status.AVAILABLE, False)
    assert [n.kind for n in notices] == [
        NoticeKind.TIMER_SOON,
        NoticeKind.TIMER_SOON,
        NoticeKind.TIMER_ENDED,
    ]
    assert h.snap().agenda.timer is None


def test_an_end_already_past_is_refused_before_anything_is_sent():
    h = EngineHarness(300.0, answering=True)
    h.connect(ServerStatus(Status.AVAILABLE))
    replies: list[Outcome] = []
    h.post(TimedChoice(Status.AWAY, h.clock.now().wall - 1, "cli", replies.append))
    assert [(r.ok, r.message) for r in replies] == [(False, "that time has already passed")]
    assert h.status() == (Status.AVAILABLE, False)


def test_busy_is_refused_on_a_real_libredesk_with_a_timer_too():
    h = EngineHarness(300.0, answering=True)
    h.connect(ServerStatus(Status.AVAILABLE))
    replies: list[Outcome] = []
    h.post(TimedChoice(Status.BUSY, h.clock.now().wall + 60, "cli", replies.append))
    assert not replies[0].ok
    assert "no 'Busy' status" in replies[0].message
    assert h.snap().agenda.timer is None


def test_a_timed_choice_before_connecting_is_queued_and_its_timer_starts_once_held():
    h = EngineHarness(300.0)
    replies: list[Outcome] = []
    until = h.clock.now().wall + 600
    h.post(TimedChoice(Status.AWAY, until, "cli", replies.append))
    assert replies == []
    assert h.snap().pending is Status.AWAY
    assert h.snap().agenda.timer is None  # it starts when the server holds the status
    h.clock.advance(30)  # the server comes up half a minute later, offline
    h.connect(ServerStatus(Status.OFFLINE))
    [away] = h.reporter.submitted  # the choice, not the start's Available
    assert away.status is Status.AWAY
    h.reporter.answer(away)
    assert [r.status for r in replies] == [Status.AWAY]
    timer = h.snap().agenda.timer
    assert timer is not None
    assert timer.until == until
    h.advance(600)
    h.input()
    assert h.reporter.submitted[-1].status is Status.AVAILABLE
