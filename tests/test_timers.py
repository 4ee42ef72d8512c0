"""Timed statuses (presence_agent/timers.py): reminders, ends, drops, and the state file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from presence_agent.events import TimedStatus
from presence_agent.timers import (
    EXTEND_BY,
    REMINDER_LEAD,
    AgendaStore,
    Ending,
    Expire,
    Kept,
    Remind,
    StatusTimer,
    ending_for,
    remind_at,
)
from presence_agent.vocab import Status

T0 = 1_780_000_000.0


def timed(status=Status.AWAY, minutes=30.0, at=T0, **kw) -> TimedStatus:
    return TimedStatus(status, at + minutes * 60, at, "tray", **kw)


def test_nothing_before_the_reminder():
    timer = StatusTimer()
    timer.start(timed())
    assert timer.deadline() == T0 + 29 * 60
    assert timer.step(T0 + 29 * 60 - 1, True) is None
    assert timer.current == timed()


def test_a_reminder_a_minute_before_then_the_end():
    timer = StatusTimer()
    timer.start(timed())
    action = timer.step(T0 + 29 * 60, True)
    assert isinstance(action, Remind)
    assert action.timed.until == T0 + 30 * 60
    assert action.timed.reminded
    assert timer.step(T0 + 29 * 60 + 30, True) is None  # reminded once
    assert timer.deadline() == T0 + 30 * 60
    end = timer.step(T0 + 30 * 60, True)
    assert end == Expire(action.timed, Ending.AVAILABLE)
    assert timer.current is None
    assert timer.deadline() is None
    assert timer.step(T0 + 31 * 60, True) is None


def test_the_end_follows_recent_activity():
    assert ending_for(True) is Ending.AVAILABLE
    assert ending_for(False) is Ending.IDLE_AWAY
    timer = StatusTimer()
    timer.start(timed(minutes=1))
    end = timer.step(T0 + 60, recently_active=False)
    assert isinstance(end, Expire)
    assert end.ending is Ending.IDLE_AWAY


def test_a_short_timer_has_no_reminder():
    short = TimedStatus(Status.BUSY, T0 + 3, T0, "cli")
    assert remind_at(short) is None
    timer = StatusTimer()
    timer.start(short)
    assert timer.deadline() == T0 + 3
    assert timer.step(T0 + 2, True) is None
    assert isinstance(timer.step(T0 + 3, True), Expire)
    assert remind_at(TimedStatus(Status.BUSY, T0 + 2 * REMINDER_LEAD, T0)) == T0 + REMINDER_LEAD


def test_an_end_passed_during_a_sleep_comes_at_once_without_a_late_reminder():
    timer = StatusTimer()
    timer.start(timed())
    action = timer.step(T0 + 5 * 3600, recently_active=False)
    assert action == Expire(timed(), Ending.IDLE_AWAY)


def test_waking_inside_the_last_minute_reminds_then_ends_on_time():
    timer = StatusTimer()
    timer.start(timed())
    assert isinstance(timer.step(T0 + 29 * 60 + 50, True), Remind)
    assert timer.deadline() == T0 + 30 * 60


def test_another_status_drops_it():
    timer = StatusTimer()
    timer.start(timed())
    timer.held(Status.AWAY, by_idle=False)  # the echo of our own away
    timer.held(Status.AWAY, by_idle=None)  # the documented server cannot tell: still ours
    assert timer.current is not None
    timer.held(Status.AVAILABLE, by_idle=None)
    assert timer.current is None
    assert timer.step(T0 + 3600, True) is None


def test_an_idle_away_is_not_the_away_it_set():
    timer = StatusTimer()
    timer.start(timed())
    timer.held(Status.AWAY, by_idle=True)  # the web app's idle away, after a change elsewhere
    assert timer.current is None


def test_drop_and_extend():
    timer = StatusTimer()
    timer.start(timed())
    assert timer.extend(T0 + 29 * 60) == TimedStatus(
        Status.AWAY, T0 + 30 * 60 + EXTEND_BY, T0 + 29 * 60, "tray"
    )
    # A fresh reminder a minute before the new end.
    assert timer.deadline() == T0 + 30 * 60 + EXTEND_BY - REMINDER_LEAD
    # Extending an end that has passed counts from now.
    late = StatusTimer(timed(minutes=1))
    extended = late.extend(T0 + 600, 300)
    assert extended is not None
    assert extended.until == T0 + 900
    assert timer.drop() is not None
    assert timer.current is None
    assert timer.extend(T0) is None
    assert timer.drop() is None


def test_a_restored_timer_waits_for_the_server():
    timer = StatusTimer(timed())
    assert timer.current == timed()
    timer.held(Status.OFFLINE, None)  # changed while the agent was not running
    assert timer.current is None


# -- the property ----------------------------------------------------------------------------------

STATUSES = [Status.AVAILABLE, Status.BUSY, Status.AWAY, Status.OFFLINE, Status.REASSIGNING]


@dataclass
class World:
    """The server and the agent's timer, driven the way the policy drives them."""

    status: Status = Status.AVAILABLE
    by_idle: bool = False
    #: Bumped on every change of status, by anyone.
    generation: int = 0
    wall: float = T0
    timer: StatusTimer = field(default_factory=StatusTimer)
    #: The generation the timer's own status began.
    timer_generation: int | None = None
    ended: int = 0

    def change(self, status: Status, by_idle: bool) -> None:
        if (status, by_idle) != (self.status, self.by_idle):
            self.status, self.by_idle = status, by_idle
            self.generation += 1
        self.timer.held(status, by_idle)

    def step(self, active: bool) -> None:
        action = self.timer.step(self.wall, active)
        if isinstance(action, Expire):
            # The property: the status the timer ends is the one it set, unchanged since.
            assert action.timed.status is self.status
            assert not self.by_idle
            assert self.timer_generation == self.generation
            self.ended += 1
            if action.ending is Ending.AVAILABLE:
                self.change(Status.AVAILABLE, False)
            else:
                self.change(Status.AWAY, True)


