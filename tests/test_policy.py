"""The presence policy, driven with explicit clock readings.

Every test feeds ``Now(mono, wall)`` by hand through :class:`Clock`; nothing
here sleeps or reads a real clock. ``W`` offsets the wall clock so that a
test mixing the two up would notice.
"""

from __future__ import annotations

import pytest

from presence_agent.policy import (
    DEFAULT_AWAY_AFTER,
    SUSPEND_JUMP,
    Desired,
    Now,
    PresencePolicy,
    Why,
)
from presence_agent.vocab import ServerStatus, Source, Status

W = 1_700_000_000.0

AVAILABLE = ServerStatus(Status.AVAILABLE)
OFFLINE = ServerStatus(Status.OFFLINE)
BUSY = ServerStatus(Status.BUSY)
REASSIGNING = ServerStatus(Status.REASSIGNING, by_idle=False)
#: Real Libredesk: ``away`` (idle detection's) and ``away_manual``.
IDLE_AWAY = ServerStatus(Status.AWAY, by_idle=True)
MANUAL_AWAY = ServerStatus(Status.AWAY, by_idle=False)
#: The documented server cannot say who set an away.
DOC_AWAY = ServerStatus(Status.AWAY, by_idle=None)

GO_AWAY = Desired(Status.AWAY, Source.IDLE)
COME_BACK = Desired(Status.AVAILABLE, Source.IDLE)
START_AVAILABLE = Desired(Status.AVAILABLE, Source.USER)

#: Statuses idleness and input must never change, as the real and documented
#: servers report them.
MANUAL_STATUSES = [
    pytest.param(MANUAL_AWAY, id="away_manual"),
    pytest.param(DOC_AWAY, id="documented-away"),
    pytest.param(BUSY, id="busy"),
    pytest.param(OFFLINE, id="offline"),
    pytest.param(REASSIGNING, id="reassigning"),
]


class Clock:
    """Both clocks, moved by hand. ``advance`` moves them together; ``sleep``
    moves only the wall clock, as a suspend does on Linux and macOS."""

    def __init__(self, mono: float = 1000.0) -> None:
        self.mono = mono
        self.wall = W + mono

    def now(self) -> Now:
        return Now(self.mono, self.wall)

    def advance(self, seconds: float) -> Now:
        self.mono += seconds
        self.wall += seconds
        return self.now()

    def sleep(self, seconds: float) -> Now:
        self.wall += seconds
        return self.now()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def started(clock: Clock, server: ServerStatus = AVAILABLE, away_after: float = 300.0):
    policy = PresencePolicy(away_after)
    assert policy.start(clock.now(), server) is None
    return policy


def idle_away(policy: PresencePolicy, clock: Clock) -> None:
    """Bring an available policy to an idle away the server confirmed."""
    now = clock.advance(policy.away_after)
    assert policy.idle_check(now, policy.away_after) == GO_AWAY
    policy.answered(clock.advance(0.2), GO_AWAY, IDLE_AWAY)
    assert policy.status is Status.AWAY
    assert policy.pending is None


# -- construction ------------------------------------------------------------------------------


def test_default_threshold_is_five_minutes():
    assert DEFAULT_AWAY_AFTER == 300.0
    assert PresencePolicy().away_after == 300.0


@pytest.mark.parametrize("bad", [0, -1, -0.001])
def test_threshold_must_be_positive(bad):
    with pytest.raises(ValueError, match="positive"):
        PresencePolicy(bad)


def test_nothing_known_before_start(clock):
    policy = PresencePolicy()
    view = policy.view()
    assert policy.status is None
    assert view.why is Why.UNKNOWN
    assert view.since_wall is None
    assert view.pending is None
    assert policy.next_wake(clock.now()) is None
    assert policy.wants_first_input() is False


# -- start -------------------------------------------------------------------------------------


def test_start_offline_asks_available_as_the_user(clock):
    policy = PresencePolicy()
    desired = policy.start(clock.now(), OFFLINE)
    assert desired == START_AVAILABLE
    assert policy.status is Status.OFFLINE
    assert policy.pending == START_AVAILABLE
    assert policy.view().why is Why.START

    policy.answered(clock.advance(0.1), START_AVAILABLE, AVAILABLE)
    assert policy.status is Status.AVAILABLE
    assert policy.pending is None
    view = policy.view()
    assert view.why is Why.START
    assert view.since_wall == clock.wall
    assert view.by_idle is False


