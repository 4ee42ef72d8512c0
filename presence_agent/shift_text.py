"""The words for timers and working hours: the tray's first line, ``status``, the menu's
durations. Pure functions of the agenda's view and the time; standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from presence_agent.events import AgendaView
from presence_agent.timespec import MAX_SPAN, format_clock, format_span, resolve_local

__all__ = [
    "DURATIONS",
    "TimedChoice",
    "back_at",
    "changes_at",
    "off_shift",
    "status_line",
    "timed_choices",
]

#: The tray's fixed durations: label and seconds.
DURATIONS: tuple[tuple[str, float], ...] = (
    ("For 15 minutes", 15 * 60.0),
    ("For 30 minutes", 30 * 60.0),
    ("For 1 hour", 3600.0),
    ("For 2 hours", 7200.0),
)
#: "Until HH:00" is offered for whole hours at least this far ahead, today.
MIN_UNTIL_AHEAD = 30 * 60.0
UNTIL_HOURS = 3


@dataclass(frozen=True)
class TimedChoice:
    """One entry of a status's duration menu: for ``seconds`` from when it is picked, or
    until the wall-clock instant ``until``."""

    label: str
    until: float | None = None
    seconds: float | None = None


def _clock(when: float, now: float, tz: tzinfo) -> str:
    return format_clock(datetime.fromtimestamp(when, tz), datetime.fromtimestamp(now, tz), tz)


def back_at(view: AgendaView, now: float, tz: tzinfo) -> str | None:
    """``back at 13:00 (in 42 min)`` while a timer runs, else ``None``."""
    timer = view.timer
    if timer is None:
        return None
    return f"back at {_clock(timer.until, now, tz)} (in {format_span(timer.remaining(now))})"


def off_shift(view: AgendaView, now: float, tz: tzinfo) -> str | None:
    """``Off shift · starts 09:00`` outside working hours, else ``None``."""
    if not view.scheduled or view.on_shift:
        return None
    if view.next_start is None:
        return "Off shift"
    return f"Off shift · starts {_clock(view.next_start, now, tz)}"


def status_line(label: str, view: AgendaView, now: float, tz: tzinfo) -> str:
    """The first line: ``Away · back at 13:00 (in 42 min)``, ``Off shift · starts 09:00``,
    or just ``label``."""
    timed = back_at(view, now, tz)
    if timed is not None:
        return f"{label} · {timed}"
    return off_shift(view, now, tz) or label


def timed_choices(view: AgendaView, now: float, tz: tzinfo) -> tuple[TimedChoice, ...]:
    """A status's durations: the fixed ones, a few whole hours today, the end of this shift,
    and tomorrow's shift where working hours are set."""
    out = [TimedChoice(label, seconds=seconds) for label, seconds in DURATIONS]
    local = datetime.fromtimestamp(now, tz)
    hour = local.replace(minute=0, second=0, microsecond=0)
    offered = 0
    for step in range(1, 25):
        candidate = hour + timedelta(hours=step)
        if candidate.date() != local.date() or offered == UNTIL_HOURS:
            break
        at = resolve_local(candidate.date(), candidate.time(), tz).timestamp()
        if at - now >= MIN_UNTIL_AHEAD:
            out.append(TimedChoice(f"Until {_clock(at, now, tz)}", at))
            offered += 1
    if view.scheduled and view.on_shift and view.next_end is not None and view.next_end > now:
        out.append(
            TimedChoice(
                f"Until the end of the shift ({_clock(view.next_end, now, tz)})", view.next_end
            )
        )
    next_day_start = view.next_day_start
    if next_day_start is not None and now < next_day_start <= now + MAX_SPAN:
        days = (datetime.fromtimestamp(next_day_start, tz).date() - local.date()).days
        hhmm = datetime.fromtimestamp(next_day_start, tz).strftime("%H:%M")
        label = (
            f"Until tomorrow's shift ({hhmm})"
            if days == 1
            else f"Until the next shift ({_clock(next_day_start, now, tz)})"
        )
        out.append(TimedChoice(label, next_day_start))
    return tuple(out)


def changes_at(view: AgendaView, now: float, tz: tzinfo) -> float:
    """When these words next change: the next minute of a running timer's "in 42 min",
    else the next half hour (the "Until HH:00" entries) or midnight ("tomorrow")."""
    local = datetime.fromtimestamp(now, tz)
    half_hour = local.replace(minute=30 if local.minute < 30 else 0, second=0, microsecond=0)
    if local.minute >= 30:
        half_hour += timedelta(hours=1)
    at = resolve_local(half_hour.date(), half_hour.time(), tz).timestamp()
    if view.timer is not None and view.timer.until > now:
        left = view.timer.until - now
        # "in N min" is rounded up: it changes when ``left`` crosses a whole minute.
        step = left % 60 or 60.0
        at = min(at, now + (step if left > 60 else min(left, 1.0)))
    return max(at, now + 1.0)