events = st.one_of(
    st.tuples(st.just("timed"), st.sampled_from(STATUSES), st.floats(1, 7200)),
    st.tuples(st.just("manual"), st.sampled_from(STATUSES)),
    st.tuples(st.just("elsewhere"), st.sampled_from(STATUSES), st.booleans()),
    st.tuples(st.just("echo")),
    st.tuples(st.just("refused"), st.sampled_from(STATUSES)),
    st.tuples(st.just("extend")),
    st.tuples(st.just("advance"), st.floats(0, 3000), st.booleans()),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(events, max_size=40))
def test_a_timer_never_ends_a_status_it_did_not_set(script):
    world = World()
    for event in script:
        match event:
            case ("timed", status, seconds):
                world.timer.drop()
                world.change(status, False)
                world.timer.start(TimedStatus(status, world.wall + seconds, world.wall, "tray"))
                world.timer_generation = world.generation
            case ("manual", status):
                world.timer.drop()
                world.change(status, False)
            case ("elsewhere", status, by_idle):
                world.change(status, by_idle and status is Status.AWAY)
            case ("echo",):
                world.timer.held(world.status, world.by_idle)
            case ("refused", status):
                # Asked for a timed status the server did not take: no timer starts,
                # the manual request dropped the old one.
                world.timer.drop()
                world.timer.held(world.status, world.by_idle)
            case ("extend",):
                world.timer.extend(world.wall)
            case ("advance", seconds, active):
                world.wall += seconds
                world.step(active)
        deadline = world.timer.deadline()
        if deadline is not None:
            # Never a deadline in the past that a step would not act on.
            assert world.timer.current is not None


@settings(max_examples=200, deadline=None)
@given(st.floats(1, 7 * 86400), st.floats(0, 8 * 86400), st.booleans())
def test_every_timer_ends_once_at_its_time(seconds, wait, active):
    timer = StatusTimer()
    timer.start(TimedStatus(Status.BUSY, T0 + seconds, T0, "cli"))
    actions = []
    wall = T0
    # Step at each deadline up to the wait, as the engine would.
    while (deadline := timer.deadline()) is not None and deadline <= T0 + wait:
        wall = deadline
        actions.append(timer.step(wall, active))
    actions.append(timer.step(T0 + wait, active))
    ends = [a for a in actions if isinstance(a, Expire)]
    reminders = [a for a in actions if isinstance(a, Remind)]
    assert len(ends) == (1 if wait >= seconds else 0)
    assert len(reminders) <= 1
    if ends:
        assert ends[0].ending is ending_for(active)


# -- the state file -----------------------------------------------------------------------------


def test_the_store_round_trips_and_removes(tmp_path):
    store = AgendaStore(tmp_path / "state")
    assert store.load() == Kept()
    value = Kept(timed(reminded=True), Status.OFFLINE)
    store.save(value)
    assert json.loads(store.path.read_text())["timer"]["until"] == timed().until
    assert AgendaStore(tmp_path / "state").load() == value
    only_owned = Kept(owned=Status.AWAY)
    store.save(only_owned)
    assert AgendaStore(tmp_path / "state").load() == only_owned
    store.save(Kept())
    assert not store.path.exists()
    assert AgendaStore(tmp_path / "state").load() == Kept()


def test_the_store_writes_only_changes(tmp_path):
    store = AgendaStore(tmp_path)
    store.save(Kept(timed()))
    stamp = store.path.stat().st_mtime_ns
    os.utime(store.path, ns=(stamp - 10**9, stamp - 10**9))
    store.save(Kept(timed()))
    assert store.path.stat().st_mtime_ns == stamp - 10**9


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"[]",
        b'{"timer": 1}',
        b'{"owned": "gone"}',
        b'{"timer": {"status": "gone", "until": 1, "set_at": 0}}',
        b'{"timer": {"status": "away", "until": "soon", "set_at": 0}}',
        b'{"timer": {"status": "away", "until": NaN, "set_at": 0}}',
        b'{"timer": {"status": "away", "until": true, "set_at": 0}}',
        b'{"timer": {"status": "away", "set_at": 0}}',
        b"\xff\xfe",
    ],
)
def test_a_damaged_file_keeps_nothing(tmp_path, content, caplog):
    (tmp_path / AgendaStore.FILE).write_bytes(content)
    assert AgendaStore(tmp_path).load() == Kept()
    assert "damaged agenda file" in caplog.text


def test_a_store_that_cannot_write_keeps_running(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = AgendaStore(blocker / "state")  # a directory below a file cannot exist
    store.save(Kept(timed()))
    assert "cannot keep the timer" in caplog.text


def test_a_fresh_store_removes_a_file_it_never_read(tmp_path):
    AgendaStore(tmp_path).save(Kept(timed()))
    AgendaStore(tmp_path).save(Kept())
    assert not (tmp_path / AgendaStore.FILE).exists()
