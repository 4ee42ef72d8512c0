"""Working hours: the ``[schedule]`` table of ``config.toml``, and when a shift is on. Pure.

The table (docs/shifts.md has the person's version)::

    [schedule]
    mon = "09:00-12:30,13:30-18:00"   # per weekday, mon..sun; "" or absent: no hours
    fri = "22:00-06:00"               # ends at 06:00 on Saturday
    timezone = "Europe/Berlin"        # default: the system's
    off = ["2026-12-24", "2026-12-27..2027-01-01"]
    end_of_shift = "offline"          # | "away_and_reassigning" | "away" | "nothing"

Rules the model keeps:

* A range belongs to the day it starts on, so a range that crosses midnight
  is skipped as a whole when its start day is an ``off`` date.
* Ranges that touch or overlap (``18:00-24:00`` and the next day's
  ``00:00-06:00``) make one shift: there is no end of shift between them.
* Times are wall-clock times in the schedule's timezone. On the day clocks go
  forward a range shifts as :func:`presence_agent.timespec.resolve_local` says
  (a start in the skipped hour is the moment of the jump); on the day they go
  back the first of the two showings counts. A shift is thus an hour shorter
  or longer on those days, as a person on the wall clock expects.
* Without any range the schedule is off: the agent behaves as if always on shift.

Every instant here is a POSIX timestamp (``float``, wall clock), like the
policy's ``Now.wall``; nothing reads a clock.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal, get_args

from presence_agent.timespec import parse_clock, resolve_local

log = logging.getLogger(__name__)

EndOfShift = Literal["offline", "away_and_reassigning", "away", "nothing"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KEYS = (*WEEKDAYS, "timezone", "off", "end_of_shift")
#: More than a year of days off, or ranges a day, is not a schedule but a mistake.
MAX_OFF_DAYS = 1000
MAX_RANGES_PER_DAY = 12
#: How far ahead to look for the next start or end (past any run of days off).
HORIZON_DAYS = 400
_MINUTES_PER_DAY = 24 * 60

__all__ = [
    "KEYS",
    "NO_SCHEDULE",
    "WEEKDAYS",
    "EndOfShift",
    "Range",
    "Schedule",
    "ScheduleError",
    "ScheduleSpec",
    "check_table",
    "check_value",
    "local_timezone",
    "spec_from",
]


class ScheduleError(ValueError):
    """A bad ``[schedule]`` value; the text names the file and the key."""


@dataclass(frozen=True, order=True)
class Range:
    """Minutes after midnight: ``start`` in 0..1439, ``end`` in 1..1440.

    ``end <= start`` means the range ends on the next day; ``end == 1440`` is midnight.
    """

    start: int
    end: int

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    @property
    def length(self) -> int:
        return self.end - self.start + (_MINUTES_PER_DAY if self.crosses_midnight else 0)

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class ScheduleSpec:
    """The schedule as configured (validated, not yet tied to a timezone)."""

    #: Monday first; each day's ranges sorted and not overlapping.
    days: tuple[tuple[Range, ...], ...] = ((),) * 7
    #: An IANA zone name, or ``None`` for the system's.
    timezone: str | None = None
    off: frozenset[date] = field(default_factory=frozenset)
    end_of_shift: EndOfShift = "offline"

    @property
    def enabled(self) -> bool:
        """Whether any working hours are set (otherwise: always on shift)."""
        return any(self.days)


#: No working hours: always on shift.
NO_SCHEDULE = ScheduleSpec()


# -- validation --------------------------------------------------------------------------


def check_value(path: Path, key: str, value: Any) -> Any:
    """One ``[schedule]`` key's value, checked and converted (for merging files key by key)."""
    where = f"{path}: key 'schedule.{key}'"
    if key in WEEKDAYS:
        return _check_day(where, value)
    if key == "timezone":
        if not isinstance(value, str):
            raise ScheduleError(f"{where} must be a timezone name such as 'Europe/Berlin'")
        if value.strip().lower() in ("", "system", "local"):
            return None
        _zone(where, value.strip())
        return value.strip()
    if key == "off":
        return _check_off(where, value)
    if key == "end_of_shift":
        choices = get_args(EndOfShift)
        if value not in choices:
            raise ScheduleError(f"{where} must be one of {', '.join(map(repr, choices))}")
        return value
    shown = repr(key) if len(key) <= 40 else f"{key[:40]!r}..."
    raise ScheduleError(
        f"{path}: unknown key {shown} in [schedule] (known keys: {', '.join(KEYS)})"
    )


def check_table(path: Path, table: Any) -> dict[str, Any]:
    """A whole ``[schedule]`` table from one file, every value checked."""
    if not isinstance(table, dict):
        raise ScheduleError(f"{path}: key 'schedule' must be a table ([schedule])")
    return {str(key): check_value(path, str(key), value) for key, value in table.items()}


