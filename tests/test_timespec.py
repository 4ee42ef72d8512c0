"""Durations and clock times as people type them (presence_agent/timespec.py)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from presence_agent.timespec import (
    MAX_SPAN,
    TimeSpecError,
    format_clock,
    format_span,
    parse_clock,
    parse_duration,
    parse_until,
    resolve_local,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # clocks move by 30 minutes


# -- durations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("45m", 2700),
        ("1h30m", 5400),
        ("2h", 7200),
        ("1d", 86400),
        ("1h 30m", 5400),
        ("1H30M", 5400),
        (" 15 min ", 900),
        ("1 hour 30 minutes", 5400),
        ("2 hours", 7200),
        ("1h0m5s", 3605),
        ("7d", 7 * 86400),
        ("3s", 3),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "not a duration"),
        ("soon", "not a duration"),
        ("30", "has no unit: say 30m for minutes or 30s"),
        ("1.5", "has no unit"),
        ("0m", "more than zero"),
        ("0h0m", "more than zero"),
        ("-5m", "positive"),
        ("8d", "longer than 7 days"),
        ("7d1s", "longer than 7 days"),
        ("10000000h", "longer than 7 days"),
        ("1m1h", "largest unit first"),
        ("1h1h", "largest unit first"),
        ("5x", "unknown unit 'x'"),
        ("1.5h", "not a duration"),
        ("1h30", "not a duration"),
        ("m30", "not a duration"),
        ("1" * 100 + "m", "not a duration"),
    ],
)
def test_bad_durations_say_why(text, words):
    with pytest.raises(TimeSpecError, match=None) as caught:
        parse_duration(text)
    assert words in str(caught.value)
    assert len(str(caught.value)) < 120  # one short line, even for junk


@given(st.integers(1, int(MAX_SPAN)))
def test_any_written_out_duration_reads_back(seconds):
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = "".join(
        f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if n
    )
    assert parse_duration(text) == seconds


@given(st.text(max_size=30))
def test_junk_is_an_error_or_a_sane_duration(text):
    try:
        seconds = parse_duration(text)
    except TimeSpecError:
        return
    assert 0 < seconds <= MAX_SPAN


# -- clock times --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13:00", time(13, 0)),
        ("9:30", time(9, 30)),
        ("09:05", time(9, 5)),
        ("00:00", time(0, 0)),
        ("23:59", time(23, 59)),
        ("1pm", time(13, 0)),
        ("1:30 PM", time(13, 30)),
        ("12am", time(0, 0)),
        ("12pm", time(12, 0)),
        ("12:15a.m.", time(0, 15)),
    ],
)
def test_clock_times(text, expected):
    assert parse_clock(text) == expected


@pytest.mark.parametrize(
    "text", ["13", "24:00", "25:00", "12:60", "13pm", "0am", "noon", "1:5", ""]
)
def test_bad_clock_times(text):
    assert parse_clock(text) is None


def test_24_00_only_as_the_end_of_a_day():
    assert parse_clock("24:00") is None
    assert parse_clock("24:00", allow_24=True) == time.max
    assert parse_clock("24:30", allow_24=True) is None


# -- local times through clock changes -------------------------------------------------------


def test_an_ordinary_local_time():
    at = resolve_local(date(2026, 6, 1), time(13, 0), BERLIN)
    assert at == datetime(2026, 6, 1, 11, 0, tzinfo=timezone.utc)


def test_a_skipped_local_time_means_the_moment_of_the_jump():
    # 29 March 2026, Berlin: 02:00 CET becomes 03:00 CEST (01:00 UTC).
    jump = datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc)
    for minute in (0, 1, 30, 59):
        assert resolve_local(date(2026, 3, 29), time(2, minute), BERLIN) == jump
    assert resolve_local(date(2026, 3, 29), time(3, 0), BERLIN) == jump
    assert resolve_local(date(2026, 3, 29), time(1, 59), BERLIN) == jump - timedelta(minutes=1)


def test_a_repeated_local_time_means_its_first_showing():
    # 25 October 2026, Berlin: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
    first = datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc)
    assert resolve_local(date(2026, 10, 25), time(2, 30), BERLIN) == first


def test_half_hour_clock_changes():
    # Lord Howe Island: 02:00 becomes 02:30 on 4 October 2026.
    at = resolve_local(date(2026, 10, 4), time(2, 10), LORD_HOWE)
    assert at.astimezone(LORD_HOWE).time() == time(2, 30)


@given(
    st.dates(date(2020, 1, 1), date(2035, 12, 31)),
    st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    st.sampled_from([BERLIN, NEW_YORK, LORD_HOWE, ZoneInfo("UTC"), ZoneInfo("Asia/Kolkata")]),
)
def test_resolved_times_show_the_asked_time_or_the_first_after_it(day, at, tz):
    instant = resolve_local(day, at, tz)
    shown = instant.astimezone(tz).replace(tzinfo=None)
    asked = datetime.combine(day, at)
    assert shown >= asked
    if shown != asked:
        # Only in a gap, and then to its end: a minute earlier is before the asked time.
        before = (instant - timedelta(minutes=1)).astimezone(tz).replace(tzinfo=None)
        assert before < asked
        assert shown - asked <= timedelta(hours=1)


# -- "until" ------------------------------------------------------------------------------------


def at(hour, minute=0, day=10, tz=BERLIN):
    return datetime(2026, 3, day, hour, minute, tzinfo=tz)


def test_until_a_time_still_ahead_today():
    assert parse_until("13:00", at(9, 15), BERLIN) == at(13)


def test_until_a_time_already_past_means_tomorrow_like_an_alarm_clock():
    assert parse_until("9:00", at(17), BERLIN) == at(9, day=11)
    assert parse_until("13:00", at(13), BERLIN) == at(13, day=11)  # "now" is not ahead


def test_until_a_night_shift_time_after_midnight():
    assert parse_until("01:00", at(23), BERLIN) == at(1, day=11)


def test_today_insists_on_today():
    assert parse_until("today 13:00", at(9), BERLIN) == at(13)
    with pytest.raises(TimeSpecError, match=r"13:00 has already passed \(it is 13:05\)"):
        parse_until("today 13:00", at(13, 5), BERLIN)


def test_tomorrow_and_dates():
    assert parse_until("tomorrow 9:00", at(8), BERLIN) == at(9, day=11)
    assert parse_until("2026-03-12 9:00", at(8), BERLIN) == at(9, day=12)
    assert parse_until("2026-03-12T09:00", at(8), BERLIN) == at(9, day=12)
    with pytest.raises(TimeSpecError, match="has already passed"):
        parse_until("2026-03-09 9:00", at(8), BERLIN)
    with pytest.raises(TimeSpecError, match="more than 7 days away"):
        parse_until("2026-03-20 9:00", at(8), BERLIN)
    with pytest.raises(TimeSpecError, match="not a date"):
        parse_until("2026-02-30 9:00", at(8), BERLIN)


@pytest.mark.parametrize(
    "text", ["", "lunch", "13", "25:00", "tomorrow", "next week 9:00", "x" * 200]
)
def test_bad_until(text):
    with pytest.raises(TimeSpecError, match="not a time"):
        parse_until(text, at(9), BERLIN)


def test_until_across_a_clock_change_is_in_the_new_offset():
    # Saturday 23:00 CET, until 09:00 Sunday, which is CEST: 9 hours, not 10.
    now = datetime(2026, 3, 28, 23, 0, tzinfo=BERLIN)
    end = parse_until("9:00", now, BERLIN)
    assert end.astimezone(BERLIN).hour == 9
    assert (end - now).total_seconds() == 9 * 3600


def test_until_uses_the_given_zone_not_the_offset_of_now():
    now = datetime(2026, 6, 1, 10, 0, tzinfo=timezone.utc)  # 06:00 in New York
    assert parse_until("7:00", now, NEW_YORK) == datetime(2026, 6, 1, 11, 0, tzinfo=timezone.utc)


@given(
    st.datetimes(datetime(2020, 1, 1), datetime(2035, 1, 1), timezones=st.just(BERLIN)),
    st.integers(0, 23),
    st.integers(0, 59),
)
def test_a_bare_time_is_always_within_the_next_day(now, hour, minute):
    end = parse_until(f"{hour}:{minute:02d}", now, BERLIN)
    assert end > now
    assert (end - now).total_seconds() <= 25 * 3600  # a day, plus an hour on a clock change


# -- showing times and spans --------------------------------------------------------------------


def test_clock_shows_the_day_when_not_today():
    now = at(9)
    assert format_clock(at(13), now, BERLIN) == "13:00"
    assert format_clock(at(9, day=11), now, BERLIN) == "tomorrow 09:00"
    assert format_clock(at(9, day=13), now, BERLIN) == "Fri 09:00"
    assert format_clock(at(9, day=20), now, BERLIN) == "20 Mar 09:00"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (3, "3 s"),
        (59.2, "1 min"),
        (60, "1 min"),
        (70, "2 min"),
        (42 * 60, "42 min"),
        (3600, "1 h"),
        (3600 + 1, "1 h 1 min"),
        (5 * 3600 + 5 * 60, "5 h 5 min"),
        (86400, "1 d"),
        (86400 + 3 * 3600, "1 d 3 h"),
    ],
)
def test_spans_round_up(seconds, text):
    assert format_span(seconds) == text
