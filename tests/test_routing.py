"""Routing-aware idle steps, ownership and recovery decisions (presence_agent/routing.py),
exhaustively and as properties. Pure: no clock, no I/O but the claim file in tmp_path."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from presence_agent.routing import (
    GUARDED,
    Claim,
    ClaimStore,
    IdlePlan,
    PlanError,
    Reason,
    Recovery,
    Step,
    claim_after_report,
    meaning,
    recovery_for,
    source_for,
    step_of,
)
from presence_agent.vocab import Dialect, Source

REAL = Dialect.LIBREDESK
DOC = Dialect.DOCUMENTED
WORDS = ("online", "away", "away_manual", "away_and_reassigning", "offline")

# -- the plan -------------------------------------------------------------------------------


def test_defaults() -> None:
    plan = IdlePlan.from_settings(300)
    assert plan == IdlePlan(300.0, 900.0, None)
    assert plan.describe() == "away after 5 min, no new conversations after 15 min, reassign never"
    assert plan.steps(REAL) == ((300.0, Step.AWAY), (900.0, Step.NO_ASSIGNMENTS))


def test_describe_every_shape() -> None:
    assert IdlePlan.from_settings(45, 0, 0).describe() == (
        "away after 45 s, no new conversations never, reassign never"
    )
    assert IdlePlan.from_settings(90, 5400, 7200).describe() == (
        "away after 1.5 min, no new conversations after 90 min, reassign after 2 h"
    )
    assert IdlePlan.from_settings(300, 0, 3600).describe() == (
        "away after 5 min, no new conversations never, reassign after 1 h"
    )


@pytest.mark.parametrize(
    ("away", "stop", "reassign", "key"),
    [
        (0, 900, 0, "away_after"),
        (-1, 900, 0, "away_after"),
        (float("nan"), 900, 0, "away_after"),
        (300, float("inf"), 0, "stop_assignments_after"),
        (300, -5, 0, "stop_assignments_after"),
        (300, 300, 0, "stop_assignments_after"),
        (300, 200, 0, "stop_assignments_after"),
        (300, 900, 900, "reassign_after"),
        (300, 900, 600, "reassign_after"),
        (300, 0, 300, "reassign_after"),  # with no stop step, it must follow away
        (300, 0, 100, "reassign_after"),
        (300, True, 0, "stop_assignments_after"),
        (300, "900", 0, "stop_assignments_after"),
    ],
)
def test_order_and_values_are_checked_naming_the_key(
    away: object, stop: object, reassign: object, key: str
) -> None:
    with pytest.raises(PlanError) as info:
        IdlePlan.from_settings(away, stop, reassign)  # type: ignore[arg-type]
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: ")


def test_documented_dialect_has_only_away() -> None:
    plan = IdlePlan.from_settings(300, 900, 1800)
    assert plan.steps(DOC) == ((300.0, Step.AWAY),)
    assert plan.steps(None) == ((300.0, Step.AWAY),)
    assert plan.due(10_000, DOC) is Step.AWAY
    assert plan.next_due(Step.AWAY, DOC) is None
    assert plan.libredesk_only()
    assert not IdlePlan.from_settings(300, 0, 0).libredesk_only()


def test_due_and_next_due_at_every_boundary() -> None:
    plan = IdlePlan.from_settings(300, 900, 1800)
    assert [plan.due(t, REAL) for t in (0, 299.999, 300, 899, 900, 1799, 1800, 1e9)] == [
        None,
        None,
        Step.AWAY,
        Step.AWAY,
        Step.NO_ASSIGNMENTS,
        Step.NO_ASSIGNMENTS,
        Step.REASSIGN,
        Step.REASSIGN,
    ]
    assert plan.next_due(None, REAL) == 300
    assert plan.next_due(Step.AWAY, REAL) == 900
    assert plan.next_due(Step.NO_ASSIGNMENTS, REAL) == 1800
    assert plan.next_due(Step.REASSIGN, REAL) is None
    skip = IdlePlan.from_settings(300, 0, 1800)
    assert skip.next_due(Step.AWAY, REAL) == 1800
    assert skip.due(1000, REAL) is Step.AWAY


_secs = st.floats(min_value=1, max_value=1e6, allow_nan=False)
_maybe = st.one_of(st.just(0.0), _secs)


@given(_secs, _maybe, _maybe, st.floats(min_value=0, max_value=3e6, allow_nan=False))
def test_property_a_valid_plan_escalates_in_order_one_step_at_a_time(
    away: float, stop: float, reassign: float, idle: float
) -> None:
    try:
        plan = IdlePlan.from_settings(away, stop, reassign)
    except PlanError:
        times = [away] + [t for t in (stop, reassign) if t]
        assert any(b <= a for a, b in itertools.pairwise(times))
        return
    steps = plan.steps(REAL)
    assert [s for _, s in steps] == sorted((s for _, s in steps), key=lambda s: s.depth)
    assert all(a < b for (a, _), (b, _) in itertools.pairwise(steps))
    # Walking the deadlines visits every step once, in order, each at its own time.
    reached: Step | None = None
    visited = []
    while (at := plan.next_due(reached, REAL)) is not None:
        step = plan.due(at, REAL)
        assert step is not None
        assert step.depth > (0 if reached is None else reached.depth)
        visited.append(step)
        reached = step
    assert visited == [s for _, s in steps]
    # The step due never goes back as idleness grows.
    due = plan.due(idle, REAL)
    later = plan.due(idle + 1, REAL)
    assert (0 if due is None else due.depth) <= (0 if later is None else later.depth)


# -- sources ----------------------------------------------------------------------------------


@pytest.mark.parametrize("current", [*WORDS, None])
def test_source_for_the_guard(current: str | None) -> None:
    expected = Source.USER if current in ("away_manual", "away_and_reassigning") else Source.IDLE
    assert source_for(current) is expected


# -- ownership --------------------------------------------------------------------------------

CLAIM = Claim("away", Reason.IDLE, since=1000.0, server="https://d", agent_id=7)


def test_claim_after_report_every_combination() -> None:
    for reported, asking in itertools.product(WORDS, (*WORDS, None)):
        left = claim_after_report(CLAIM, reported, asking)
        if reported == "away":
            assert left == CLAIM
        elif reported == asking:
            assert left == Claim(reported, Reason.IDLE, 1000.0, "https://d", 7)
        else:
            assert left is None, (reported, asking)
    for reported, asking in itertools.product(WORDS, (*WORDS, None)):
        assert claim_after_report(None, reported, asking) is None


@given(
    st.sampled_from(WORDS),
    st.lists(st.tuples(st.sampled_from(WORDS), st.one_of(st.none(), st.sampled_from(WORDS)))),
)
def test_property_once_lost_never_regained_and_only_our_words_keep_it(
    first: str, reports: list[tuple[str, str | None]]
) -> None:
    claim: Claim | None = Claim(first, Reason.IDLE, 0.0)
    lost = False
    for reported, asking in reports:
        before = claim
        claim = claim_after_report(claim, reported, asking)
        if lost:
            assert claim is None
        if claim is None:
            lost = True
        else:
            assert before is not None
            assert claim.word == reported
            assert reported in (before.word, asking)
            assert claim.since == 0.0


def test_claim_step() -> None:
    assert step_of(Claim("away_manual", Reason.IDLE, 0)) is Step.NO_ASSIGNMENTS
    assert step_of(Claim("offline", Reason.SCHEDULE, 0)) is None


# -- recovery ---------------------------------------------------------------------------------


@pytest.mark.parametrize("reported", WORDS)
@pytest.mark.parametrize("active", [True, False])
@pytest.mark.parametrize("chose_offline", [True, False])
@pytest.mark.parametrize("owned", [True, False])
def test_recovery_every_case(reported: str, active: bool, chose_offline: bool, owned: bool) -> None:
    claim = Claim(reported, Reason.IDLE, 0.0) if owned else None
    got = recovery_for(
        REAL, reported, person_active=active, chose_offline=chose_offline, claim=claim
    )
    back = Recovery.PUT_ONLINE if active else Recovery.ON_INPUT
    if reported == "online":
        assert got is Recovery.NONE
    elif reported == "offline":
        assert got is (Recovery.NONE if chose_offline and not owned else back)
    elif reported == "away":
        assert got is back  # an idle status on a real server, whoever set it
    else:  # a manual away: only ours to undo when we own it
        assert got is (back if owned else Recovery.NONE)
    # Never anything on the documented dialect, nor before it is known.
    for dialect in (DOC, None):
        assert (
            recovery_for(
                dialect, reported, person_active=active, chose_offline=chose_offline, claim=claim
            )
            is Recovery.NONE
        )


def test_a_claim_on_another_word_does_not_make_a_manual_away_ours() -> None:
    claim = Claim("away", Reason.IDLE, 0.0)
    got = recovery_for(REAL, "away_manual", person_active=True, chose_offline=False, claim=claim)
    assert got is Recovery.NONE


@pytest.mark.parametrize(
    ("word", "text"),
    [
        ("away", "still receiving conversations"),
        ("away_manual", "no new conversations"),
        ("away_and_reassigning", "your conversations are being reassigned"),
        ("online", ""),
        ("offline", ""),
    ],
)
def test_meaning(word: str, text: str) -> None:
    assert meaning(word, REAL) == text
    assert meaning(word, DOC) == ""


def test_guarded_words() -> None:
    assert frozenset({"away_manual", "away_and_reassigning"}) == GUARDED


# -- the claim file ---------------------------------------------------------------------------


def test_claim_store_round_trip_and_removal(tmp_path: Path) -> None:
    store = ClaimStore(tmp_path / "state")
    assert store.load() is None
    claim = Claim("away_manual", Reason.SLEEP, 1234.5, "https://desk.example", 7)
    store.save(claim)
    assert json.loads(store.path.read_text())["word"] == "away_manual"
    assert ClaimStore(tmp_path / "state").load() == claim
    mtime = os.stat(store.path).st_mtime_ns
    store.save(claim)  # unchanged: not written again
    assert os.stat(store.path).st_mtime_ns == mtime
    store.save(None)
    assert not store.path.exists()
    assert ClaimStore(tmp_path / "state").load() is None


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"[]",
        b'{"word": "away"}',
        b'{"word": "bogus", "reason": "idle", "since": 1}',
        b'{"word": "away", "reason": "whim", "since": 1}',
        b'{"word": "away", "reason": "idle", "since": NaN}',
        b'{"word": "away", "reason": "idle", "since": true}',
        b"\xff\xfe",
        b"9" * 10_000,
    ],
)
def test_a_damaged_claim_file_is_no_claim(tmp_path: Path, content: bytes) -> None:
    store = ClaimStore(tmp_path)
    store.path.write_bytes(content)
    assert store.load() is None


def test_a_claim_file_that_cannot_be_written_is_survived(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the directory should be")
    store = ClaimStore(blocker)
    store.save(Claim("away", Reason.IDLE, 0.0))  # logged, not raised
    assert store.load() is None