def test_start_available_is_kept(clock):
    policy = PresencePolicy()
    assert policy.start(clock.now(), AVAILABLE) is None
    assert policy.status is Status.AVAILABLE
    assert policy.pending is None
    assert policy.view().why is Why.START
    assert policy.view().since_wall == clock.wall


@pytest.mark.parametrize(
    "server",
    [p for p in MANUAL_STATUSES if p.id != "offline"],
)
def test_start_keeps_a_manual_status(clock, server):
    policy = PresencePolicy()
    assert policy.start(clock.now(), server) is None
    assert policy.status is server.status
    assert policy.pending is None
    assert policy.wants_first_input() is False
    assert policy.next_wake(clock.now()) is None
    # Hours of idleness, then input: nothing.
    assert policy.idle_check(clock.advance(3600), 3600) is None
    assert policy.input_seen(clock.advance(1)) is None
    assert policy.status is server.status


def test_start_on_an_idle_away_keeps_it_and_input_undoes_it(clock):
    # The real server holds "away": the web app's (or our last run's) idle away.
    policy = PresencePolicy()
    assert policy.start(clock.now(), IDLE_AWAY) is None
    assert policy.status is Status.AWAY
    assert policy.view().by_idle is True
    assert policy.wants_first_input() is True
    assert policy.next_wake(clock.now()) is None
    assert policy.idle_check(clock.advance(600), 600) is None

    assert policy.input_seen(clock.advance(1)) == COME_BACK
    policy.answered(clock.advance(0.1), COME_BACK, AVAILABLE)
    assert policy.status is Status.AVAILABLE
    assert policy.view().why is Why.IDLE


def test_start_on_a_documented_away_treats_it_as_manual(clock):
    # The documented server cannot tell; an away the agent did not set itself is not its to undo.
    policy = started(clock, DOC_AWAY)
    assert policy.view().by_idle is False
    assert policy.input_seen(clock.advance(1)) is None


def test_restart_on_offline_while_the_first_request_is_pending_does_not_repeat(clock):
    policy = PresencePolicy()
    assert policy.start(clock.now(), OFFLINE) == START_AVAILABLE
    assert policy.start(clock.advance(1), OFFLINE) is None
    assert policy.pending == START_AVAILABLE


def test_second_start_reports_elsewhere(clock):
    policy = started(clock)
    assert policy.start(clock.advance(5), MANUAL_AWAY) is None
    assert policy.status is Status.AWAY
    assert policy.view().why is Why.ELSEWHERE


# -- the threshold -----------------------------------------------------------------------------


def test_just_below_the_threshold_stays_available(clock):
    policy = started(clock)
    now = clock.advance(299.999)
    assert policy.idle_check(now, 299.999) is None
    assert policy.pending is None
    # It wakes again exactly when the threshold will be crossed.
    assert policy.next_wake(now) == pytest.approx(now.mono + 0.001, abs=1e-9)


def test_exactly_the_threshold_goes_away(clock):
    # The threshold is inclusive: idle >= away_after means away.
    policy = started(clock)
    assert policy.idle_check(clock.advance(300.0), 300.0) == GO_AWAY
    assert policy.pending == GO_AWAY


@pytest.mark.parametrize(("away_after", "below", "at"), [(60.0, 59.999, 60.0), (1.0, 0.999, 1.0)])
def test_custom_threshold_edges(clock, away_after, below, at):
    policy = started(clock, away_after=away_after)
    assert policy.idle_check(clock.advance(below), below) is None
    assert policy.idle_check(clock.advance(at - below), at) == GO_AWAY


def test_input_restarts_the_idle_clock(clock):
    policy = started(clock)
    clock.advance(200)
    assert policy.input_seen(clock.now()) is None
    # 299 s after that input the source says 299: nothing; 300: away.
    assert policy.idle_check(clock.advance(299), 299) is None
    assert policy.idle_check(clock.advance(1), 300) == GO_AWAY


# -- idleness only moves available -> away, input only undoes that -----------------------------