def spec_from(values: Mapping[str, Any]) -> ScheduleSpec:
    """The spec from checked values (:func:`check_value`'s results, merged over files)."""
    days = tuple(values.get(day, ()) for day in WEEKDAYS)
    return ScheduleSpec(
        days=days,
        timezone=values.get("timezone"),
        off=values.get("off", frozenset()),
        end_of_shift=values.get("end_of_shift", "offline"),
    )


def _check_day(where: str, value: Any) -> tuple[Range, ...]:
    if isinstance(value, list):
        if not all(isinstance(part, str) for part in value):
            raise ScheduleError(f"{where} must be a string like '09:00-12:30,13:30-18:00'")
        parts = [p for item in value for p in item.split(",")]
    elif isinstance(value, str):
        parts = value.split(",")
    else:
        raise ScheduleError(f"{where} must be a string like '09:00-12:30,13:30-18:00'")
    parts = [p.strip() for p in parts if p.strip()]
    if len(parts) > MAX_RANGES_PER_DAY:
        raise ScheduleError(f"{where} has more than {MAX_RANGES_PER_DAY} ranges")
    ranges = sorted(_range(where, part) for part in parts)
    for before, after in itertools.pairwise(ranges):
        if after.start < before.start + before.length:
            raise ScheduleError(f"{where}: ranges {before} and {after} overlap")
    return _joined(ranges)


def _joined(ranges: list[Range]) -> tuple[Range, ...]:
    """Touching ranges (``09:00-12:00,12:00-13:00``) as one."""
    out: list[Range] = []
    for item in ranges:
        if out and not out[-1].crosses_midnight and out[-1].end == item.start:
            out[-1] = Range(out[-1].start, item.end)
        else:
            out.append(item)
    return tuple(out)


_RANGE = re.compile(r"(.+?)\s*[-\u2013]\s*(.+)")


def _range(where: str, text: str) -> Range:
    match = _RANGE.fullmatch(text) if len(text) <= 40 else None
    shown = repr(text if len(text) <= 40 else text[:40] + "...")
    if match is None:
        raise ScheduleError(f"{where}: {shown} is not a range like '09:00-17:30'")
    start_at = _clock(where, shown, match.group(1), allow_24=False)
    end_at = _clock(where, shown, match.group(2), allow_24=True)
    start = start_at.hour * 60 + start_at.minute
    end = _MINUTES_PER_DAY if end_at == time.max else end_at.hour * 60 + end_at.minute
    if start == end:
        raise ScheduleError(f"{where}: {shown} is empty (start and end are the same)")
    return Range(start, end)


def _clock(where: str, shown: str, part: str, *, allow_24: bool) -> time:
    at = parse_clock(part, allow_24=allow_24)
    if at is None:
        raise ScheduleError(
            f"{where}: {part[:12]!r} in {shown} is not a time of day (use HH:MM, 00:00-24:00)"
        )
    return at


def _check_off(where: str, value: Any) -> frozenset[date]:
    if not isinstance(value, list):
        raise ScheduleError(f"{where} must be a list of dates like ['2026-12-24']")
    days: set[date] = set()
    for item in value:
        first, last = _off_item(where, item)
        if last < first:
            raise ScheduleError(f"{where}: {first}..{last} ends before it starts")
        if (last - first).days + len(days) >= MAX_OFF_DAYS:
            raise ScheduleError(f"{where} names more than {MAX_OFF_DAYS} days")
        days.update(first + timedelta(days=n) for n in range((last - first).days + 1))
    return frozenset(days)


def _off_item(where: str, item: Any) -> tuple[date, date]:
    if isinstance(item, date) and not isinstance(item, datetime):
        return item, item  # a TOML date: off = [2026-12-24]
    if isinstance(item, str) and len(item) <= 40:
        first, _, last = item.strip().partition("..")
        try:
            start = date.fromisoformat(first.strip())
            return start, date.fromisoformat(last.strip()) if last else start
        except ValueError:
            pass
    shown = repr(item) if len(repr(item)) <= 40 else repr(item)[:40] + "..."
    raise ScheduleError(
        f"{where}: {shown} is not a date like '2026-12-24' or '2026-12-24..2026-12-31'"
    )


def _zone(where: str, name: str) -> tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        shown = repr(name) if len(name) <= 40 else f"{name[:40]!r}..."
        raise ScheduleError(
            f"{where}: unknown timezone {shown} (use a name such as 'Europe/Berlin')"
        ) from None


def local_timezone() -> tzinfo:
    """The system's timezone, with its rules (not just today's offset).

    tzlocal reads it where each OS keeps it (``TZ``, ``/etc/localtime``, the
    Windows registry); if none can be found, today's fixed offset is the best
    there is, and the log says so.
    """
    try:
        import tzlocal

        return tzlocal.get_localzone()
    except Exception as exc:  # noqa: BLE001 - any failure there has the same fallback
        fixed = datetime.now().astimezone().tzinfo
        log.warning("cannot tell the system's timezone (%s); using a fixed offset", exc)
        assert fixed is not None  # astimezone() always sets one
        return fixed


