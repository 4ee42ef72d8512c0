"""Timed statuses and working hours: the layer of the presence rules that follows the clock.

Pure (standard library, :mod:`presence_agent.schedule`, :mod:`presence_agent.timers`):
every call is handed the wall-clock time, and the answers are values. The
policy owns one :class:`Agenda` and consults it; the engine never sees it.

The rules (docs/shifts.md is the person's version):

* Outside working hours the agent never brings anyone online by itself: not
  at start, not on return from idle, not when a timer ends. A person may still
  choose any status by hand.
* At the end of a shift, ``end_of_shift`` is applied once, if the status is
  one the agent may change (Available, an idle away, or one it set itself), and
  never over a status a person chose. Five minutes before, a reminder.
* At the start of a shift, a status the agent may change (an idle away, or one
  it set itself, such as last night's end-of-shift offline) becomes Available
  if the person was active within the away threshold; otherwise it stays until
  the first input (:meth:`Agenda.may_return`).
* A timed status ends as :mod:`presence_agent.timers` says; off shift, an end
  that would bring Available applies ``end_of_shift`` instead.
* What the agent set by these rules is *owned*: it may undo it (on input, at a
  shift start) until anyone else changes the status. Ownership is kept in the
  state dir with the timer, so a restart overnight still brings the person
  back in the morning.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from presence_agent.events import AgendaView, Claim, Notice, NoticeKind, OwnReason, TimedStatus
from presence_agent.i18n import ENGLISH, Translator
from presence_agent.routing import status_of, word_of
from presence_agent.schedule import EndOfShift, Schedule
from presence_agent.timers import EXTEND_BY, Ending, Expire, Remind, StatusTimer
from presence_agent.timespec import format_clock, format_span
from presence_agent.vocab import ServerStatus, Source, Status

log = logging.getLogger(__name__)

#: How long before the end of a shift the reminder comes.
SHIFT_REMINDER = 300.0


#: The key of the notification action that extends a timer (and its label).
def extend_action(tr: Translator) -> tuple[str, str]:
    """The reminder's button: its key and its label in the person's language."""
    return ("extend", tr._("Extend {minutes} min").format(minutes=round(EXTEND_BY / 60)))


EXTEND_ACTION = extend_action(ENGLISH)

__all__ = [
    "EXTEND_ACTION",
    "SHIFT_REMINDER",
    "Agenda",
    "AgendaView",
    "Change",
    "Held",
    "Notice",
    "NoticeKind",
    "Reason",
]


class Reason(str, enum.Enum):
    """Why the agenda changes a status (the policy shows it as the status's reason)."""

    TIMER = "timer ended"
    SHIFT_END = "end of shift"
    SHIFT_START = "shift started"


@dataclass(frozen=True)
class Held:
    """What the policy believes now, for the agenda's decisions."""

    status: Status | None
    #: Idle detection (ours or the web app's) set it.
    by_idle: bool
    #: A person chose it (here or elsewhere): the agenda never changes it.
    manual: bool
    #: A request not yet answered.
    pending: bool = False


@dataclass(frozen=True)
class Change:
    """Ask the server for ``status`` with ``source``; the agent owns the result if ``owned``."""

    status: Status
    source: Source
    reason: Reason
    owned: bool


@dataclass
class _Step:
    change: Change | None = None
    notices: list[Notice] = field(default_factory=list)


class Agenda:
    """Timers and working hours. Pure; the engine's thread only (through the policy)."""

    def __init__(
        self,
        schedule: Schedule,
        *,
        display_tz: tzinfo,
        timer: TimedStatus | None = None,
        owned: Status | None = None,
        claim: Claim | None = None,
        can_reassign: bool = False,
        tr: Translator = ENGLISH,
    ) -> None:
        self.schedule = schedule
        self._display_tz = display_tz
        #: The notices' language (presence_agent/i18n.py).
        self._tr = tr
        self._timer = StatusTimer(timer)
        #: A timed choice on its way to the server: it starts once the server holds it.
        self._asked: TimedStatus | None = None
        #: A status the agent set by its own rules (these, idleness's escalation, a sleep),
        #: until anyone else changes it: the one ownership (presence_agent/routing.py).
        self._claim = claim
        if claim is None and owned is not None:
            self._claim = Claim(word_of(owned, False), OwnReason.SCHEDULE, 0.0)
        #: An owned change on its way to the server.
        self._asking: Change | None = None
        self.can_reassign = can_reassign
        #: Whether the last look found the shift on (``None``: not looked yet).
        self._was_on: bool | None = None
        #: The shift end already reminded of.
        self._reminded_end: float | None = None

    @classmethod
    def none(cls, timer: TimedStatus | None = None) -> Agenda:
        """No working hours (always on shift), and ``timer`` if given."""
        from datetime import timezone

        from presence_agent.schedule import NO_SCHEDULE

        return cls(Schedule(NO_SCHEDULE, timezone.utc), display_tz=timezone.utc, timer=timer)

    # -- reading ------------------------------------------------------------------------

    @property
    def tr(self) -> Translator:
        """The person's language, for the notices (the policy's own too)."""
        return self._tr

    @property
    def timer(self) -> TimedStatus | None:
        return self._timer.current

    @property
    def owned(self) -> Status | None:
        return None if self._claim is None else status_of(self._claim.word)

    @property
    def claim(self) -> Claim | None:
        return self._claim

    @claim.setter
    def claim(self, claim: Claim | None) -> None:
        if claim != self._claim:
            log.info(
                "owned: %s",
                "nothing" if claim is None else f"{claim.word} ({claim.reason.value})",
            )
        self._claim = claim

    def on_shift(self, wall: float) -> bool:
        return self.schedule.is_on(wall)

    def may_return(self, wall: float, held: Held) -> bool:
        """Whether input now should bring Available: on shift, from a status the agent may
        change (an idle away, or one it owns)."""
        if held.status is None or held.status is Status.AVAILABLE or held.manual:
            return False
        if not self.on_shift(wall):
            return False
        return (held.status is Status.AWAY and held.by_idle) or held.status is self.owned

    def return_source(self, held: Held) -> Source:
        """The source to come back with: ``idle`` from an idle away, else ``user`` (a server
        refuses an idle change of a manual-looking status, and owned ones look manual)."""
        if held.status is Status.AWAY and held.by_idle and held.status is not self.owned:
            return Source.IDLE
        return Source.USER

    def view(self, wall: float) -> AgendaView:
        if not self.schedule.enabled:
            return AgendaView(timer=self.timer, owned=self.owned, claim=self._claim)
        shift = self.schedule.shift(wall)
        return AgendaView(
            timer=self.timer,
            scheduled=True,
            on_shift=shift.on,
            next_start=shift.next_start,
            next_end=shift.next_end,
            next_day_start=self.schedule.next_day_start(wall),
            owned=self.owned,
            claim=self._claim,
        )

    def wake_wall(self, wall: float) -> float | None:
        """The next wall-clock instant something may be due, or ``None``."""
        times = []
        deadline = self._timer.deadline()
        if deadline is not None:
            times.append(deadline)
        if self.schedule.enabled:
            shift = self.schedule.shift(wall)
            if self._was_on is not None and shift.on != self._was_on:
                times.append(wall)  # a start or an end not yet acted on: due now
            if shift.next_start is not None:
                times.append(shift.next_start)
            if shift.next_end is not None:
                times.append(shift.next_end)
                if shift.on and self._reminded_end != shift.next_end:
                    times.append(max(wall, shift.next_end - SHIFT_REMINDER))
        return min(times, default=None)

    # -- events -------------------------------------------------------------------------

    def begin(self, wall: float) -> None:
        """The agent starts at ``wall``: the shift's state now is the one changes start from."""
        self._was_on = self.on_shift(wall)

    def timed_choice(self, timed: TimedStatus) -> None:
        """A person asked for ``timed``; it starts once the server holds the status."""
        self.manual_choice()
        self._asked = timed

    def manual_choice(self) -> None:
        """A person chose a status: whatever the agenda had (a timer, an owned status) ends."""
        if self._timer.drop() is not None:
            log.info("timer dropped: a new choice replaces it")
        self._asked = None
        self.claim = None
        self._asking = None

    def drop_timer(self) -> TimedStatus | None:
        return self._timer.drop()

    def extend(self, wall: float, seconds: float = EXTEND_BY) -> TimedStatus | None:
        return self._timer.extend(wall, seconds)

    def asking(self, change: Change) -> None:
        """The policy sent ``change`` (from :meth:`step`)."""
        self._asking = change
        if not change.owned:
            self.claim = None

    def answered(
        self, status: Status, source: Source, server: ServerStatus, wall: float = 0.0
    ) -> None:
        """The server answered a request of ``status`` (``source``) with ``server`` at
        ``wall``."""
        asked = self._asked
        if asked is not None and source is Source.USER and status is asked.status:
            self._asked = None
            if server.status is asked.status:
                self._timer.start(asked)
                log.info("timed %s until %s", asked.status.value, _iso(asked.until))
        asking = self._asking
        if asking is not None and (asking.status, asking.source) == (status, source):
            self._asking = None
            if asking.owned and server.status is asking.status:
                self.claim = Claim(
                    word_of(server.status, server.by_idle), _OWN_REASON[asking.reason], wall
                )
        self.held(server)

    def held(self, server: ServerStatus) -> None:
        """The server holds ``server`` (an answer, a push, a refresh, the start)."""
        self._timer.held(server.status, server.by_idle)
        claim = self._claim
        if claim is not None and word_of(server.status, server.by_idle) != claim.word:
            log.info("%s no longer the agent's: now %s", claim.word, server.status.value)
            self.claim = None

    def own(
        self, status: Status, reason: OwnReason = OwnReason.SCHEDULE, wall: float = 0.0
    ) -> None:
        """The agent holds ``status`` on its own account (offline at a start off shift)."""
        self.claim = Claim(word_of(status, False), reason, wall)

    def step(
        self, wall: float, held: Held, recently_active: bool
    ) -> tuple[Change | None, list[Notice]]:
        """What is due at ``wall``: at most one change, and any notices.

        Call again while it returns a change and the policy can send another:
        each call acts on one thing (a timer end, then a shift end, say).
        """
        if held.pending:
            # A request is on its way: decide on what the server holds once it answers
            # (nothing is consumed meanwhile, so nothing due is lost).
            return None, []
        out = _Step()
        on = self.on_shift(wall)
        was_on, self._was_on = self._was_on, on
        if self.schedule.enabled and was_on is not None and was_on != on:
            if on:
                self._shift_started(wall, held, recently_active, out)
            else:
                self._shift_ended(wall, held, out)
        if out.change is None:
            self._timer_due(wall, held, recently_active, on, out)
        if self.schedule.enabled and on and out.change is None:
            self._remind_shift_end(wall, held, out)
        return out.change, out.notices

    # -- internals ----------------------------------------------------------------------

    def _shift_started(self, wall: float, held: Held, active: bool, out: _Step) -> None:
        if not (self.may_return(wall, held) and active) or held.pending:
            return
        out.change = Change(Status.AVAILABLE, self.return_source(held), Reason.SHIFT_START, False)
        tr = self._tr
        words = tr._("Your shift has started: {status}").format(status=tr._(Status.AVAILABLE.label))
        out.notices.append(Notice(NoticeKind.SHIFT_STARTED, words))

    def _end_target(self, held: Held) -> Status | None:
        """The status ``end_of_shift`` asks for, or ``None`` to leave it."""
        target = _END_TARGETS[self.schedule.end_of_shift]
        if target is Status.REASSIGNING and not self.can_reassign:
            target = Status.AWAY  # the documented server has no reassigning
        return target

    def _applies(self, held: Held) -> bool:
        """Whether the end of a shift may change what is held: not a person's choice."""
        if held.status is None or held.pending or held.manual:
            return False
        return held.status is Status.AVAILABLE or held.by_idle or held.status is self.owned

    def _shift_ended(self, wall: float, held: Held, out: _Step) -> None:
        target = self._end_target(held)
        if target is None or held.pending or held.manual:
            return
        if held.status is target and not held.by_idle:
            self.own(target, OwnReason.SCHEDULE, wall)  # already there (the sweep's offline)
            return
        if not self._applies(held):
            return
        out.change = Change(target, Source.USER, Reason.SHIFT_END, True)
        words = self._tr._("Your shift has ended: {status}").format(status=self._tr._(target.label))
        out.notices.append(Notice(NoticeKind.SHIFT_ENDED, words, self._next(wall)))

    def _remind_shift_end(self, wall: float, held: Held, out: _Step) -> None:
        end = self.schedule.next_end(wall)
        if end is None or end - wall > SHIFT_REMINDER or self._reminded_end == end:
            return
        self._reminded_end = end
        target = self._end_target(held)
        if target is None or not self._applies(held):
            return
        at = self._clock(end, wall)
        tr = self._tr
        out.notices.append(
            Notice(
                NoticeKind.SHIFT_SOON,
                tr._("Your shift ends at {time}").format(time=at),
                tr._("You will be {status} then (in {span}).").format(
                    status=tr._(target.label), span=format_span(end - wall, tr)
                ),
            )
        )

    def _timer_due(self, wall: float, held: Held, active: bool, on: bool, out: _Step) -> None:
        action = self._timer.step(wall, active)
        if isinstance(action, Remind):
            timed = action.timed
            tr = self._tr
            after = tr._(Status.AVAILABLE.label) if on else self._off_shift_label(held)
            out.notices.append(
                Notice(
                    NoticeKind.TIMER_SOON,
                    tr._("Back to {status} at {time}").format(
                        status=after, time=self._clock(timed.until, wall)
                    ),
                    tr._("Your {status} ends in {span}.").format(
                        status=tr._(timed.status.label),
                        span=format_span(timed.remaining(wall), tr),
                    ),
                    (extend_action(tr),),
                )
            )
            # An end also due (a wake inside the last minute) comes at the next step.
            return
        if not isinstance(action, Expire):
            return
        timed = action.timed
        if action.ending is Ending.AVAILABLE and on:
            change = Change(Status.AVAILABLE, Source.USER, Reason.TIMER, False)
        elif not on and (target := self._end_target(held)) is not None:
            change = Change(target, Source.USER, Reason.TIMER, True)
        else:
            # Away, which the agent owns: the next input (on shift) brings Available.
            change = Change(Status.AWAY, Source.USER, Reason.TIMER, True)
        if held.status is change.status and not held.by_idle:
            # Already there (an away timer ending in away): no request, just ownership.
            if change.owned:
                self.own(change.status, OwnReason.TIMER, wall)
            else:
                self.claim = None
            words = self._tr._("Your {status} has ended").format(
                status=self._tr._(timed.status.label)
            )
            out.notices.append(Notice(NoticeKind.TIMER_ENDED, words))
            return
        out.change = change
        tr = self._tr
        out.notices.append(
            Notice(
                NoticeKind.TIMER_ENDED,
                tr._("Your {status} has ended: {now}").format(
                    status=tr._(timed.status.label), now=tr._(change.status.label)
                ),
                "" if change.status is Status.AVAILABLE else self._next(wall),
            )
        )

    def _off_shift_label(self, held: Held) -> str:
        target = self._end_target(held)
        return self._tr._((target or Status.AWAY).label)

    def _next(self, wall: float) -> str:
        start = self.schedule.next_start(wall) if self.schedule.enabled else None
        if start is None or self.on_shift(wall):
            return ""
        return self._tr._("Your next shift starts {time}.").format(time=self._clock(start, wall))

    def _clock(self, when: float, wall: float) -> str:
        tz = self._display_tz
        return format_clock(
            datetime.fromtimestamp(when, tz), datetime.fromtimestamp(wall, tz), tz, self._tr
        )


_OWN_REASON = {
    Reason.TIMER: OwnReason.TIMER,
    Reason.SHIFT_END: OwnReason.SCHEDULE,
    Reason.SHIFT_START: OwnReason.SCHEDULE,
}

_END_TARGETS: dict[EndOfShift, Status | None] = {
    "offline": Status.OFFLINE,
    "away": Status.AWAY,
    "away_and_reassigning": Status.REASSIGNING,
    "nothing": None,
}


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall).isoformat(timespec="seconds")