def test_idle_away_flow(clock):
    policy = started(clock)
    assert policy.wants_first_input() is False
    now = clock.advance(300)
    assert policy.idle_check(now, 300) == GO_AWAY
    assert policy.wants_first_input() is True  # input may already undo the request
    policy.answered(clock.advance(0.1), GO_AWAY, IDLE_AWAY)
    view = policy.view()
    assert (view.status, view.by_idle, view.why) == (Status.AWAY, True, Why.IDLE)
    assert view.since_wall == clock.wall
    assert policy.wants_first_input() is True
    assert policy.next_wake(clock.now()) is None

    assert policy.input_seen(clock.advance(900)) == COME_BACK
    assert policy.wants_first_input() is False
    policy.answered(clock.advance(0.1), COME_BACK, AVAILABLE)
    view = policy.view()
    assert (view.status, view.by_idle, view.why) == (Status.AVAILABLE, False, Why.IDLE)
    # And the idle clock runs again from the input.
    assert policy.next_wake(clock.now()) == pytest.approx(clock.mono - 0.1 + 300)


def test_idle_away_on_the_documented_server_is_ours_to_undo(clock):
    policy = started(clock)
    assert policy.idle_check(clock.advance(300), 300) == GO_AWAY
    policy.answered(clock.advance(0.1), GO_AWAY, DOC_AWAY)
    assert policy.view().by_idle is True
    assert policy.input_seen(clock.advance(5)) == COME_BACK


def test_input_while_available_asks_nothing(clock):
    policy = started(clock)
    for _ in range(3):
        assert policy.input_seen(clock.advance(10)) is None
    assert policy.pending is None


@pytest.mark.parametrize("server", MANUAL_STATUSES)
def test_server_status_set_elsewhere_is_never_changed_by_idleness_or_input(clock, server):
    policy = started(clock)
    policy.server_said(clock.advance(1), server)
    assert policy.status is server.status
    assert policy.view().why is Why.ELSEWHERE
    assert policy.next_wake(clock.now()) is None
    assert policy.wants_first_input() is False
    for idle in (300, 3000, 86400):
        assert policy.idle_check(clock.advance(idle), idle) is None
        assert policy.input_seen(clock.advance(1)) is None
    assert policy.screen_locked(clock.advance(1)) is None
    assert policy.suspending(clock.advance(1)) is None
    assert policy.idle_check(clock.sleep(7200), 0) is None  # a suspend, too
    assert policy.status is server.status
    assert policy.pending is None


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (Status.AWAY, MANUAL_AWAY),
        (Status.AWAY, DOC_AWAY),
        (Status.BUSY, BUSY),
        (Status.OFFLINE, OFFLINE),
        (Status.REASSIGNING, REASSIGNING),
    ],
)
def test_manual_status_is_never_changed_by_idleness_or_input(clock, status, answer):
    policy = started(clock)
    desired = policy.manual(clock.advance(1), status)
    assert desired == Desired(status, Source.USER)
    # While the request is on its way, idleness and input leave it alone too.
    assert policy.idle_check(clock.advance(300), 300) is None
    assert policy.input_seen(clock.advance(1)) is None
    policy.answered(clock.advance(0.1), desired, answer)
    view = policy.view()
    assert (view.status, view.by_idle, view.why) == (status, False, Why.MANUAL)
    assert policy.wants_first_input() is False
    assert policy.idle_check(clock.advance(5000), 5000) is None
    assert policy.input_seen(clock.advance(1)) is None
    assert policy.screen_locked(clock.advance(1)) is None
    assert policy.status is status


def test_idle_away_answered_with_the_servers_manual_away_is_not_undone(clock):
    # We missed the person's away_manual from the web app; the real server's
    # idle guard answers 200 and keeps away_manual.
    policy = started(clock)
    assert policy.idle_check(clock.advance(300), 300) == GO_AWAY
    policy.answered(clock.advance(0.1), GO_AWAY, MANUAL_AWAY)
    assert policy.status is Status.AWAY
    assert policy.view().by_idle is False
    assert policy.wants_first_input() is False
    assert policy.input_seen(clock.advance(10)) is None


def test_come_back_answered_with_the_servers_manual_away_keeps_it(clock):
    # Idle away; meanwhile (push missed) the person chose away_manual in the web
    # app; our input asks available(idle) and the idle guard keeps away_manual.
    policy = started(clock)
    idle_away(policy, clock)
    assert policy.input_seen(clock.advance(10)) == COME_BACK
    policy.answered(clock.advance(0.1), COME_BACK, MANUAL_AWAY)
    view = policy.view()
    assert (view.status, view.by_idle, view.why) == (Status.AWAY, False, Why.ELSEWHERE)
    assert policy.input_seen(clock.advance(10)) is None
    assert policy.idle_check(clock.advance(600), 600) is None


