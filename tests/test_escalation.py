"""Idleness in steps, ownership and recovery, through the real engine and policy in virtual
time (presence_agent/routing.py has the rules, docs/libredesk.md the server's reasons).

The fake reporter answers every PUT the way the real server does (tests/fakes.py,
``held_after``); pushes from the web app are posted as the keepalive would post them.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from presence_agent.events import (
    Claim,
    Desired,
    IdleInhibit,
    ManualChoice,
    NoticeKind,
    OwnReason,
    Pause,
    ServerPush,
    Suspend,
)
from presence_agent.routing import IdlePlan
from presence_agent.vocab import Dialect, ServerStatus, Source, Status
from tests.fakes import AGENT, EngineHarness

AVAILABLE = ServerStatus(Status.AVAILABLE)
IDLE_AWAY = ServerStatus(Status.AWAY, by_idle=True)
AWAY_MANUAL = ServerStatus(Status.AWAY, by_idle=False)
REASSIGNING = ServerStatus(Status.REASSIGNING, by_idle=False)

AWAY = Desired(Status.AWAY, Source.IDLE)
STOP = Desired(Status.AWAY, Source.IDLE, no_assignments=True)
REASSIGN = Desired(Status.REASSIGNING, Source.USER)
BACK_OWNED = Desired(Status.AVAILABLE, Source.USER)
BACK_IDLE = Desired(Status.AVAILABLE, Source.IDLE)

PLAN = IdlePlan.from_settings(300, 900, 1800)


def harness(plan: IdlePlan = PLAN, claim: Claim | None = None) -> EngineHarness:
    return EngineHarness(plan.away_after, answering=True, plan=plan, claim=claim)


def owned(h: EngineHarness) -> Claim:
    claim = h.snap().agenda.claim
    assert claim is not None
    return claim


def may_ping(h: EngineHarness) -> bool:
    intent = h.keepalive.intent
    assert intent is not None
    return intent.may_ping


def test_the_steps_come_in_order_each_on_time_one_put_each():
    h = harness()
    h.connect(AVAILABLE)
    start = h.source.last_input
    h.advance(2000)
    asked = [(round(t - start), d) for t, d in h.reporter.asked]
    assert asked == [(300, AWAY), (900, STOP), (1800, REASSIGN)]
    snap = h.snap()
    assert (snap.status, owned(h).word, owned(h).reason) == (
        Status.REASSIGNING,
        "away_and_reassigning",
        OwnReason.IDLE,
    )
    # Owned since the first step, for "away 42 min".
    assert owned(h).since == pytest.approx(h.clock.wall - 2000 + 300)
    assert [n.kind for n in h.notices] == [NoticeKind.ESCALATED, NoticeKind.ESCALATED]


@pytest.mark.parametrize(
    ("idle", "back"),
    [(400, BACK_IDLE), (1000, BACK_OWNED), (2000, BACK_OWNED)],
    ids=["from away", "from away_manual", "from away_and_reassigning"],
)
def test_the_first_input_brings_online_in_one_put_from_any_step(idle, back):
    h = harness()
    h.connect(AVAILABLE)
    h.advance(idle)
    before = len(h.reporter.submitted)
    h.input()
    assert h.reporter.submitted[before:] == [back]
    snap = h.snap()
    assert (snap.status, snap.agenda.claim) == (Status.AVAILABLE, None)
    returned = [n for n in h.notices if n.kind is NoticeKind.RETURNED]
    assert [n.title for n in returned] == [f"You're online again; away {(idle - 300) // 60} min"]
    # (whole minutes, rounded down: "away 42 min" is not 43)


def test_ownership_ends_when_the_web_app_changes_the_status():
    h = harness()
    h.connect(AVAILABLE)
    h.advance(1000)  # away_manual, owned
    assert h.snap().agenda.claim is not None
    # The person turns on "reassign" in the web app's sidebar (source user there).
    h.post(ServerPush(REASSIGNING))
    assert h.snap().agenda.claim is None
    before = len(h.reporter.submitted)
    h.advance(5000)
    h.input()
    assert h.reporter.submitted[before:] == []  # theirs now: input changes nothing


def test_ownership_ends_with_a_manual_choice_and_a_manual_away_is_never_escalated():
    h = harness()
    h.connect(AVAILABLE)
    h.post(ManualChoice(Status.AWAY))
    assert h.reporter.submitted == [Desired(Status.AWAY, Source.USER)]
    h.source.idle = 0
    h.advance(10_000)
    h.input()
    assert h.reporter.submitted == [Desired(Status.AWAY, Source.USER)]
    assert h.snap().agenda.claim is None


def test_a_manual_choice_during_an_escalation_ends_it():
    h = harness()
    h.connect(AVAILABLE)
    h.advance(1000)
    h.post(ManualChoice(Status.AWAY))  # "I'm away on purpose": away_manual, the person's
    assert h.snap().agenda.claim is None
    before = len(h.reporter.submitted)
    h.advance(5000)
    h.input()
    assert h.reporter.submitted[before:] == []


def test_the_documented_dialect_has_away_only():
    h = harness()
    h.connect(AVAILABLE, Dialect.DOCUMENTED)
    h.advance(5000)
    assert h.reporter.submitted == [AWAY]
    assert h.snap().agenda.claim is None


def test_no_steps_while_paused_or_in_a_call():
    h = harness()
    h.connect(AVAILABLE)
    h.advance(400)
    h.post(Pause(None))
    h.advance(5000)
    assert h.reporter.submitted == [AWAY]
    h2 = harness()
    h2.connect(AVAILABLE)
    h2.advance(400)
    h2.post(IdleInhibit(True, "microphone in use"))
    h2.advance(5000)
    assert h2.reporter.submitted == [AWAY]


def test_never_means_never():
    h = harness(IdlePlan.from_settings(300, 0, 0))
    h.connect(AVAILABLE)
    h.advance(50_000)
    assert h.reporter.submitted == [AWAY]


def test_reassign_without_the_middle_step_goes_from_away_with_source_idle():
    h = harness(IdlePlan.from_settings(300, 0, 600))
    h.connect(AVAILABLE)
    h.advance(700)
    assert h.reporter.submitted == [AWAY, Desired(Status.REASSIGNING, Source.IDLE)]


def test_before_a_sleep_straight_to_away_manual_owned():
    h = harness()
    h.connect(AVAILABLE)
    h.post(Suspend(before=True))
    assert h.reporter.submitted == [STOP]
    claim = owned(h)
    assert (claim.word, claim.reason) == ("away_manual", OwnReason.SLEEP)
    h.clock.sleep(3600)
    h.post(Suspend(before=False))
    h.input()  # stamped before the wake, maybe: says nothing of the person now
    h.clock.advance(1)
    h.input()
    assert h.reporter.submitted[-1] == BACK_OWNED


def test_a_sleep_without_the_step_is_an_idle_away_as_before():
    h = harness(IdlePlan.from_settings(300, 0, 0))
    h.connect(AVAILABLE)
    h.post(Suspend(before=True))
    assert h.reporter.submitted == [AWAY]


def test_a_manual_away_is_not_touched_by_a_sleep():
    h = harness()
    h.connect(AWAY_MANUAL)
    h.post(Suspend(before=True))
    assert h.reporter.submitted == []


def test_a_restart_during_an_escalation_still_brings_the_person_back():
    # What the previous run left in the state dir (presence_agent/routing.py, ClaimStore).
    claim = Claim("away_manual", OwnReason.IDLE, 1.0, agent_id=AGENT.id)
    h = harness(claim=claim)
    h.source.idle = 2000
    h.connect(AWAY_MANUAL)
    assert h.reporter.submitted == [REASSIGN]  # and it goes on where it was
    h.input()
    assert h.reporter.submitted == [REASSIGN, BACK_OWNED]


def test_a_claim_found_at_start_that_the_server_no_longer_holds_is_dropped():
    claim = Claim("away_manual", OwnReason.IDLE, 1.0, agent_id=AGENT.id)
    h = harness(claim=claim)
    h.source.idle = 2000
    h.connect(REASSIGNING)  # the person turned on "reassign" in the web app meanwhile
    assert h.snap().agenda.claim is None
    h.input()
    assert h.reporter.submitted == []


def test_another_accounts_claim_is_not_ours():
    claim = Claim("away_manual", OwnReason.IDLE, 1.0, agent_id=AGENT.id + 1)
    h = harness(claim=claim)
    h.source.idle = 2000
    h.connect(AWAY_MANUAL)
    h.input()
    assert h.reporter.submitted == []


# -- recovery --------------------------------------------------------------------------------


def test_a_sweep_while_the_person_works_is_put_back_online_before_any_ping():
    h = harness()
    h.connect(AVAILABLE)
    assert may_ping(h)
    h.reporter.answering = False
    h.post(ServerPush(ServerStatus(Status.OFFLINE)))
    assert h.reporter.submitted == [Desired(Status.AVAILABLE, Source.IDLE)]
    assert not may_ping(h)  # the PUT first: a ping would flip it silently
    h.reporter.answer(h.reporter.submitted[-1])
    assert may_ping(h)  # then ping


def test_a_sweep_while_the_person_is_gone_waits_for_their_input():
    h = harness()
    h.connect(AVAILABLE)
    h.source.idle = 10_000
    h.post(ServerPush(ServerStatus(Status.OFFLINE)))
    assert h.reporter.submitted == []
    assert h.source.armed
    h.input()
    assert h.reporter.submitted == [Desired(Status.AVAILABLE, Source.IDLE)]


def test_an_offline_chosen_here_is_never_undone():
    h = harness()
    h.connect(AVAILABLE)
    h.post(ManualChoice(Status.OFFLINE))
    h.post(ServerPush(ServerStatus(Status.OFFLINE)))
    h.input()
    assert h.reporter.submitted == [Desired(Status.OFFLINE, Source.USER)]


def test_an_away_found_at_start_while_active_goes_online():
    h = harness()
    h.source.idle = 5
    h.connect(IDLE_AWAY)
    assert h.reporter.submitted == [BACK_IDLE]


def test_nothing_of_this_on_the_documented_dialect():
    h = harness()
    h.connect(AVAILABLE, Dialect.DOCUMENTED)
    h.post(ServerPush(ServerStatus(Status.OFFLINE)))
    h.input()
    assert h.reporter.submitted == []


# -- properties -------------------------------------------------------------------------------

plans = st.tuples(st.integers(1, 600), st.integers(0, 1200), st.integers(0, 2400)).filter(
    lambda p: (p[1] == 0 or p[1] > p[0]) and (p[2] == 0 or p[2] > max(p[0], p[1]))
)


@settings(max_examples=60, deadline=None)
@given(plan=plans, gaps=st.lists(st.integers(0, 4000), min_size=1, max_size=6))
def test_every_step_on_time_and_one_put_back_whatever_the_gaps(plan, gaps):
    """For any plan and any pattern of absences: while idle, exactly the due steps, in
    order, each asked at its time (within 1 s); on the first input, exactly one PUT, online."""
    idle_plan = IdlePlan.from_settings(*plan)
    h = harness(idle_plan)
    h.connect(AVAILABLE)
    steps = [after for after, _ in idle_plan.steps(Dialect.LIBREDESK)]
    for gap in gaps:
        start = h.source.last_input
        h.reporter.asked = []
        h.advance(gap)
        due = [after for after in steps if after <= gap]
        times = [t - start for t, _ in h.reporter.asked]
        assert len(times) == len(due)
        for asked_at, after in zip(times, due, strict=True):
            assert after <= asked_at <= after + 1
        h.reporter.asked = []
        h.input()
        back = [d for _, d in h.reporter.asked]
        assert back == ([] if not due else [BACK_IDLE if len(due) == 1 else BACK_OWNED])
        assert h.snap().status is Status.AVAILABLE
        assert h.snap().agenda.claim is None


@settings(max_examples=60, deadline=None)
@given(
    plan=plans,
    before=st.integers(0, 3000),
    pushed=st.sampled_from([AVAILABLE, AWAY_MANUAL, REASSIGNING]),
    after=st.integers(0, 5000),
)
def test_once_anyone_else_changes_it_the_agent_leaves_it_alone(plan, before, pushed, after):
    h = harness(IdlePlan.from_settings(*plan))
    h.connect(AVAILABLE)
    h.advance(before)
    claim = h.snap().agenda.claim
    status = h.snap().status
    if claim is not None and claim.word == ("away_manual" if pushed is AWAY_MANUAL else ""):
        return  # the same word pushed again: nothing changed
    if pushed.status is status and pushed.by_idle == h.snap().by_idle:
        return
    h.post(ServerPush(pushed))
    count = len(h.reporter.submitted)
    h.advance(after)
    h.input()
    if pushed is AVAILABLE:
        # Online again (they came back in the web app): idleness starts over from there.
        assert all(d.status is not Status.AVAILABLE for d in h.reporter.submitted[count:-1])
    else:
        assert h.reporter.submitted[count:] == []


def test_a_refused_origin_is_the_agents_problem_until_the_socket_opens():
    from presence_agent.events import SocketTrouble
    from presence_agent.wsconnect import ORIGIN_REFUSED

    h = harness()
    h.connect(AVAILABLE)
    h.post(SocketTrouble(ORIGIN_REFUSED))
    assert h.snap().problem == ORIGIN_REFUSED
    h.post(SocketTrouble(None))
    assert h.snap().problem is None


def test_a_restart_after_the_offline_on_quit_puts_the_step_back_while_the_person_is_gone():
    # The agent quit (sending offline, which stops no routing) during an escalation.
    claim = Claim("away_manual", OwnReason.IDLE, 1.0, agent_id=AGENT.id)
    h = harness(claim=claim)
    h.source.idle = 1000
    h.connect(ServerStatus(Status.OFFLINE))
    assert h.reporter.submitted == [Desired(Status.AWAY, Source.IDLE, no_assignments=True)]
    kept = owned(h)
    assert (kept.word, kept.reason, kept.since) == ("away_manual", OwnReason.IDLE, 1.0)
    h.input()
    assert h.reporter.submitted[-1] == BACK_OWNED


def test_a_restart_after_the_offline_on_quit_while_the_person_is_back_is_online():
    claim = Claim("away_manual", OwnReason.IDLE, 1.0, agent_id=AGENT.id)
    h = harness(claim=claim)
    h.source.idle = 3
    h.connect(ServerStatus(Status.OFFLINE))
    assert h.reporter.submitted == [Desired(Status.AVAILABLE, Source.USER)]


def test_each_read_of_the_server_is_counted_for_the_keepalives_gate():
    from presence_agent.events import Refreshed, Resync

    h = harness()
    h.connect(AVAILABLE)
    intent = h.keepalive.intent
    assert intent is not None
    before = intent.reads
    assert before is not None
    h.post(Resync())
    assert h.reporter.refreshes == 1
    h.post(Refreshed(AVAILABLE))
    after = h.keepalive.intent
    assert after is not None
    assert after.reads == before + 1


def test_the_session_bridge_holds_the_sleep_until_away_manual_is_answered():
    import threading

    from presence_agent.session._bridge import EngineBridge

    h = harness()
    h.connect(AVAILABLE)
    bridge = EngineBridge(h, sleep_grace=30.0)
    h.subscribe(bridge.on_snapshot)
    h.reporter.answering = False  # by hand: the sleep must wait for the server's answer
    sent = threading.Event()
    h.subscribe(lambda snap: sent.set() if snap.pending is Status.AWAY else None)
    done = threading.Event()

    def sleep() -> None:
        bridge.sleeping()
        done.set()

    threading.Thread(target=sleep, daemon=True).start()
    assert sent.wait(10)
    assert h.reporter.sent == [STOP]
    assert not done.is_set()
    h.reporter.answer(STOP)
    assert done.wait(10)
    assert owned(h).reason is OwnReason.SLEEP
    h.clock.sleep(3600)
    bridge.woke()
    assert h.reporter.sent == [STOP]  # not repeated on waking
    h.input()  # stamped before the wake, maybe
    h.clock.advance(1)
    h.input()
    assert h.reporter.sent == [STOP, BACK_OWNED]
