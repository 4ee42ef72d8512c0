"""Timers and working hours as one layer (presence_agent/agenda.py), in virtual time."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from presence_agent.agenda import EXTEND_ACTION, SHIFT_REMINDER, Agenda, Change, Held, Reason
from presence_agent.events import NoticeKind, TimedStatus
from presence_agent.schedule import Schedule, ScheduleSpec, check_table, spec_from
from presence_agent.vocab import ServerStatus, Source, Status

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = {day: "09:00-12:30,13:30-18:00" for day in ("mon", "tue", "wed", "thu", "fri")}


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> float:
    """March 2026; the 9th is a Monday."""
    return datetime(2026, 3, day, hour, minute, second, tzinfo=BERLIN).timestamp()


def agenda(end_of_shift: str = "offline", can_reassign: bool = True, **kw) -> Agenda:
    table = {**OFFICE, "timezone": "Europe/Berlin", "end_of_shift": end_of_shift}
    hours = Schedule(spec_from(check_table(Path("config.toml"), table)), BERLIN)
    return Agenda(hours, display_tz=BERLIN, can_reassign=can_reassign, **kw)


AVAILABLE = Held(Status.AVAILABLE, by_idle=False, manual=False)
IDLE_AWAY = Held(Status.AWAY, by_idle=True, manual=False)
MANUAL_BUSY = Held(Status.BUSY, by_idle=False, manual=True)


def held_of(status: Status, manual: bool = False) -> Held:
    return Held(status, by_idle=False, manual=manual)


# -- working hours --------------------------------------------------------------------------


def test_no_schedule_is_always_on_shift():
    plain = Agenda(Schedule(ScheduleSpec(), BERLIN), display_tz=BERLIN)
    assert plain.on_shift(at(8, 3))
    assert plain.step(at(8, 3), AVAILABLE, True) == (None, [])
    assert plain.wake_wall(at(8, 3)) is None
    assert plain.view(at(8, 3)).scheduled is False


def test_the_end_of_a_shift_applies_once_with_a_reminder_before():
    shifts = agenda()
    assert shifts.step(at(9, 17, 50), AVAILABLE, True) == (None, [])
    assert shifts.wake_wall(at(9, 17, 50)) == at(9, 18) - SHIFT_REMINDER
    change, notices = shifts.step(at(9, 17, 55), AVAILABLE, True)
    assert change is None
    assert [(n.kind, n.title) for n in notices] == [
        (NoticeKind.SHIFT_SOON, "Your shift ends at 18:00")
    ]
    assert "You will be Offline then (in 5 min)" in notices[0].body
    assert shifts.step(at(9, 17, 56), AVAILABLE, True) == (None, [])  # reminded once
    assert shifts.wake_wall(at(9, 17, 56)) == at(9, 18)
    change, notices = shifts.step(at(9, 18), AVAILABLE, True)
    assert change == Change(Status.OFFLINE, Source.USER, Reason.SHIFT_END, True)
    assert notices[0].kind is NoticeKind.SHIFT_ENDED
    assert notices[0].body == "Your next shift starts tomorrow 09:00."
    shifts.asking(change)
    shifts.answered(Status.OFFLINE, Source.USER, ServerStatus(Status.OFFLINE))
    assert shifts.owned is Status.OFFLINE
    assert shifts.step(at(9, 18, 1), held_of(Status.OFFLINE), True) == (None, [])


def test_lunch_is_an_end_of_shift_too():
    shifts = agenda()
    shifts.step(at(9, 12), AVAILABLE, True)
    change, _ = shifts.step(at(9, 12, 30), AVAILABLE, True)
    assert change is not None
    assert change.status is Status.OFFLINE


@pytest.mark.parametrize(
    ("end_of_shift", "reassign", "target"),
    [
        ("offline", True, Status.OFFLINE),
        ("away", True, Status.AWAY),
        ("away_and_reassigning", True, Status.REASSIGNING),
        ("away_and_reassigning", False, Status.AWAY),  # the documented server has no such status
    ],
)
def test_end_of_shift_targets(end_of_shift, reassign, target):
    shifts = agenda(end_of_shift, can_reassign=reassign)
    shifts.step(at(9, 17), IDLE_AWAY, False)
    change, _ = shifts.step(at(9, 18), IDLE_AWAY, False)
    assert change == Change(target, Source.USER, Reason.SHIFT_END, True)


def test_nothing_means_nothing_and_no_reminder():
    shifts = agenda("nothing")
    shifts.step(at(9, 17), AVAILABLE, True)
    assert shifts.step(at(9, 17, 55), AVAILABLE, True) == (None, [])
    assert shifts.step(at(9, 18), AVAILABLE, True) == (None, [])


@pytest.mark.parametrize(
    "held",
    [
        MANUAL_BUSY,
        held_of(Status.AWAY, manual=True),
        Held(Status.AVAILABLE, False, False, pending=True),
    ],
)
def test_never_over_a_persons_choice(held):
    shifts = agenda()
    shifts.step(at(9, 17), held, True)
    assert shifts.step(at(9, 17, 55), held, True) == (None, [])
    assert shifts.step(at(9, 18), held, True) == (None, [])


def test_an_offline_already_there_becomes_the_agents():
    shifts = agenda()
    shifts.step(at(9, 17), held_of(Status.OFFLINE), False)
    assert shifts.step(at(9, 18), held_of(Status.OFFLINE), False) == (None, [])
    assert shifts.owned is Status.OFFLINE


def test_the_start_of_a_shift_with_recent_input_brings_available():
    shifts = agenda(owned=Status.OFFLINE)
    shifts.step(at(10, 8, 50), held_of(Status.OFFLINE), True)
    change, notices = shifts.step(at(10, 9), held_of(Status.OFFLINE), True)
    assert change == Change(Status.AVAILABLE, Source.USER, Reason.SHIFT_START, False)
    assert notices[0].kind is NoticeKind.SHIFT_STARTED


def test_from_an_idle_away_the_start_comes_back_as_idle():
    shifts = agenda()
    shifts.step(at(10, 8, 50), IDLE_AWAY, True)
    change, _ = shifts.step(at(10, 9), IDLE_AWAY, True)
    assert change == Change(Status.AVAILABLE, Source.IDLE, Reason.SHIFT_START, False)


def test_the_start_without_input_waits_for_the_first_input():
    shifts = agenda(owned=Status.OFFLINE)
    shifts.step(at(10, 8, 50), held_of(Status.OFFLINE), False)
    assert not shifts.may_return(at(10, 8, 50), held_of(Status.OFFLINE))  # off shift
    assert shifts.step(at(10, 9), held_of(Status.OFFLINE), False) == (None, [])
    assert shifts.may_return(at(10, 9, 5), held_of(Status.OFFLINE))
    assert shifts.return_source(held_of(Status.OFFLINE)) is Source.USER


def test_the_start_leaves_a_persons_choice_and_others_statuses():
    shifts = agenda()
    shifts.step(at(10, 8, 50), held_of(Status.OFFLINE), True)  # offline, not the agent's
    assert shifts.step(at(10, 9), held_of(Status.OFFLINE), True) == (None, [])
    shifts.step(at(10, 12, 45), MANUAL_BUSY, True)
    assert shifts.step(at(10, 13, 30), MANUAL_BUSY, True) == (None, [])


def test_ownership_ends_when_anyone_else_changes_the_status():
    shifts = agenda(owned=Status.OFFLINE)
    shifts.held(ServerStatus(Status.OFFLINE))
    assert shifts.owned is Status.OFFLINE
    shifts.held(ServerStatus(Status.AWAY, by_idle=False))  # the web app's away
    assert shifts.owned is None
    shifts.own(Status.OFFLINE)
    shifts.manual_choice()
    assert shifts.owned is None


def test_idle_away_returns_only_on_shift():
    shifts = agenda()
    assert shifts.may_return(at(9, 10), IDLE_AWAY)
    assert not shifts.may_return(at(9, 12, 45), IDLE_AWAY)
    assert not shifts.may_return(at(14, 10), IDLE_AWAY)  # Saturday
    assert not shifts.may_return(at(9, 10), AVAILABLE)
    assert not shifts.may_return(at(9, 10), held_of(Status.AWAY, manual=True))


def test_a_clock_set_back_into_the_shift_does_not_end_it_twice():
    shifts = agenda()
    shifts.step(at(9, 17), AVAILABLE, True)
    change, _ = shifts.step(at(9, 18), AVAILABLE, True)
    assert change is not None
    shifts.asking(change)
    shifts.answered(Status.OFFLINE, Source.USER, ServerStatus(Status.OFFLINE))
    # The clock is set back an hour: on shift again, with the agent's offline...
    back, _ = shifts.step(at(9, 17), held_of(Status.OFFLINE), True)
    assert back == Change(Status.AVAILABLE, Source.USER, Reason.SHIFT_START, False)
    # ...and it ends once more at 18:00 by the new clock, as the wall clock says.


def test_sleeping_through_the_end_applies_it_on_waking():
    shifts = agenda()
    shifts.step(at(9, 17), AVAILABLE, True)
    change, notices = shifts.step(at(9, 23), IDLE_AWAY, False)
    assert change == Change(Status.OFFLINE, Source.USER, Reason.SHIFT_END, True)
    assert [n.kind for n in notices] == [NoticeKind.SHIFT_ENDED]  # no late reminder


# -- timers -----------------------------------------------------------------------------------


def started(shifts: Agenda, timed: TimedStatus) -> None:
    shifts.timed_choice(timed)
    shifts.answered(timed.status, Source.USER, ServerStatus(timed.status, by_idle=False))
    assert shifts.timer == timed


def test_a_timer_starts_only_when_the_server_holds_it():
    shifts = agenda()
    timed = TimedStatus(Status.AWAY, at(9, 11), at(9, 10), "tray")
    shifts.timed_choice(timed)
    assert shifts.timer is None
    shifts.answered(Status.AWAY, Source.IDLE, ServerStatus(Status.AWAY, by_idle=True))
    assert shifts.timer is None  # not the answer to it
    shifts.answered(Status.AWAY, Source.USER, ServerStatus(Status.AVAILABLE))
    assert shifts.timer is None  # refused: no timer left behind
    started(shifts, timed)


def test_a_timer_reminds_with_an_extend_action_then_ends_in_available():
    shifts = agenda()
    timed = TimedStatus(Status.AWAY, at(9, 11), at(9, 10), "tray")
    started(shifts, timed)
    held = held_of(Status.AWAY, manual=True)
    shifts.step(at(9, 10, 30), held, True)
    assert shifts.wake_wall(at(9, 10, 30)) == at(9, 10, 59)
    change, notices = shifts.step(at(9, 10, 59), held, True)
    assert change is None
    assert notices[0].title == "Back to Available at 11:00"
    assert notices[0].body == "Your Away ends in 1 min."
    assert notices[0].actions == (EXTEND_ACTION,)
    assert EXTEND_ACTION == ("extend", "Extend 15 min")
    change, notices = shifts.step(at(9, 11), held, True)
    assert change == Change(Status.AVAILABLE, Source.USER, Reason.TIMER, False)
    assert notices[0].title == "Your Away has ended: Available"


def test_a_timer_ends_in_an_owned_away_without_input():
    shifts = agenda()
    started(shifts, TimedStatus(Status.BUSY, at(9, 10, 0, 3), at(9, 10), "cli"))
    change, _ = shifts.step(at(9, 10, 0, 3), MANUAL_BUSY, False)
    assert change == Change(Status.AWAY, Source.USER, Reason.TIMER, True)
    shifts.asking(change)
    shifts.answered(Status.AWAY, Source.USER, ServerStatus(Status.AWAY, by_idle=False))
    assert shifts.owned is Status.AWAY
    # Owned: the next input on shift brings Available, with source user.
    away = held_of(Status.AWAY)
    assert shifts.may_return(at(9, 10, 1), away)
    assert shifts.return_source(away) is Source.USER


def test_an_away_timer_ending_in_away_sends_nothing_and_owns_it():
    shifts = agenda()
    started(shifts, TimedStatus(Status.AWAY, at(9, 10, 5), at(9, 10), "cli"))
    change, notices = shifts.step(at(9, 10, 5), held_of(Status.AWAY, manual=True), False)
    assert change is None
    assert shifts.owned is Status.AWAY
    assert notices[0].kind is NoticeKind.TIMER_ENDED


def test_a_timer_ending_off_shift_never_brings_available():
    shifts = agenda()
    started(shifts, TimedStatus(Status.BUSY, at(9, 19), at(9, 17), "tray"))
    shifts.step(at(9, 17, 30), MANUAL_BUSY, True)
    assert shifts.step(at(9, 18), MANUAL_BUSY, True) == (None, [])  # the person's busy holds
    _, notices = shifts.step(at(9, 18, 59), MANUAL_BUSY, True)
    assert notices[0].title == "Back to Offline at 19:00"
    change, _ = shifts.step(at(9, 19), MANUAL_BUSY, True)
    assert change == Change(Status.OFFLINE, Source.USER, Reason.TIMER, True)


def test_a_timer_is_dropped_by_a_change_elsewhere_or_a_new_choice():
    shifts = agenda()
    started(shifts, TimedStatus(Status.AWAY, at(9, 11), at(9, 10), "tray"))
    shifts.held(ServerStatus(Status.AVAILABLE))
    assert shifts.timer is None
    started(shifts, TimedStatus(Status.AWAY, at(9, 11), at(9, 10), "tray"))
    shifts.manual_choice()
    assert shifts.timer is None
    assert shifts.step(at(9, 12), held_of(Status.AWAY, manual=True), True) == (None, [])


def test_extend():
    shifts = agenda()
    started(shifts, TimedStatus(Status.AWAY, at(9, 11), at(9, 10), "tray"))
    extended = shifts.extend(at(9, 10, 59))
    assert extended is not None
    assert extended.until == at(9, 11, 15)


def test_a_restored_timer_already_due_ends_at_the_first_step():
    timed = TimedStatus(Status.AWAY, at(9, 10), at(9, 9, 30), "tray")
    shifts = agenda(timer=timed)
    shifts.held(ServerStatus(Status.AWAY, by_idle=False))
    change, _ = shifts.step(at(9, 15), held_of(Status.AWAY, manual=True), True)
    assert change == Change(Status.AVAILABLE, Source.USER, Reason.TIMER, False)


# -- the property -----------------------------------------------------------------------------

STATUSES = [Status.AVAILABLE, Status.BUSY, Status.AWAY, Status.OFFLINE]

events = st.one_of(
    st.tuples(st.just("wait"), st.floats(1, 6 * 3600), st.booleans()),
    st.tuples(st.just("timed"), st.sampled_from(STATUSES[1:]), st.floats(10, 4 * 3600)),
    st.tuples(st.just("manual"), st.sampled_from(STATUSES)),
    st.tuples(st.just("idle")),
    st.tuples(st.just("elsewhere"), st.sampled_from(STATUSES)),
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["offline", "away", "away_and_reassigning", "nothing"]),
    st.floats(at(9, 0), at(15, 0)),
    st.lists(events, max_size=30),
)
def test_never_online_outside_hours(end_of_shift, start, script):
    """Whatever happens, the agenda asks for Available only on shift (a person may, by hand)."""
    shifts = agenda(end_of_shift)
    wall = start
    status, by_idle, manual = Status.AVAILABLE, False, False

    def apply(change: Change | None) -> None:
        nonlocal status, by_idle, manual
        if change is None:
            return
        if change.status is Status.AVAILABLE:
            assert shifts.on_shift(wall), datetime.fromtimestamp(wall, BERLIN)
        shifts.asking(change)
        status, by_idle, manual = change.status, False, False
        shifts.answered(change.status, change.source, ServerStatus(status, by_idle=False))

    for event in script:
        match event:
            case ("wait", seconds, active):
                # Step at every wake on the way, as the engine does.
                end = wall + seconds
                while (wake := shifts.wake_wall(wall)) is not None and wake <= end:
                    wall = max(wall, wake)
                    for _ in range(3):
                        change, _notices = shifts.step(wall, Held(status, by_idle, manual), active)
                        apply(change)
                wall = end
                apply(shifts.step(wall, Held(status, by_idle, manual), active)[0])
                if active and shifts.may_return(wall, Held(status, by_idle, manual)):
                    assert shifts.on_shift(wall)
                    apply(Change(Status.AVAILABLE, Source.USER, Reason.SHIFT_START, False))
            case ("timed", chosen, seconds):
                shifts.timed_choice(TimedStatus(chosen, wall + seconds, wall, "tray"))
                status, by_idle, manual = chosen, False, True
                shifts.answered(chosen, Source.USER, ServerStatus(chosen, by_idle=False))
            case ("manual", chosen):
                shifts.manual_choice()
                status, by_idle, manual = chosen, False, True
                shifts.held(ServerStatus(chosen))
            case ("idle",):
                if status is Status.AVAILABLE:
                    status, by_idle, manual = Status.AWAY, True, False
                    shifts.held(ServerStatus(Status.AWAY, by_idle=True))
            case ("elsewhere", chosen):
                status, by_idle, manual = chosen, False, chosen is not Status.OFFLINE
                shifts.held(ServerStatus(chosen))