def test_reassigning_set_elsewhere_while_idle_away_is_respected(clock):
    policy = started(clock)
    idle_away(policy, clock)
    policy.server_said(clock.advance(5), REASSIGNING)
    assert policy.status is Status.REASSIGNING
    assert policy.wants_first_input() is False
    assert policy.input_seen(clock.advance(5)) is None


def test_web_apps_idle_away_pushed_is_undone_by_our_input(clock):
    policy = started(clock)
    policy.server_said(clock.advance(30), IDLE_AWAY)
    assert policy.view().why is Why.IDLE
    assert policy.wants_first_input() is True
    assert policy.input_seen(clock.advance(1)) == COME_BACK


def test_available_set_elsewhere_restarts_idle_detection(clock):
    policy = started(clock, MANUAL_AWAY)
    policy.server_said(clock.advance(60), AVAILABLE)
    assert policy.status is Status.AVAILABLE
    assert policy.view().why is Why.ELSEWHERE
    assert policy.idle_check(clock.advance(300), 300) == GO_AWAY


# -- believing the server ----------------------------------------------------------------------


def test_the_answer_wins_over_the_request(clock):
    policy = started(clock)
    desired = policy.manual(clock.advance(1), Status.AVAILABLE)
    policy.answered(clock.advance(0.1), desired, OFFLINE)
    assert policy.status is Status.OFFLINE
    assert policy.pending is None
    assert policy.view().why is Why.ELSEWHERE


def test_an_idle_away_answered_as_reassigning_is_believed(clock):
    policy = started(clock)
    assert policy.idle_check(clock.advance(300), 300) == GO_AWAY
    policy.answered(clock.advance(0.1), GO_AWAY, REASSIGNING)
    assert policy.status is Status.REASSIGNING
    assert policy.input_seen(clock.advance(1)) is None


def test_push_while_a_request_is_pending_waits_for_the_answer(clock):
    policy = started(clock)
    desired = policy.manual(clock.advance(1), Status.BUSY)
    policy.server_said(clock.advance(0.05), BUSY)  # the push for our own change
    assert policy.pending == desired
    policy.answered(clock.advance(0.05), desired, BUSY)
    assert policy.pending is None
    assert policy.view().why is Why.MANUAL


def test_an_answer_to_an_older_request_keeps_the_newer_pending(clock):
    policy = started(clock)
    first = policy.manual(clock.advance(1), Status.BUSY)
    second = policy.manual(clock.advance(1), Status.OFFLINE)
    policy.answered(clock.advance(0.1), first, BUSY)
    assert policy.status is Status.BUSY
    assert policy.pending == second
    policy.answered(clock.advance(0.1), second, OFFLINE)
    assert policy.status is Status.OFFLINE
    assert policy.pending is None
    assert policy.view().why is Why.MANUAL


def test_failed_clears_only_its_own_request(clock):
    policy = started(clock)
    desired = policy.manual(clock.advance(1), Status.BUSY)
    policy.failed(Desired(Status.OFFLINE, Source.USER))
    assert policy.pending == desired
    policy.failed(desired)
    assert policy.pending is None
    assert policy.status is Status.AVAILABLE


def test_same_status_pushed_again_changes_nothing(clock):
    policy = started(clock, MANUAL_AWAY)
    since = policy.view().since_wall
    policy.server_said(clock.advance(60), MANUAL_AWAY)
    policy.server_said(clock.advance(60), DOC_AWAY)
    view = policy.view()
    assert view.since_wall == since
    assert view.why is Why.START
    assert view.by_idle is False


# -- only changes are emitted ------------------------------------------------------------------


def test_idle_check_does_not_repeat_a_pending_away(clock):
    policy = started(clock)
    assert policy.idle_check(clock.advance(300), 300) == GO_AWAY
    for step in (15, 15, 300):
        assert policy.idle_check(clock.advance(step), 300 + step) is None
    assert policy.screen_locked(clock.advance(1)) is None
    assert policy.suspending(clock.advance(1)) is None


def test_idle_check_does_not_repeat_a_confirmed_away(clock):
    policy = started(clock)
    idle_away(policy, clock)
    assert policy.idle_check(clock.advance(600), 900) is None
    assert policy.screen_locked(clock.advance(1)) is None


