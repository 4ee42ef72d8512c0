"""The words for timers and working hours: the tray's first line, ``status``, the menu's
durations. Pure functions of the agenda's view, the time and the person's
:class:`~presence_agent.i18n.Translator`; standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from presence_agent.events import AgendaView
from presence_agent.i18n import ENGLISH, N_, Translator
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

#: The tray's fixed durations: label (an English msgid) and seconds.
DURATIONS: tuple[tuple[str, float], ...] = (
    (N_("For 15 minutes"), 15 * 60.0),
    (N_("For 30 minutes"), 30 * 60.0),
    (N_("For 1 hour"), 3600.0),
    (N_("For 2 hours"), 7200.0),
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


def _clock(when: float, now: float, tz: tzinfo, tr: Translator) -> str:
    return format_clock(datetime.fromtimestamp(when, tz), datetime.fromtimestamp(now, tz), tz, tr)


def back_at(view: AgendaView, now: float, tz: tzinfo, tr: Translator = ENGLISH) -> str | None:
    """``back at 13:00 (in 42 min)`` while a timer runs, else ``None``."""
    timer = view.timer
    if timer is None:
        return None
    return tr._("back at {time} (in {span})").format(
        time=_clock(timer.until, now, tz, tr), span=format_span(timer.remaining(now), tr)
    )


def off_shift(view: AgendaView, now: float, tz: tzinfo, tr: Translator = ENGLISH) -> str | None:
    """``Off shift · starts 09:00`` outside working hours, else ``None``."""
    if not view.scheduled or view.on_shift:
        return None
    if view.next_start is None:
        return tr._("Off shift")
    return tr._("Off shift · starts {time}").format(time=_clock(view.next_start, now, tz, tr))


def status_line(
    label: str, view: AgendaView, now: float, tz: tzinfo, tr: Translator = ENGLISH
) -> str:
    """The first line: ``Away · back at 13:00 (in 42 min)``, ``Off shift · starts 09:00``,
    or just ``label`` (already in the person's language)."""
    timed = back_at(view, now, tz, tr)
    if timed is not None:
        return f"{label} · {timed}"
    return off_shift(view, now, tz, tr) or label


def timed_choices(
    view: AgendaView, now: float, tz: tzinfo, tr: Translator = ENGLISH
) -> tuple[TimedChoice, ...]:
    """A status's durations: the fixed ones, a few whole hours today, the end of this shift,
    and tomorrow's shift where working hours are set."""
    out = [TimedChoice(tr._(label), seconds=seconds) for label, seconds in DURATIONS]
    local = datetime.fromtimestamp(now, tz)
    hour = local.replace(minute=0, second=0, microsecond=0)
    offered = 0
    for step in range(1, 25):
        candidate = hour + timedelta(hours=step)
        if candidate.date() != local.date() or offered == UNTIL_HOURS:
            break
        at = resolve_local(candidate.date(), candidate.time(), tz).timestamp()
        if at - now >= MIN_UNTIL_AHEAD:
            out.append(TimedChoice(tr._("Until {time}").format(time=_clock(at, now, tz, tr)), at))
            offered += 1
    if view.scheduled and view.on_shift and view.next_end is not None and view.next_end > now:
        end = _clock(view.next_end, now, tz, tr)
        words = tr._("Until the end of the shift ({time})").format(time=end)
        out.append(TimedChoice(words, view.next_end))
    next_day_start = view.next_day_start
    if next_day_start is not None and now < next_day_start <= now + MAX_SPAN:
        days = (datetime.fromtimestamp(next_day_start, tz).date() - local.date()).days
        start = datetime.fromtimestamp(next_day_start, tz)
        label = (
            tr._("Until tomorrow's shift ({time})").format(time=tr.time(start.hour, start.minute))
            if days == 1
            else tr._("Until the next shift ({time})").format(
                time=_clock(next_day_start, now, tz, tr)
            )
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
