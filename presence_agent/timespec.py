"""Durations and clock times as people type them (``90s``, ``1h30m``, ``13:00``). Pure.

No clock is read here: every function that needs "now" is given it, as an
aware :class:`~datetime.datetime`, and a timezone as a :class:`~datetime.tzinfo`
(a :class:`zoneinfo.ZoneInfo` in practice), so tests can pin both.

The rules a person meets (docs/shifts.md says the same):

* A duration is one or more ``<number><unit>`` parts, largest unit first:
  ``90s``, ``45m``, ``1h30m``, ``2h``, ``1d``; units may be spelled out
  (``45 min``, ``1 hour 30 minutes``). A bare number is refused, because
  nobody can tell whether ``30`` means seconds or minutes.
* A time is ``13:00``, ``9:30``, ``1pm`` or ``1:30pm`` in the local timezone.
  Like an alarm clock, it means its **next** occurrence: ``--until 9:00``
  typed at 17:00 means tomorrow morning. Every caller shows the day when it is
  not today ("until tomorrow 09:00"), so a slip is visible at once.
  ``today 13:00`` insists on today (and is an error once 13:00 has passed),
  ``tomorrow 13:00`` means tomorrow, and ``2026-12-24 09:00`` a date.
* Nothing may be zero, negative, or more than :data:`MAX_SPAN` (7 days) away:
  a status set for longer is a holiday, which ``off`` dates in the schedule
  describe better.
* A local time that does not exist (the hour skipped when clocks go forward)
  means the moment the clocks jump, the nearest real time after it; one that
  happens twice (the hour repeated when clocks go back) means the first.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from presence_agent.i18n import ENGLISH, Translator

#: The longest span a duration or an end time may be away.
MAX_SPAN = 7 * 86400.0

__all__ = [
    "MAX_SPAN",
    "TimeSpecError",
    "format_clock",
    "format_span",
    "parse_clock",
    "parse_duration",
    "parse_until",
    "resolve_local",
]


class TimeSpecError(ValueError):
    """A duration or a time that cannot be understood; the text says why, briefly."""


_UNITS = {
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
}
_PART = re.compile(r"\s*(\d+)\s*([a-z]+)\s*")
#: Longest text worth reading: anything longer is not a duration or a time.
_MAX_TEXT = 64


def _shown(text: str) -> str:
    return repr(text if len(text) <= 24 else text[:24] + "...")


def parse_duration(text: str, tr: Translator = ENGLISH) -> float:
    """Seconds in ``text`` (``90s``, ``1h30m``...), or :class:`TimeSpecError` (in ``tr``'s
    language; the units themselves stay the ones this parser reads)."""
    raw = text.strip().lower()
    shown = _shown(text)
    if not raw or len(raw) > _MAX_TEXT:
        raise TimeSpecError(
            tr._("not a duration: {text} (try 30m, 1h30m or 90s)").format(text=shown)
        )
    if raw.startswith("-"):
        raise TimeSpecError(tr._("a duration must be positive, not {text}").format(text=shown))
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        raise TimeSpecError(
            tr._("{text} has no unit: say {number}m for minutes or {number}s for seconds").format(
                text=shown, number=raw
            )
        )
    total = 0
    pos = 0
    last_unit = None
    while pos < len(raw):
        match = _PART.match(raw, pos)
        if match is None or match.end() == pos:
            words = tr._("not a duration: {text} (try 30m, 1h30m or 90s)")
            raise TimeSpecError(words.format(text=shown))
        number, word = match.groups()
        unit = _UNITS.get(word)
        if unit is None:
            words = tr._("unknown unit {unit} in {text} (use d, h, m or s)")
            raise TimeSpecError(words.format(unit=repr(word[:12]), text=shown))
        if last_unit is not None and unit >= last_unit:
            words = tr._("{text}: put the largest unit first, each once (like 1h30m)")
            raise TimeSpecError(words.format(text=shown))
        last_unit = unit
        total += int(number) * unit
        pos = match.end()
    if total <= 0:
        raise TimeSpecError(
            tr._("a duration must be more than zero, not {text}").format(text=shown)
        )
    if total > MAX_SPAN:
        raise TimeSpecError(tr._("{text} is longer than 7 days").format(text=shown))
    return float(total)


_CLOCK = re.compile(r"(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?")


def parse_clock(text: str, *, allow_24: bool = False) -> time | None:
    """The time of day in ``text`` (``13:00``, ``9:30``, ``1pm``), or ``None``.

    ``24:00`` (the end of a day, for working-hours ranges) only with ``allow_24``;
    it comes back as ``time.max``, which callers must treat as the next midnight.
    """
    match = _CLOCK.fullmatch(text.strip().lower())
    if match is None:
        return None
    hour_text, minute_text, half = match.groups()
    if half is None and minute_text is None:
        return None  # a bare "13" is not a time
    hour, minute = int(hour_text), int(minute_text or 0)
    if minute > 59:
        return None
    if half is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half.startswith("p") else 0)
    if hour == 24 and minute == 0 and allow_24 and half is None:
        return time.max
    if hour > 23:
        return None
    return time(hour, minute)


def resolve_local(day: date, at: time, tz: tzinfo) -> datetime:
    """The instant the clocks in ``tz`` show ``at`` on ``day``, in UTC.

    UTC, because Python compares and subtracts two datetimes of the same zone
    by their wall-clock fields, which is wrong across a clock change. A time
    skipped by a change to summer time means the moment of the jump; a time
    shown twice when the clocks go back means its first showing.
    """
    wall = datetime.combine(day, at).replace(tzinfo=tz, fold=0)
    instant = wall.astimezone(timezone.utc)
    if instant.astimezone(tz).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return instant
    # In a gap: fold=1 reads it with the offset after the jump, fold=0 with the
    # one before, and the jump itself lies between. Find it to the second.
    early = int(wall.replace(fold=1).astimezone(timezone.utc).timestamp())
    late = int(instant.timestamp())
    if early > late:
        early, late = late, early
    before = _offset(early, tz)
    while late - early > 1:
        middle = (early + late) // 2
        if _offset(middle, tz) == before:
            early = middle
        else:
            late = middle
    return datetime.fromtimestamp(late, timezone.utc)


def _offset(epoch: int, tz: tzinfo) -> timedelta | None:
    return datetime.fromtimestamp(epoch, tz).utcoffset()


_UNTIL = re.compile(
    r"(?:(?P<word>today|tomorrow)\s+|(?P<date>\d{4}-\d{2}-\d{2})[ t])?(?P<clock>.+)"
)


def parse_until(text: str, now: datetime, tz: tzinfo, tr: Translator = ENGLISH) -> datetime:
    """The instant ``text`` names (in UTC), strictly after ``now``.

    ``13:00`` is its next occurrence (today if still ahead, else tomorrow);
    ``today 13:00`` insists on today, ``tomorrow 13:00`` and ``2026-12-24 13:00``
    name the day.
    """
    raw = text.strip().lower()
    match = _UNTIL.fullmatch(raw) if len(raw) <= _MAX_TEXT else None
    at = parse_clock(match.group("clock")) if match else None
    if match is None or at is None:
        words = tr._("not a time: {text} (try 13:00, 1:30pm, tomorrow 9:00 or 2026-12-24 9:00)")
        raise TimeSpecError(words.format(text=_shown(text)))
    today = now.astimezone(tz).date()
    now = now.astimezone(timezone.utc)
    word, day_text = match.group("word"), match.group("date")
    if day_text is not None:
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            words = tr._("not a date: {text} (use YYYY-MM-DD)")
            raise TimeSpecError(words.format(text=repr(day_text))) from None
    elif word == "tomorrow":
        day = today + timedelta(days=1)
    else:
        day = today
    end = resolve_local(day, at, tz)
    if end <= now:
        if word is None and day_text is None:
            # Like an alarm clock: a time already past today means tomorrow.
            end = resolve_local(today + timedelta(days=1), at, tz)
        else:
            words = tr._("{time} has already passed (it is {now})")
            raise TimeSpecError(
                words.format(
                    time=format_clock(end, now, tz, tr), now=format_clock(now, now, tz, tr)
                )
            )
    if (end - now).total_seconds() > MAX_SPAN:
        words = tr._("{time} is more than 7 days away")
        raise TimeSpecError(words.format(time=format_clock(end, now, tz, tr)))
    return end


def format_clock(when: datetime, now: datetime, tz: tzinfo, tr: Translator = ENGLISH) -> str:
    """``13:00`` today, ``tomorrow 09:00``, ``Mon 09:00`` within a week, else ``24 Dec 09:00``
    (or ``1:00 PM``..., as ``tr``'s locale writes a time)."""
    return tr.clock(when.astimezone(tz), now.astimezone(tz).date())


def format_span(seconds: float, tr: Translator = ENGLISH) -> str:
    """A span for a person, rounded up: ``45 s``, ``42 min``, ``1 h 5 min``, ``2 d 3 h``.

    Rounded up, so "in 1 min" never shows for a timer that has 70 s left.
    """
    whole = max(0, math.ceil(seconds))
    if whole < 60:
        return tr._("{seconds} s").format(seconds=whole)
    minutes = math.ceil(whole / 60)
    if minutes < 60:
        return tr._("{minutes} min").format(minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        if minutes == 0:
            return tr._("{hours} h").format(hours=hours)
        return tr._("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
    days, hours = divmod(hours, 24)
    if hours == 0:
        return tr._("{days} d").format(days=days)
    return tr._("{days} d {hours} h").format(days=days, hours=hours)
