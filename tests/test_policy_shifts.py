"""The presence policy with timers and working hours, in virtual time (no threads, no clock).

A small world answers every request the way the real Libredesk does (it can tell an idle
away from a manual one), so each step is: the policy asks, the server holds it, the policy
hears the answer.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from presence_agent.agenda import Agenda
from presence_agent.events import Desired, NoticeKind, Now, TimedStatus, Why
from presence_agent.policy import PresencePolicy, _wall_wait
from presence_agent.schedule import Schedule, check_table, spec_from
from presence_agent.vocab import ServerStatus, Source, Status

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = {day: "09:00-12:30,13:30-18:00" for day in ("mon", "tue", "wed", "thu", "fri")}
AWAY_AFTER = 300.0


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> float:
    """March 2026; the 9th is a Monday."""
    return datetime(2026, 3, day, hour, minute, second, tzinfo=BERLIN).timestamp()


def office_agenda(end_of_shift: str = "offline", **kw: object) -> Agenda:
    table = {**OFFICE, "end_of_shift": end_of_shift}
    hours = Schedule(spec_from(check_table(Path("config.toml"), table)), BERLIN)
    return Agenda(hours, display_tz=BERLIN, can_reassign=True, **kw)  # type: ignore[arg-type]


class World:
    def __init__(self, wall: float, agenda: Agenda, server: Status = Status.OFFLINE) -> None:
        self.policy = PresencePolicy(AWAY_AFTER, agenda)
        self.mono = 10_000.0
        self.wall = wall
        self.last_input = self.mono
        self.server = ServerStatus(server, by_idle=False)
        self.puts: list[Desired] = []
        self.notices: list[NoticeKind] = []

    def now(self) -> Now:
        return Now(self.mono, self.wall)

    def idle(self) -> float:
        return self.mono - self.last_input

    def send(self, desired: Desired | None) -> None:
        while desired is not None:
            self.puts.append(desired)
            by_idle = desired.status is Status.AWAY and desired.source is Source.IDLE
            self.server = ServerStatus(desired.status, by_idle=by_idle)
            self.policy.answered(self.now(), desired, self.server)
            desired = None
        self.notices += [n.kind for n in self.policy.take_notices()]

    def start(self) -> None:
        self.send(self.policy.start(self.now(), self.server))
        self.tick()

    def tick(self) -> None:
        """What the engine does at a wake: the idle check, again while more is due."""
        for _ in range(5):
            wake = self.policy.next_wake(self.now())
            if wake is None or wake > self.mono:
                return
            self.send(self.policy.idle_check(self.now(), self.idle()))

    def advance(self, seconds: float, *, typing: bool = False) -> None:
        """Let ``seconds`` pass, stepping at every wake the policy asks for."""
        end = self.mono + seconds
        while True:
            wake = self.policy.next_wake(self.now())
            target = end if wake is None else min(end, max(wake, self.mono))
            step = target - self.mono
            self.mono, self.wall = target, self.wall + step
            if typing:
                self.type()
            if target >= end:
                self.tick()
                return
            self.tick()

    def type(self) -> None:
        self.last_input = self.mono
        if self.policy.wants_first_input():
            self.send(self.policy.input_seen(self.now(), 0.0))

    def push(self, status: Status, by_idle: bool = False) -> None:
        self.server = ServerStatus(status, by_idle=by_idle)
        self.policy.server_said(self.now(), self.server)


# -- working hours ----------------------------------------------------------------------------


def test_started_off_shift_nobody_is_brought_online_until_the_shift_starts():
    world = World(at(9, 8, 0), office_agenda())
    world.start()
    assert world.puts == []
    assert world.policy.agenda.owned is Status.OFFLINE
    assert not world.policy.wants_first_input()  # off shift: input changes nothing
    world.advance(3540, typing=True)  # 08:59, typing away
    assert world.puts == []
    world.advance(60, typing=True)  # 09:00: the shift starts with recent input
    assert world.puts == [Desired(Status.AVAILABLE, Source.USER)]
    assert world.policy.view().why is Why.SHIFT_START
    assert NoticeKind.SHIFT_STARTED in world.notices


def test_a_shift_starting_without_input_waits_for_the_first_input():
    world = World(at(9, 8, 0), office_agenda())
    world.start()
    world.advance(3600 + 60)  # 09:01, nobody there since 08:00
    assert world.puts == []
    assert world.policy.wants_first_input()
    world.advance(30)
    world.type()
    assert world.puts == [Desired(Status.AVAILABLE, Source.USER)]


def test_the_end_of_a_shift_sends_end_of_shift_once_and_reminds_before():
    world = World(at(9, 17, 0), office_agenda())
    world.start()
    assert world.puts == [Desired(Status.AVAILABLE, Source.USER)]  # on shift: the usual start
    world.advance(3600 + 120, typing=True)  # past 18:00, typing all along
    assert world.puts[1:] == [Desired(Status.OFFLINE, Source.USER)]
    assert world.notices == [NoticeKind.SHIFT_SOON, NoticeKind.SHIFT_ENDED]
    assert world.policy.view().why is Why.SHIFT_END
    world.advance(3600, typing=True)
    assert len(world.puts) == 2  # once


def test_idle_away_off_shift_does_not_come_back_on_input():
    world = World(at(9, 17, 50), office_agenda("nothing"))
    world.start()
    world.advance(AWAY_AFTER + 1)  # 17:55, idle: away
    assert world.puts[-1] == Desired(Status.AWAY, Source.IDLE)
    world.advance(600)  # 18:05, off shift; "nothing" leaves the idle away
    world.type()
    assert world.puts[-1] == Desired(Status.AWAY, Source.IDLE)
    assert not world.policy.wants_first_input()


def test_a_persons_choice_outlives_the_end_of_the_shift():
    world = World(at(9, 17, 50), office_agenda(), server=Status.AVAILABLE)
    world.start()
    world.send(world.policy.manual(world.now(), Status.BUSY))
    world.advance(1200, typing=True)
    assert world.puts == [Desired(Status.BUSY, Source.USER)]
    assert NoticeKind.SHIFT_ENDED not in world.notices


def test_a_person_may_choose_available_off_shift():
    world = World(at(9, 20, 0), office_agenda())
    world.start()
    world.send(world.policy.manual(world.now(), Status.AVAILABLE))
    assert world.server.status is Status.AVAILABLE


# -- timers -------------------------------------------------------------------------------------


def test_a_timed_away_returns_to_available_with_recent_input():
    world = World(at(9, 10), Agenda.none(), server=Status.AVAILABLE)
    world.start()
    world.send(world.policy.timed(world.now(), Status.AWAY, world.wall + 1800, "tray"))
    assert world.policy.agenda.timer is not None
    world.advance(1800, typing=True)
    assert world.puts[-1] == Desired(Status.AVAILABLE, Source.USER)
    assert world.policy.view().why is Why.TIMER
    assert world.notices == [NoticeKind.TIMER_SOON, NoticeKind.TIMER_ENDED]
    assert world.policy.agenda.timer is None


def test_a_timed_busy_ends_in_an_owned_away_without_input_then_input_brings_available():
    world = World(at(9, 10), Agenda.none(), server=Status.AVAILABLE)
    world.start()
    world.last_input = world.mono - 2 * AWAY_AFTER  # set from the phone: no input here
    world.send(world.policy.timed(world.now(), Status.BUSY, world.wall + 3, "cli"))
    world.advance(10)  # nobody there: the end comes as an away the agent owns
    assert world.puts[-1] == Desired(Status.AWAY, Source.USER)
    assert world.policy.agenda.owned is Status.AWAY
    assert world.policy.wants_first_input()
    world.type()
    assert world.puts[-1] == Desired(Status.AVAILABLE, Source.USER)


def test_a_change_elsewhere_drops_the_timer():
    world = World(at(9, 10), Agenda.none(), server=Status.AVAILABLE)
    world.start()
    world.send(world.policy.timed(world.now(), Status.AWAY, world.wall + 1800, "tray"))
    world.push(Status.AVAILABLE)  # the web app
    count = len(world.puts)
    world.advance(3600, typing=True)
    assert world.puts[count:] == []
    assert world.policy.agenda.timer is None


def test_a_timer_ending_during_a_sleep_ends_at_the_wake_as_an_idle_away():
    world = World(at(9, 10), Agenda.none(), server=Status.AVAILABLE)
    world.start()
    world.send(world.policy.timed(world.now(), Status.BUSY, world.wall + 600, "tray"))
    world.wall += 7200  # asleep: the monotonic clock stood still
    world.tick()
    assert world.puts[-1] == Desired(Status.AWAY, Source.USER)


def test_a_timer_ending_off_shift_applies_end_of_shift():
    world = World(at(9, 17, 30), office_agenda(), server=Status.AVAILABLE)
    world.start()
    world.send(world.policy.timed(world.now(), Status.BUSY, at(9, 19), "tray"))
    world.advance(5400, typing=True)
    assert world.puts[-1] == Desired(Status.OFFLINE, Source.USER)


def test_a_restored_timer_after_the_agents_own_quit_is_asked_for_again():
    timed = TimedStatus(Status.AWAY, at(9, 13), at(9, 12), "tray")
    world = World(at(9, 12, 30), Agenda.none(timer=timed))
    world.start()  # the server holds offline: our own quit
    assert world.puts == [Desired(Status.AWAY, Source.USER)]
    assert world.policy.agenda.timer == timed
    world.advance(1800, typing=True)
    assert world.puts[-1] == Desired(Status.AVAILABLE, Source.USER)


def test_a_restored_timer_already_due_at_start_applies_the_starts_rule():
    timed = TimedStatus(Status.AWAY, at(9, 13), at(9, 12), "tray")
    world = World(at(9, 14), Agenda.none(timer=timed))
    world.start()
    assert world.puts == [Desired(Status.AVAILABLE, Source.USER)]
    assert world.policy.agenda.timer is None


def test_a_restored_timer_still_held_ends_at_once_when_due():
    timed = TimedStatus(Status.BUSY, at(9, 13), at(9, 12), "tray")
    world = World(at(9, 14), Agenda.none(timer=timed), server=Status.BUSY)
    world.start()
    assert world.puts == [Desired(Status.AVAILABLE, Source.USER)]  # input at start: recent


def test_wall_deadlines_are_approached_in_halves():
    assert _wall_wait(3600) == 1800
    assert _wall_wait(200) == 120
    assert _wall_wait(60) == 60
    assert _wall_wait(-5) == 0
    world = World(at(9, 10), Agenda.none(), server=Status.AVAILABLE)
    world.start()
    world.send(world.policy.timed(world.now(), Status.AWAY, world.wall + 4 * 3600, "tray"))
    wake = world.policy.next_wake(world.now())
    assert wake is not None
    assert wake - world.mono == 2 * 3600 - 30  # half-way to the reminder


def test_a_clock_set_forward_past_the_end_is_caught_at_the_next_wake():
    world = World(at(9, 10), Agenda.none(), server=Status.AVAILABLE)
    world.start()
    world.send(world.policy.timed(world.now(), Status.AWAY, world.wall + 3600, "tray"))
    wake = world.policy.next_wake(world.now())
    assert wake is not None
    world.wall += 7200  # the clock is set two hours ahead; the engine sleeps on
    world.mono = wake
    world.tick()
    # A clock that leaps looks like a sleep (policy.SUSPEND_JUMP): the end comes as an
    # away the agent owns, and the next input brings Available back.
    assert world.puts[-1] == Desired(Status.AWAY, Source.USER)
    world.type()
    assert world.puts[-1] == Desired(Status.AVAILABLE, Source.USER)


# -- the property -------------------------------------------------------------------------------

STATUSES = [Status.AVAILABLE, Status.BUSY, Status.AWAY, Status.OFFLINE, Status.REASSIGNING]
events = st.one_of(
    st.tuples(st.just("wait"), st.floats(1, 5 * 3600), st.booleans()),
    st.tuples(st.just("sleep"), st.floats(60, 20 * 3600)),
    st.tuples(st.just("type")),
    st.tuples(st.just("manual"), st.sampled_from(STATUSES)),
    st.tuples(st.just("timed"), st.sampled_from(STATUSES[1:]), st.floats(3, 4 * 3600)),
    st.tuples(st.just("elsewhere"), st.sampled_from(STATUSES), st.booleans()),
    st.tuples(st.just("lock")),
)


@settings(max_examples=250, deadline=None)
@given(
    st.sampled_from(["offline", "away", "away_and_reassigning", "nothing"]),
    st.floats(at(9, 0), at(16, 0)),
    st.sampled_from([Status.OFFLINE, Status.AVAILABLE, Status.AWAY]),
    st.lists(events, max_size=25),
)
def test_never_online_outside_hours_unless_a_person_chose_it(end_of_shift, wall, first, script):
    world = World(wall, office_agenda(end_of_shift), server=first)
    hours = world.policy.agenda.schedule
    chosen = False  # a person chose Available by hand: then it may be held

    original = world.send

    def send(desired: Desired | None) -> None:
        if desired is not None and desired.status is Status.AVAILABLE and not chosen:
            assert hours.is_on(world.wall), datetime.fromtimestamp(world.wall, BERLIN)
        original(desired)

    world.send = send  # type: ignore[method-assign]
    world.start()
    for event in script:
        chosen = False
        match event:
            case ("wait", seconds, typing):
                world.advance(seconds, typing=typing)
            case ("sleep", seconds):
                world.wall += seconds
                world.tick()
            case ("type",):
                world.type()
            case ("manual", status):
                chosen = status is Status.AVAILABLE
                world.send(world.policy.manual(world.now(), status))
                chosen = False
            case ("timed", status, seconds):
                world.send(world.policy.timed(world.now(), status, world.wall + seconds, "cli"))
            case ("elsewhere", status, by_idle):
                world.push(status, by_idle and status is Status.AWAY)
            case ("lock",):
                world.send(world.policy.screen_locked(world.now()))
                world.policy.screen_unlocked(world.now())