def test_input_does_not_repeat_a_pending_come_back(clock):
    policy = started(clock)
    idle_away(policy, clock)
    assert policy.input_seen(clock.advance(10)) == COME_BACK
    assert policy.input_seen(clock.advance(0.5)) is None
    assert policy.input_seen(clock.advance(0.5)) is None


def test_manual_choice_is_always_sent_even_unchanged(clock):
    # On the server a manual choice also takes the status out of idle's hands.
    policy = started(clock)
    assert policy.manual(clock.advance(1), Status.AVAILABLE) == START_AVAILABLE
    assert policy.manual(clock.advance(1), Status.AVAILABLE) == START_AVAILABLE


# -- input while the away request is in flight -------------------------------------------------


def test_input_during_the_away_request_replaces_it(clock):
    policy = started(clock)
    assert policy.idle_check(clock.advance(300), 300) == GO_AWAY
    assert policy.input_seen(clock.advance(0.05)) == COME_BACK
    assert policy.pending == COME_BACK
    assert policy.wants_first_input() is False
    # The away arrives at the server first: believed, but ours is still on its way.
    policy.answered(clock.advance(0.05), GO_AWAY, IDLE_AWAY)
    assert policy.status is Status.AWAY
    assert policy.pending == COME_BACK
    assert policy.input_seen(clock.advance(0.05)) is None
    policy.answered(clock.advance(0.05), COME_BACK, AVAILABLE)
    assert policy.status is Status.AVAILABLE
    assert policy.pending is None


def test_away_then_input_then_idle_again_before_any_answer(clock):
    policy = started(clock)
    assert policy.idle_check(clock.advance(300), 300) == GO_AWAY
    assert policy.input_seen(clock.advance(1)) == COME_BACK
    assert policy.idle_check(clock.advance(300), 300) == GO_AWAY
    assert policy.pending == GO_AWAY


def test_idle_during_the_start_request_waits_for_its_answer(clock):
    # The start-up Available is not held yet (the server is failing, say): an idle
    # away would replace it, and an idle change from a server still holding
    # offline is skipped, which left the agent "Offline (start)" for good. The
    # start request stays the newest until answered; then idleness acts at once.
    policy = PresencePolicy()
    assert policy.start(clock.now(), OFFLINE) == START_AVAILABLE
    assert policy.next_wake(clock.now()) is None
    assert policy.idle_check(clock.advance(300), 300) is None
    assert policy.screen_locked(clock.advance(1)) is None
    policy.screen_unlocked(clock.advance(1))
    assert policy.suspending(clock.advance(1)) is None
    assert policy.pending == START_AVAILABLE
    policy.answered(clock.advance(1), START_AVAILABLE, AVAILABLE)
    assert policy.next_wake(clock.now()) <= clock.mono  # due now
    assert policy.idle_check(clock.now(), 304) == GO_AWAY


def test_a_lock_during_a_manual_request_goes_away_once_it_is_answered(clock):
    policy = started(clock, MANUAL_AWAY)
    desired = policy.manual(clock.advance(1), Status.AVAILABLE)
    assert policy.screen_locked(clock.advance(1)) is None
    policy.answered(clock.advance(1), desired, AVAILABLE)
    assert policy.next_wake(clock.now()) == clock.mono  # at once: the screen is locked
    assert policy.idle_check(clock.now(), 1) == GO_AWAY
    assert policy.view().pending == GO_AWAY
    assert policy.next_wake(clock.now()) is None


# -- manual Available and resume are activity --------------------------------------------------


def test_manual_available_from_an_idle_away_restarts_the_idle_clock(clock):
    policy = started(clock)
    idle_away(policy, clock)
    desired = policy.manual(clock.advance(60), Status.AVAILABLE)
    assert desired == START_AVAILABLE
    policy.answered(clock.advance(0.1), desired, AVAILABLE)
    assert policy.view().why is Why.MANUAL
    assert policy.next_wake(clock.now()) == pytest.approx(clock.mono - 0.1 + 300)