# -- the model -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Shift:
    """Where an instant stands: on shift or not, and the next changes (``None``: never)."""

    on: bool
    next_start: float | None
    next_end: float | None


class Schedule:
    """The configured working hours in a timezone. Pure and immutable; any thread.

    With no ranges (:attr:`ScheduleSpec.enabled` false) every instant is on shift.
    """

    def __init__(self, spec: ScheduleSpec, tz: tzinfo) -> None:
        self.spec = spec
        self.tz = tz
        self._days: dict[date, tuple[tuple[float, float], ...]] = {}

    def __repr__(self) -> str:
        return f"Schedule({self.spec!r}, {self.tz!r})"

    @classmethod
    def from_spec(
        cls, spec: ScheduleSpec, system_tz: Callable[[], tzinfo] = local_timezone
    ) -> Schedule:
        if spec.timezone is None:
            return cls(spec, system_tz())
        return cls(spec, _zone("schedule.timezone", spec.timezone))

    @property
    def enabled(self) -> bool:
        return self.spec.enabled

    @property
    def end_of_shift(self) -> EndOfShift:
        return self.spec.end_of_shift

    def is_on(self, wall: float) -> bool:
        if not self.enabled:
            return True
        for start, end in self._shifts(wall):
            if start > wall:
                return False
            if wall < end:
                return True
        return False

    def shift(self, wall: float) -> Shift:
        """``wall``'s place: on shift or not, the next start after it and the next end."""
        if not self.enabled:
            return Shift(True, None, None)
        on = False
        next_start = next_end = None
        for start, end in self._shifts(wall):
            if end <= wall:
                continue
            if start <= wall:
                on = True
                next_end = None if end == _FOREVER else end
                continue
            next_start = start
            if next_end is None and not on:
                next_end = None if end == _FOREVER else end
            break
        return Shift(on, next_start, next_end)

    def next_start(self, wall: float) -> float | None:
        """The first moment after ``wall`` when a shift starts."""
        return self.shift(wall).next_start

    def next_end(self, wall: float) -> float | None:
        """The first moment after ``wall`` when a shift ends."""
        return self.shift(wall).next_end

    def next_day_start(self, wall: float) -> float | None:
        """The first shift start on a later day than ``wall``'s ("tomorrow's shift")."""
        if not self.enabled:
            return None
        today = self._date(wall)
        for start, _end in self._shifts(wall):
            if start > wall and self._date(start) > today:
                return start
        return None

    # -- internals ---------------------------------------------------------------------

    def _date(self, wall: float) -> date:
        return datetime.fromtimestamp(wall, self.tz).date()

    def _shifts(self, wall: float) -> Iterator[tuple[float, float]]:
        """Shifts (merged ranges) from the day before ``wall``'s on, in order.

        A shift still going at the horizon ends at :data:`_FOREVER`.
        """
        first = self._date(wall) - timedelta(days=1)
        current: tuple[float, float] | None = None
        for offset in range(HORIZON_DAYS):
            for start, end in self._day(first + timedelta(days=offset)):
                if current is None:
                    current = (start, end)
                elif start <= current[1]:
                    current = (current[0], max(current[1], end))
                else:
                    yield current
                    current = (start, end)
        if current is not None:
            # Whether the last shift goes on past the horizon cannot be told:
            # say it does not end, rather than invent an end.
            last_day = resolve_local(first + timedelta(days=HORIZON_DAYS - 1), time(0), self.tz)
            yield current[0], _FOREVER if current[1] >= last_day.timestamp() else current[1]

    def _day(self, day: date) -> tuple[tuple[float, float], ...]:
        """The ranges that start on ``day``, as instants."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        out: list[tuple[float, float]] = []
        if day not in self.spec.off:
            for item in self.spec.days[day.weekday()]:
                start = resolve_local(day, _at(item.start), self.tz).timestamp()
                end_day = day + timedelta(days=1) if item.crosses_midnight else day
                if item.end == _MINUTES_PER_DAY:
                    end_day, end_at = day + timedelta(days=1), time(0, 0)
                else:
                    end_at = _at(item.end)
                end = resolve_local(end_day, end_at, self.tz).timestamp()
                if end > start:  # a range inside a skipped hour is no range
                    out.append((start, end))
        result = tuple(out)
        if len(self._days) > 1024:
            self._days.clear()  # only the days around "now" are ever asked for again
        self._days[day] = result
        return result


#: An end past the horizon: the shift does not end in any time we look at.
_FOREVER = float("inf")


def _at(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)
