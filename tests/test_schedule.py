"""Working hours (presence_agent/schedule.py): the table's checks and the shift model."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from presence_agent.schedule import (
    WEEKDAYS,
    Range,
    Schedule,
    ScheduleError,
    ScheduleSpec,
    check_table,
    spec_from,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
CONFIG = Path("/etc/xdg/presence-agent/config.toml")


def schedule(tz=BERLIN, **table) -> Schedule:
    return Schedule(spec_from(check_table(CONFIG, table)), tz)


def wall(y, mo, d, h=0, mi=0, tz=BERLIN) -> float:
    return datetime(y, mo, d, h, mi, tzinfo=tz).timestamp()


def local(ts: float | None, tz=BERLIN) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz).replace(tzinfo=None)


# -- the table ---------------------------------------------------------------------------------


def test_a_full_table():
    values = check_table(
        CONFIG,
        {
            "mon": "09:00-12:30,13:30-18:00",
            "tue": ["09:00-12:30", "13:30-18:00"],
            "fri": "22:00-06:00",
            "sat": "",
            "timezone": "Europe/Berlin",
            "off": ["2026-12-24", date(2026, 12, 25), "2026-12-30..2027-01-01"],
            "end_of_shift": "away_and_reassigning",
        },
    )
    spec = spec_from(values)
    assert spec.days[0] == (Range(540, 750), Range(810, 1080))
    assert spec.days[1] == spec.days[0]
    assert spec.days[4] == (Range(1320, 360),)
    assert spec.days[4][0].crosses_midnight
    assert spec.days[5] == ()
    assert spec.timezone == "Europe/Berlin"
    assert spec.off == {
        date(2026, 12, 24),
        date(2026, 12, 25),
        date(2026, 12, 30),
        date(2026, 12, 31),
        date(2027, 1, 1),
    }
    assert spec.end_of_shift == "away_and_reassigning"
    assert spec.enabled


def test_defaults():
    spec = spec_from({})
    assert spec == ScheduleSpec()
    assert not spec.enabled
    assert spec.timezone is None
    assert spec.end_of_shift == "offline"


def test_ranges_are_sorted_touching_ones_joined_and_12h_clocks_read():
    spec = spec_from(check_table(CONFIG, {"mon": "13:00-17:00, 9am-12pm,12:00-13:00"}))
    assert spec.days[0] == (Range(540, 1020),)


def test_24_00_ends_a_day():
    spec = spec_from(check_table(CONFIG, {"mon": "18:00-24:00", "tue": "00:00-24:00"}))
    assert spec.days[0] == (Range(1080, 1440),)
    assert not spec.days[0][0].crosses_midnight
    assert spec.days[1][0].length == 1440


@pytest.mark.parametrize("word", ["system", "local", ""])
def test_the_system_timezone_by_name(word):
    assert spec_from(check_table(CONFIG, {"timezone": word})).timezone is None


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        ({"mon": 9}, "schedule.mon", "must be a string like '09:00-12:30,13:30-18:00'"),
        ({"mon": [9]}, "schedule.mon", "must be a string"),
        ({"mon": "9-17"}, "schedule.mon", "'9' in '9-17' is not a time of day"),
        ({"tue": "09:00-25:00"}, "schedule.tue", "'25:00' in '09:00-25:00' is not a time"),
        ({"wed": "09:00"}, "schedule.wed", "'09:00' is not a range like '09:00-17:30'"),
        ({"thu": "24:00-06:00"}, "schedule.thu", "'24:00' in '24:00-06:00' is not a time"),
        ({"fri": "09:00-09:00"}, "schedule.fri", "is empty"),
        ({"sat": "09:00-12:00,11:00-13:00"}, "schedule.sat", "09:00-12:00 and 11:00-13:00 overlap"),
        ({"sun": "22:00-06:00,23:00-23:30"}, "schedule.sun", "overlap"),
        ({"mon": ",".join(["01:00-01:01"] * 13)}, "schedule.mon", "more than 12 ranges"),
        ({"timezone": "Mars/Olympus"}, "schedule.timezone", "unknown timezone 'Mars/Olympus'"),
        ({"timezone": "/etc/passwd"}, "schedule.timezone", "unknown timezone"),
        ({"timezone": "../../etc/passwd"}, "schedule.timezone", "unknown timezone"),
        ({"timezone": 1}, "schedule.timezone", "must be a timezone name"),
        ({"off": "2026-12-24"}, "schedule.off", "must be a list of dates"),
        ({"off": ["24.12.2026"]}, "schedule.off", "'24.12.2026' is not a date like"),
        ({"off": ["2026-02-30"]}, "schedule.off", "is not a date"),
        ({"off": [1]}, "schedule.off", "1 is not a date"),
        ({"off": ["2026-12-31..2026-12-24"]}, "schedule.off", "ends before it starts"),
        ({"off": ["2026-01-01..2030-01-01"]}, "schedule.off", "more than 1000 days"),
        ({"end_of_shift": "gone"}, "schedule.end_of_shift", "must be one of 'offline'"),
        ({"monday": "09:00-17:00"}, "'monday'", "unknown key 'monday' in [schedule]"),
    ],
)
def test_bad_values_name_the_file_and_the_key(table, key, words):
    with pytest.raises(ScheduleError) as caught:
        check_table(CONFIG, table)
    message = str(caught.value)
    assert message.startswith(f"{CONFIG}: ")
    assert key in message
    assert words in message
    assert len(message) < 240


def test_not_a_table():
    with pytest.raises(ScheduleError, match=r"key 'schedule' must be a table"):
        check_table(CONFIG, "09:00-17:00")


# -- the model: an ordinary week ---------------------------------------------------------------

OFFICE = {
    "mon": "09:00-12:30,13:30-18:00",
    "tue": "09:00-12:30,13:30-18:00",
    "wed": "09:00-12:30,13:30-18:00",
    "thu": "09:00-12:30,13:30-18:00",
    "fri": "09:00-15:00",
}
# 2026-03-09 is a Monday.


def test_no_ranges_means_always_on_shift():
    empty = Schedule(ScheduleSpec(), BERLIN)
    assert empty.is_on(wall(2026, 3, 8, 3))
    shift = empty.shift(wall(2026, 3, 8, 3))
    assert (shift.on, shift.next_start, shift.next_end) == (True, None, None)
    assert empty.next_day_start(wall(2026, 3, 8, 3)) is None


@pytest.mark.parametrize(
    ("at", "on", "start", "end"),
    [
        ((9, 8, 59), False, (9, 9, 0), (9, 12, 30)),
        ((9, 9, 0), True, (9, 13, 30), (9, 12, 30)),
        ((9, 12, 29), True, (9, 13, 30), (9, 12, 30)),
        ((9, 12, 30), False, (9, 13, 30), (9, 18, 0)),  # an end is not on shift
        ((9, 13, 30), True, (10, 9, 0), (9, 18, 0)),
        ((9, 18, 0), False, (10, 9, 0), (10, 12, 30)),
        ((13, 15, 0), False, (16, 9, 0), (16, 12, 30)),  # Friday afternoon: Monday next
        ((14, 12, 0), False, (16, 9, 0), (16, 12, 30)),  # a Saturday
    ],
)
def test_office_hours(at, on, start, end):
    hours = schedule(**OFFICE)
    now = wall(2026, 3, *at)
    shift = hours.shift(now)
    assert shift.on is on
    assert hours.is_on(now) is on
    assert local(shift.next_start) == datetime(2026, 3, *start)
    assert local(shift.next_end) == datetime(2026, 3, *end)
    assert hours.next_start(now) == shift.next_start
    assert hours.next_end(now) == shift.next_end


def test_tomorrows_shift():
    hours = schedule(**OFFICE)
    # At lunch on Monday the next start is 13:30, but tomorrow's shift is Tuesday 09:00.
    assert local(hours.next_day_start(wall(2026, 3, 9, 12, 45))) == datetime(2026, 3, 10, 9)
    assert local(hours.next_day_start(wall(2026, 3, 9, 8, 0))) == datetime(2026, 3, 10, 9)
    assert local(hours.next_day_start(wall(2026, 3, 13, 10))) == datetime(2026, 3, 16, 9)


def test_days_off():
    hours = schedule(**OFFICE, off=["2026-03-10", "2026-03-12..2026-03-16"])
    assert not hours.is_on(wall(2026, 3, 10, 10))
    assert hours.is_on(wall(2026, 3, 11, 10))
    shift = hours.shift(wall(2026, 3, 11, 18))
    assert local(shift.next_start) == datetime(2026, 3, 17, 9)
    assert local(hours.next_day_start(wall(2026, 3, 9, 10))) == datetime(2026, 3, 11, 9)


def test_a_long_holiday_is_looked_past():
    hours = schedule(mon="09:00-17:00", off=["2026-03-01..2026-09-30"])
    assert local(hours.next_start(wall(2026, 3, 2, 12))) == datetime(2026, 10, 5, 9)


def test_a_schedule_whose_every_day_is_off():
    hours = schedule(mon="09:00-17:00", off=["2026-03-01..2028-03-01"])
    shift = hours.shift(wall(2026, 3, 2, 12))
    assert (shift.on, shift.next_start, shift.next_end) == (False, None, None)


# -- across midnight -----------------------------------------------------------------------------


def test_a_night_shift_belongs_to_the_day_it_starts():
    hours = schedule(fri="22:00-06:00")
    assert not hours.is_on(wall(2026, 3, 13, 21, 59))
    assert hours.is_on(wall(2026, 3, 13, 22))
    assert hours.is_on(wall(2026, 3, 14, 5, 59))  # Saturday morning, Friday's shift
    assert not hours.is_on(wall(2026, 3, 14, 6))
    assert not hours.is_on(wall(2026, 3, 14, 23))  # Saturday night has no shift
    assert local(hours.next_end(wall(2026, 3, 14, 1))) == datetime(2026, 3, 14, 6)


def test_an_off_date_takes_the_whole_night_shift_that_starts_on_it():
    hours = schedule(thu="22:00-06:00", fri="22:00-06:00", off=["2026-03-13"])
    assert hours.is_on(wall(2026, 3, 13, 5))  # Thursday's shift, into the off Friday
    assert not hours.is_on(wall(2026, 3, 13, 23))  # Friday's own shift is off
    assert not hours.is_on(wall(2026, 3, 14, 5))


def test_shifts_that_meet_at_midnight_are_one():
    hours = schedule(mon="18:00-24:00", tue="00:00-02:00,08:00-10:00")
    shift = hours.shift(wall(2026, 3, 9, 20))
    assert shift.on
    assert local(shift.next_end) == datetime(2026, 3, 10, 2)  # no end at midnight
    assert local(shift.next_start) == datetime(2026, 3, 10, 8)


def test_a_night_shift_running_into_the_next_days_range_is_one():
    hours = schedule(mon="22:00-06:00", tue="05:00-09:00")
    assert local(hours.next_end(wall(2026, 3, 9, 23))) == datetime(2026, 3, 10, 9)


def test_round_the_clock_never_ends():
    hours = schedule(**dict.fromkeys(WEEKDAYS, "00:00-24:00"))
    shift = hours.shift(wall(2026, 3, 9, 12))
    assert (shift.on, shift.next_start, shift.next_end) == (True, None, None)


def test_round_the_clock_but_sundays():
    hours = schedule(**dict.fromkeys(WEEKDAYS[:6], "00:00-24:00"))
    shift = hours.shift(wall(2026, 3, 10, 12))
    assert local(shift.next_end) == datetime(2026, 3, 15, 0)
    assert local(shift.next_start) == datetime(2026, 3, 16, 0)


# -- clocks going forward and back ----------------------------------------------------------------
# Berlin: 2026-03-29 02:00 -> 03:00; 2026-10-25 03:00 -> 02:00 (both Sundays).
# New York: 2026-03-08 02:00 -> 03:00; 2026-11-01 02:00 -> 01:00.


def test_a_range_starting_in_the_skipped_hour_starts_at_the_jump():
    hours = schedule(sun="02:30-08:00")
    assert local(hours.next_start(wall(2026, 3, 28, 12))) == datetime(2026, 3, 29, 3, 0)
    assert hours.is_on(wall(2026, 3, 29, 3, 0))


def test_a_night_shift_on_the_night_clocks_go_forward_is_an_hour_shorter():
    hours = schedule(sat="22:00-06:00")
    start = hours.next_start(wall(2026, 3, 28, 12))
    assert start is not None
    end = hours.next_end(start)
    assert end is not None
    assert end - start == 7 * 3600
    assert local(end) == datetime(2026, 3, 29, 6)


def test_a_night_shift_on_the_night_clocks_go_back_is_an_hour_longer():
    hours = schedule(sat="22:00-06:00")
    start = hours.next_start(wall(2026, 10, 24, 12))
    assert start is not None
    end = hours.next_end(start)
    assert end is not None
    assert end - start == 9 * 3600


def test_a_range_inside_the_skipped_hour_is_no_range():
    hours = schedule(sun="02:10-02:50", mon="09:00-10:00")
    assert local(hours.next_start(wall(2026, 3, 28, 12))) == datetime(2026, 3, 30, 9)


def test_a_range_ending_in_the_repeated_hour_ends_at_its_first_showing():
    hours = schedule(tz=NEW_YORK, sat="22:00-01:30")
    start = hours.next_start(wall(2026, 10, 31, 12, tz=NEW_YORK))
    assert start is not None
    end = hours.next_end(start)
    assert end is not None
    assert end - start == 3.5 * 3600
    # The second 01:15 (standard time) is after the shift.
    second = datetime(2026, 11, 1, 6, 15, tzinfo=timezone.utc).timestamp()
    assert not hours.is_on(second)
    assert hours.is_on(second - 3600)


def test_the_timezone_of_the_schedule_not_of_the_caller():
    hours = schedule(tz=NEW_YORK, mon="09:00-17:00")
    # 09:00 in New York is 14:00 in Berlin (on 9 March 2026, between the two changes: 13:00).
    start = hours.next_start(wall(2026, 3, 9, 0, tz=NEW_YORK))
    assert start is not None
    assert datetime.fromtimestamp(start, NEW_YORK).hour == 9


def test_from_spec_uses_the_named_zone_or_the_systems():
    named = Schedule.from_spec(ScheduleSpec(timezone="Asia/Tokyo"), lambda: BERLIN)
    assert named.tz == ZoneInfo("Asia/Tokyo")
    system = Schedule.from_spec(ScheduleSpec(), lambda: NEW_YORK)
    assert system.tz is NEW_YORK


# -- properties, against a reference that reads wall clocks -----------------------------------

ZONES = [
    ZoneInfo("UTC"),
    BERLIN,
    NEW_YORK,
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("Australia/Lord_Howe"),
]


def hhmm(quarter: int) -> str:
    return f"{quarter * 15 // 60:02d}:{quarter * 15 % 60:02d}"


@st.composite
def day_value(draw):
    """A weekday's ranges, as text (in quarter hours), without overlaps."""
    count = draw(st.integers(0, 3))
    points = sorted(draw(st.sets(st.integers(0, 96), min_size=2 * count, max_size=2 * count)))
    parts = [f"{hhmm(a)}-{hhmm(b)}" for a, b in zip(points[::2], points[1::2], strict=True)]
    last = points[-1] if points else 0
    if last < 95 and draw(st.booleans()):
        # A last range running past midnight (into the next day, so it overlaps nothing).
        start = draw(st.integers(last + 1, 95))
        parts.append(f"{hhmm(start)}-{hhmm(draw(st.integers(0, start - 1)))}")
    return ",".join(parts)