def test_manual_available_is_not_undone_at_the_next_watchdog_tick(clock):
    # The idle source has not seen input (the choice came from the CLI, or
    # from a source blind to this input): the choice itself is activity, so
    # no away "right after" (PresencePolicy.manual).
    policy = started(clock)
    idle_away(policy, clock)
    desired = policy.manual(clock.advance(60), Status.AVAILABLE)
    policy.answered(clock.advance(0.1), desired, AVAILABLE)
    assert policy.idle_check(clock.advance(15), 15 + 60 + 300) is None
    assert policy.pending is None
    # A full threshold after the choice, without input, it goes away again.
    assert policy.idle_check(clock.advance(285), 10_000) == GO_AWAY


# -- pause -------------------------------------------------------------------------------------


def test_timed_pause_holds_idle_detection_until_it_ends(clock):
    policy = started(clock)
    start = clock.mono
    policy.pause(clock.now(), 1800)
    assert policy.paused(clock.now()) is True
    view = policy.view()
    assert view.paused is True
    assert view.paused_until_mono == start + 1800
    assert policy.next_wake(clock.now()) == start + 1800  # wake to end it
    assert policy.idle_check(clock.advance(300), 300) is None
    assert policy.idle_check(clock.advance(1499), 1799) is None
    now = clock.advance(1)
    assert policy.paused(now) is False
    # Idle detection is back, and its clock starts at the end of the pause (like a resume):
    # idle all along, the person still gets the full threshold before away.
    assert policy.idle_check(now, 1800) is None
    assert policy.view().paused is False
    assert policy.next_wake(now) == start + 1800 + 300
    assert policy.idle_check(clock.advance(299), 2099) is None
    assert policy.idle_check(clock.advance(1), 2100) == GO_AWAY


def test_sleep_seen_by_any_event_still_counts_at_the_next_idle_check(clock):
    policy = started(clock)
    # The machine sleeps an hour; the first thing after the wake is a server push.
    clock.wall += 3600
    policy.server_said(clock.now(), ServerStatus(Status.AVAILABLE))
    # The next idle check (input stamped before the sleep looks recent) still means away.
    assert policy.idle_check(clock.advance(1), 5) == Desired(Status.AWAY, Source.IDLE)


def test_pause_forever_and_resume(clock):
    policy = started(clock)
    policy.pause(clock.now(), None)
    view = policy.view()
    assert view.paused is True
    assert view.paused_until_mono is None
    assert policy.paused(clock.advance(10**6)) is True
    assert policy.next_wake(clock.now()) is None
    assert policy.idle_check(clock.now(), 10**6) is None

    policy.resume(clock.advance(1))
    assert policy.paused(clock.now()) is False
    assert policy.view().paused is False
    # The idle clock starts afresh: no away at once, nor at the next watchdog tick.
    assert policy.next_wake(clock.now()) == clock.mono + 300
    assert policy.idle_check(clock.now(), 10**6) is None
    assert policy.idle_check(clock.advance(15), 10**6) is None
    assert policy.idle_check(clock.advance(285), 10**6) == GO_AWAY


def test_pause_does_not_stop_input_from_undoing_an_idle_away(clock):
    policy = started(clock)
    idle_away(policy, clock)
    policy.pause(clock.advance(1), None)
    assert policy.input_seen(clock.advance(1)) == COME_BACK


def test_pause_does_not_hold_manual_choices(clock):
    policy = started(clock)
    policy.pause(clock.now(), None)
    assert policy.manual(clock.advance(1), Status.BUSY) == Desired(Status.BUSY, Source.USER)


def test_a_new_pause_replaces_the_old_one(clock):
    policy = started(clock)
    policy.pause(clock.now(), None)
    policy.pause(clock.now(), 60)
    assert policy.next_wake(clock.now()) == clock.mono + 60
    policy.pause(clock.now(), None)
    assert policy.next_wake(clock.now()) is None


@pytest.mark.parametrize("seconds", [60, None])
def test_screen_lock_overrides_a_pause(clock, seconds):
    policy = started(clock)
    policy.pause(clock.now(), seconds)
    assert policy.screen_locked(clock.advance(1)) == GO_AWAY
    policy.answered(clock.advance(0.1), GO_AWAY, IDLE_AWAY)
    view = policy.view()
    assert (view.status, view.by_idle, view.why) == (Status.AWAY, True, Why.LOCKED)
    # Typing the password is not being back; the input after unlocking is.
    assert policy.input_seen(clock.advance(20)) is None
    policy.screen_unlocked(clock.advance(5))
    assert policy.input_seen(clock.advance(5)) == COME_BACK


