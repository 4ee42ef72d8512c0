"""The words for timers and working hours (presence_agent/shift_text.py)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from presence_agent.events import AgendaView, TimedStatus
from presence_agent.shift_text import (
    back_at,
    changes_at,
    off_shift,
    status_line,
    timed_choices,
)
from presence_agent.vocab import Status

BERLIN = ZoneInfo("Europe/Berlin")


def at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 3, day, hour, minute, tzinfo=BERLIN).timestamp()


def test_a_running_timer_reads_back_at_and_in():
    view = AgendaView(timer=TimedStatus(Status.AWAY, at(9, 13), at(9, 12), "tray"))
    assert back_at(view, at(9, 12, 18), BERLIN) == "back at 13:00 (in 42 min)"
    assert status_line("Away", view, at(9, 12, 18), BERLIN) == "Away · back at 13:00 (in 42 min)"
    tomorrow = AgendaView(timer=TimedStatus(Status.OFFLINE, at(10, 9), at(9, 18), "cli"))
    assert status_line("Offline", tomorrow, at(9, 18), BERLIN) == (
        "Offline · back at tomorrow 09:00 (in 15 h)"
    )


def test_off_shift_says_when_it_starts():
    view = AgendaView(scheduled=True, on_shift=False, next_start=at(10, 9))
    assert off_shift(view, at(9, 19), BERLIN) == "Off shift · starts tomorrow 09:00"
    assert off_shift(view, at(10, 7), BERLIN) == "Off shift · starts 09:00"
    assert status_line("Offline", view, at(10, 7), BERLIN) == "Off shift · starts 09:00"
    assert off_shift(AgendaView(scheduled=True, on_shift=False), at(9, 19), BERLIN) == "Off shift"
    assert off_shift(AgendaView(scheduled=True, on_shift=True), at(9, 10), BERLIN) is None
    assert status_line("Available", AgendaView(), at(9, 10), BERLIN) == "Available"


def test_durations_hours_and_shifts():
    view = AgendaView(
        scheduled=True,
        on_shift=True,
        next_start=at(9, 13, 30),
        next_end=at(9, 18),
        next_day_start=at(10, 9),
    )
    choices = timed_choices(view, at(9, 10, 40), BERLIN)
    labels = [c.label for c in choices]
    assert labels == [
        "For 15 minutes",
        "For 30 minutes",
        "For 1 hour",
        "For 2 hours",
        "Until 12:00",  # 11:00 is only 20 minutes away
        "Until 13:00",
        "Until 14:00",
        "Until the end of the shift (18:00)",
        "Until tomorrow's shift (09:00)",
    ]
    assert (choices[0].seconds, choices[0].until) == (900, None)  # from when it is picked
    assert choices[4].until == at(9, 12)
    assert choices[-1].until == at(10, 9)


def test_late_in_the_day_no_hours_past_midnight_and_the_next_shift_after_a_weekend():
    view = AgendaView(
        scheduled=True, on_shift=False, next_start=at(16, 9), next_day_start=at(16, 9)
    )
    choices = timed_choices(view, at(13, 22, 40), BERLIN)
    labels = [c.label for c in choices]
    assert "Until 23:00" not in labels  # 20 minutes away
    assert not any(label.startswith("Until 0") for label in labels)
    assert labels[-1] == "Until the next shift (Mon 09:00)"


def test_no_schedule_no_shift_entries():
    labels = [c.label for c in timed_choices(AgendaView(), at(9, 8), BERLIN)]
    assert not any("shift" in label for label in labels)


def test_the_words_change_at_the_next_minute_of_a_timer_or_half_hour():
    timer = AgendaView(timer=TimedStatus(Status.AWAY, at(9, 13), at(9, 12), "tray"))
    now = at(9, 12, 18) + 20  # 42 min 40 s left: "in 42 min" until 42 min are left
    assert changes_at(timer, now, BERLIN) == now + 40
    assert changes_at(AgendaView(), at(9, 12, 10), BERLIN) == at(9, 12, 30)
    assert changes_at(AgendaView(), at(9, 12, 45), BERLIN) == at(9, 13, 0)