@st.composite
def schedules(draw):
    table = {day: draw(day_value()) for day in WEEKDAYS}
    offs = draw(st.lists(st.dates(date(2026, 1, 1), date(2026, 12, 31)), max_size=5))
    table["off"] = [d.isoformat() for d in offs]
    return Schedule(spec_from(check_table(CONFIG, table)), draw(st.sampled_from(ZONES)))


instants = st.floats(wall(2026, 1, 3, tz=timezone.utc), wall(2026, 12, 20, tz=timezone.utc)).map(
    round
)


def wall_says_on(hours: Schedule, ts: float) -> bool:
    """On shift by the wall clock: the local time is inside a range of today or last night."""
    if not hours.enabled:
        return True
    now = datetime.fromtimestamp(ts, hours.tz)
    minute = now.hour * 60 + now.minute + now.second / 60
    today, yesterday = now.date(), now.date() - timedelta(days=1)
    if today not in hours.spec.off:
        for item in hours.spec.days[today.weekday()]:
            end = 1440 if item.crosses_midnight else item.end
            if item.start <= minute < end:
                return True
    if yesterday not in hours.spec.off:
        for item in hours.spec.days[yesterday.weekday()]:
            if item.crosses_midnight and minute < item.end:
                return True
    return False


def near_a_clock_change(tz, ts: float) -> bool:
    offsets = {datetime.fromtimestamp(ts + d * 3600, tz).utcoffset() for d in range(-27, 28)}
    return len(offsets) > 1