@pytest.mark.parametrize("seconds", [60, None])
def test_suspending_overrides_a_pause(clock, seconds):
    policy = started(clock)
    policy.pause(clock.now(), seconds)
    assert policy.suspending(clock.advance(1)) == GO_AWAY
    policy.answered(clock.advance(0.1), GO_AWAY, IDLE_AWAY)
    assert policy.view().why is Why.SLEEP


def test_screen_lock_before_start_threshold(clock):
    policy = started(clock)
    assert policy.screen_locked(clock.advance(5)) == GO_AWAY


def test_idle_inhibitor_holds_idle_away_and_restarts_the_clock_when_it_ends(clock):
    policy = started(clock)
    policy.inhibit(clock.now(), True)
    assert policy.next_wake(clock.now()) is None
    assert policy.idle_check(clock.advance(3600), 3600) is None
    policy.inhibit(clock.advance(1), False)
    assert policy.next_wake(clock.now()) == clock.mono + 300
    assert policy.idle_check(clock.advance(15), 3616) is None
    assert policy.idle_check(clock.advance(285), 3901) == GO_AWAY


def test_idle_inhibitor_does_not_hold_a_lock_or_end_a_pause(clock):
    policy = started(clock)
    policy.pause(clock.now(), None)
    policy.inhibit(clock.now(), True)
    policy.inhibit(clock.advance(1), False)
    assert policy.paused(clock.now()) is True
    policy.inhibit(clock.now(), True)
    assert policy.screen_locked(clock.advance(1)) == GO_AWAY


# -- suspend: the wall clock jumps ahead of the monotonic one ----------------------------------


def test_suspend_jump_seen_by_idle_check_is_idleness(clock):
    policy = started(clock)
    assert policy.input_seen(clock.advance(10)) is None
    # The lid closed for an hour; the monotonic clock stood still, so the
    # source reports hardly any idle time. The jump is idleness, not activity.
    now = clock.sleep(3600)
    clock.advance(2)
    assert policy.idle_check(clock.now(), 2) == GO_AWAY
    policy.answered(clock.advance(0.1), GO_AWAY, IDLE_AWAY)
    assert policy.view().why is Why.SLEEP
    assert now.wall < clock.wall
    # The input after the wake-up brings the person back.
    assert policy.input_seen(clock.advance(5)) == COME_BACK


def test_suspend_jump_seen_by_input_is_not_activity(clock):
    policy = started(clock)
    clock.sleep(3600)
    assert policy.input_seen(clock.advance(1)) == GO_AWAY
    assert policy.pending == GO_AWAY
    # A later input (no jump since) is real activity.
    assert policy.input_seen(clock.advance(1)) == COME_BACK


def test_input_stamped_before_a_suspend_does_not_end_an_idle_away(clock):
    policy = started(clock)
    idle_away(policy, clock)
    clock.sleep(3600)
    assert policy.input_seen(clock.advance(1)) is None
    assert policy.status is Status.AWAY
    assert policy.wants_first_input() is True
    assert policy.input_seen(clock.advance(1)) == COME_BACK


def test_suspend_jump_overrides_a_pause(clock):
    policy = started(clock)
    policy.pause(clock.now(), None)
    clock.sleep(3600)
    assert policy.idle_check(clock.advance(1), 1) == GO_AWAY


@pytest.mark.parametrize("server", MANUAL_STATUSES)
def test_suspend_jump_never_touches_a_manual_status(clock, server):
    policy = started(clock)
    policy.server_said(clock.advance(1), server)
    clock.sleep(3600)
    assert policy.idle_check(clock.advance(1), 1) is None
    clock.sleep(3600)
    assert policy.input_seen(clock.advance(1)) is None


def test_suspend_jump_edge(clock):
    policy = started(clock)
    # Exactly SUSPEND_JUMP of drift is not a suspend (NTP steps, slow reads)...
    clock.sleep(SUSPEND_JUMP)
    assert policy.idle_check(clock.advance(1), 1) is None
    # ...a hair more is.
    clock.sleep(SUSPEND_JUMP + 0.5)
    assert policy.idle_check(clock.advance(1), 1) == GO_AWAY


def test_wall_clock_stepped_back_is_not_a_suspend(clock):
    policy = started(clock)
    clock.sleep(-3600)
    assert policy.idle_check(clock.advance(1), 1) is None
    assert policy.input_seen(clock.advance(1)) is None