@settings(max_examples=300, deadline=None)
@given(schedules(), instants)
def test_on_shift_exactly_when_the_wall_clock_says_so(hours, ts):
    assume(not near_a_clock_change(hours.tz, ts))
    assert hours.is_on(ts) is wall_says_on(hours, ts)


@settings(max_examples=300, deadline=None)
@given(schedules(), instants, st.lists(st.floats(0, 1), min_size=5, max_size=5))
def test_nothing_changes_before_the_next_start_or_end(hours, ts, fractions):
    shift = hours.shift(ts)
    assert shift.on is hours.is_on(ts)
    change = shift.next_end if shift.on else shift.next_start
    if change is None:
        return
    assert change > ts
    # Just before the change it is still as it was; at the change it is not.
    assert hours.is_on(change - 1) is shift.on
    assert hours.is_on(change) is not shift.on
    for fraction in fractions:
        assert hours.is_on(ts + fraction * (change - ts - 1)) is shift.on


@settings(max_examples=200, deadline=None)
@given(schedules(), instants)
def test_the_next_start_is_after_the_next_end_when_on_and_before_it_when_off(hours, ts):
    shift = hours.shift(ts)
    if shift.next_start is not None and shift.next_end is not None:
        if shift.on:
            assert shift.next_end <= shift.next_start
        else:
            assert shift.next_start < shift.next_end
    if shift.next_start is not None:
        assert hours.next_day_start(ts) is None or hours.next_day_start(ts) >= shift.next_start