def test_drift_is_measured_between_consecutive_readings(clock):
    policy = started(clock)
    # 20 s of drift twice, with a reading in between: neither is a suspend.
    clock.sleep(20)
    assert policy.idle_check(clock.advance(1), 1) is None
    clock.sleep(20)
    assert policy.idle_check(clock.advance(1), 1) is None


# -- next_deadline -----------------------------------------------------------------------------


def test_next_deadline_is_last_input_plus_threshold(clock):
    policy = started(clock, away_after=120)
    assert policy.next_wake(clock.now()) == clock.mono + 120
    now = clock.advance(50)
    policy.input_seen(now, idle_seconds=5)
    assert policy.next_wake(clock.now()) == now.mono - 5 + 120
    now = clock.advance(100)
    assert policy.idle_check(now, 30) is None
    assert policy.next_wake(now) == now.mono - 30 + 120


def test_input_never_moves_the_idle_clock_back(clock):
    policy = started(clock)
    now = clock.advance(100)
    policy.input_seen(now, 0)
    policy.input_seen(clock.advance(1), 50)  # stamped before the one we know
    assert policy.next_wake(clock.now()) == now.mono + 300


@pytest.mark.parametrize("server", [IDLE_AWAY, MANUAL_AWAY, BUSY, REASSIGNING])
def test_no_deadline_when_not_available(clock, server):
    policy = started(clock, server)
    assert policy.next_wake(clock.now()) is None


def test_no_deadline_while_away_is_pending(clock):
    policy = started(clock)
    policy.idle_check(clock.advance(300), 300)
    assert policy.next_wake(clock.now()) is None


def test_no_idle_deadline_until_a_manual_available_is_answered(clock):
    policy = started(clock, MANUAL_AWAY)
    desired = policy.manual(clock.advance(10), Status.AVAILABLE)
    assert desired.status is Status.AVAILABLE
    assert policy.next_wake(clock.now()) is None
    policy.answered(clock.advance(1), desired, AVAILABLE)
    assert policy.next_wake(clock.now()) == clock.mono - 1 + 300  # from the choice


# -- wants_first_input -------------------------------------------------------------------------


def test_wants_first_input_only_for_idle_aways(clock):
    policy = started(clock)
    assert policy.wants_first_input() is False
    policy.idle_check(clock.advance(300), 300)
    assert policy.wants_first_input() is True  # pending idle away
    policy.answered(clock.advance(0.1), GO_AWAY, IDLE_AWAY)
    assert policy.wants_first_input() is True
    policy.input_seen(clock.advance(1))
    assert policy.wants_first_input() is False  # available(idle) pending
    desired = policy.manual(clock.advance(1), Status.AWAY)
    assert policy.wants_first_input() is False  # manual away pending
    policy.answered(clock.advance(0.1), desired, MANUAL_AWAY)
    assert policy.wants_first_input() is False


# -- since -------------------------------------------------------------------------------------


def test_since_moves_only_on_a_change(clock):
    policy = started(clock)
    since = policy.view().since_wall
    assert since == clock.wall
    desired = policy.manual(clock.advance(10), Status.AVAILABLE)
    policy.answered(clock.advance(0.1), desired, AVAILABLE)
    assert policy.view().since_wall == since
    idle_away(policy, clock)
    assert policy.view().since_wall == clock.wall
    # An idle away turning into a manual one is a change too.
    before = clock.wall
    policy.server_said(clock.advance(5), MANUAL_AWAY)
    assert policy.view().since_wall == clock.wall != before


@pytest.mark.parametrize(
    "seconds", [float("nan"), float("inf"), -float("inf"), -60.0, 0.0, 7 * 86400 + 1, True, "300"]
)
def test_a_pause_that_is_no_sane_duration_is_refused_and_changes_nothing(clock, seconds):
    """The tray, the CLI and the control channel all end here (commands.pause, check_pause)."""
    policy = started(clock)
    with pytest.raises(ValueError, match="pause"):
        policy.pause(clock.now(), seconds)
    assert policy.paused(clock.now()) is False
    assert policy.view().paused is False
    policy.pause(clock.now(), 7 * 86400)  # a week is the most, and allowed
    assert policy.view().paused_until_mono == clock.mono + 7 * 86400
