"""The presence policy: a pure state machine that decides what to ask the server for.

No threads, no I/O, no clocks: every input carries its own time, and every
output is a value. The engine feeds it; tests drive it with plain numbers.

Times are two clocks read together (:class:`~presence_agent.events.Now`):
``mono`` for durations and ``wall`` for the "since" shown to people and for
noticing a suspend, during which the monotonic clock stands still on Linux and
macOS while the wall clock runs on.

The rules (docs/architecture.md, "The presence rules"):

* On start, ``offline`` becomes ``available`` (source ``user``: starting the
  agent is the person's own act); any other status is kept. A choice the
  person made before the server was first reached goes out instead.
* After ``away_after`` seconds without input, ``available`` becomes ``away``
  (source ``idle``). Nothing else is ever changed by idleness.
* The first input after an away that idle detection set brings ``available``
  back (source ``idle``).
* A manual choice is sent as is (source ``user``).
* A request that is not idle detection's (the start-up ``available``, a manual
  choice) is never replaced by an idle change before the server has answered
  it: idleness acts on what the server holds, so it waits for that answer.
* The server's answer is the truth, whatever was asked.
* Only changes are emitted: the same request is never repeated while it is
  still the newest one.
"""

from __future__ import annotations

from dataclasses import dataclass

from presence_agent.agenda import Agenda, Held, Reason
from presence_agent.events import (
    NO_AGENDA,
    AgendaView,
    Desired,
    Notice,
    Now,
    TimedStatus,
    Why,
    check_pause,
)
from presence_agent.vocab import ServerStatus, Source, Status

__all__ = [
    "DEFAULT_AWAY_AFTER",
    "SUSPEND_JUMP",
    "Desired",
    "Now",
    "PresencePolicy",
    "View",
    "Why",
]

#: Default away threshold, in seconds.
DEFAULT_AWAY_AFTER = 300.0
#: How far the wall clock may run ahead of the monotonic one between two
#: observations before we call it a suspend. NTP slews by far less; a stepped
#: clock that trips this merely costs one idle away that input undoes.
SUSPEND_JUMP = 30.0


@dataclass(frozen=True)
class View:
    """What the policy believes, for snapshots."""

    status: Status | None
    why: Why
    since_wall: float | None
    by_idle: bool
    pending: Desired | None
    paused_until_mono: float | None
    paused: bool
    agenda: AgendaView = NO_AGENDA


class PresencePolicy:
    """Decides presence changes. Pure: call it from one thread (the engine's)."""

    def __init__(
        self, away_after: float = DEFAULT_AWAY_AFTER, agenda: Agenda | None = None
    ) -> None:
        if away_after <= 0:
            raise ValueError("away_after must be positive")
        self.away_after = float(away_after)
        #: Timers and working hours (presence_agent/agenda.py); without one, always on shift.
        self.agenda = agenda if agenda is not None else Agenda.none()
        self._notices: list[Notice] = []
        self._status: Status | None = None
        self._by_idle = False
        self._why = Why.UNKNOWN
        self._since_wall: float | None = None
        self._pending: Desired | None = None
        self._pending_why = Why.UNKNOWN
        self._last_input: float | None = None
        self._last_seen: Now | None = None
        self._paused_until: float | None = None
        self._pause_forever = False
        self._inhibited = False
        self._locked = False
        self._started = False
        self._needs_read = False
        self._slept = False

    # -- reading ---------------------------------------------------------

    @property
    def status(self) -> Status | None:
        """The status the server last told us it holds."""
        return self._status

    @property
    def pending(self) -> Desired | None:
        """The newest request not yet answered."""
        return self._pending

    def view(self) -> View:
        wall = self._last_seen.wall if self._last_seen is not None else None
        return View(
            agenda=NO_AGENDA if wall is None else self.agenda.view(wall),
            status=self._status,
            why=self._why,
            since_wall=self._since_wall,
            by_idle=self._by_idle,
            pending=self._pending,
            paused_until_mono=None if self._pause_forever else self._paused_until,
            # A timed pause is cleared by the idle check the engine makes when it ends.
            paused=self._pause_forever or self._paused_until is not None,
        )

    def paused(self, now: Now) -> bool:
        return self._pause_forever or (
            self._paused_until is not None and now.mono < self._paused_until
        )

    def _effective(self) -> tuple[Status | None, bool]:
        """The status we hold or have asked for, and whether idle detection owns it."""
        if self._pending is not None:
            return self._pending.status, self._pending.source is Source.IDLE
        return self._status, self._by_idle

    def next_wake(self, now: Now) -> float | None:
        """The monotonic time of the next idle check, or ``None`` if only an event can matter.

        The earliest of the policy's timers: the idle threshold (while idleness
        may act), the end of a timed pause, and "at once" while the screen is
        locked and an away is due. The engine sleeps until then; it never polls.
        """
        if not self._started:
            return None
        timers: list[float] = []
        if self._paused_until is not None:
            timers.append(self._paused_until)
        # While a request is unanswered the agenda waits for the answer (which wakes us).
        due = self.agenda.wake_wall(now.wall) if self._pending is None else None
        if due is not None:
            timers.append(now.mono + _wall_wait(due - now.wall))
        if self._idle_may_act():
            if self._locked:
                timers.append(now.mono)
            elif not self.paused(now) and not self._inhibited:
                last = self._last_input if self._last_input is not None else now.mono
                timers.append(last + self.away_after)
        return min(timers, default=None)

    def _idle_may_act(self) -> bool:
        """Whether idleness could change the status now: we hold (or have asked idle
        detection for) ``available``, and no request of someone else's is unanswered."""
        if self._pending is not None and self._pending.source is not Source.IDLE:
            return False
        status, _ = self._effective()
        return status is Status.AVAILABLE

    def wants_first_input(self) -> bool:
        """Whether the next input matters at once: we are away because of idleness (or in
        a status the agent set by its own rules), and on shift, where Available may return."""
        if self._locked or self._last_seen is None:
            return False
        return self.agenda.may_return(self._last_seen.wall, self._held())

    def take_notices(self) -> list[Notice]:
        """The notifications due since the last call (reminders, ends), oldest first."""
        notices, self._notices = self._notices, []
        return notices

    def may_ping(self) -> bool:
        """Whether a ``/ws`` ping is welcome now.

        On a real server a ping silently turns ``offline`` into ``online``, so
        not while offline is held or asked for (a ping landing between the PUT
        and its answer would undo it).
        """
        pending = self._pending.status if self._pending is not None else None
        return Status.OFFLINE not in (self._status, pending)

    # -- events ----------------------------------------------------------

    def start(self, now: Now, server: ServerStatus) -> Desired | None:
        """The agent started and has read what the server holds (once; later reads are
        :meth:`server_said`)."""
        self._started = True
        self._observe(now)
        if self._last_input is None:
            self._last_input = now.mono
        self._accept(now, server, Why.START if self._status is None else Why.ELSEWHERE)
        self.agenda.begin(now.wall)
        restored = self.agenda.timer
        if (
            restored is not None
            and server.status is Status.OFFLINE
            and restored.status is not Status.OFFLINE
            and self._pending is None
        ):
            # The agent's own quit (or the server's sweep) made it offline, not a
            # person: the timed status goes on, or, if its end has passed, the start's
            # rule (Available on shift) is the end's.
            self.agenda.drop_timer()
            if restored.until > now.wall:
                self.agenda.timed_choice(restored)
                desired = Desired(restored.status, Source.USER)
                self._pending, self._pending_why = desired, Why.MANUAL
                return desired
        self.agenda.held(server)
        if server.status is Status.OFFLINE and self._pending is None:
            if not self.agenda.on_shift(now.wall):
                # Outside working hours nobody is brought online by the agent: the
                # offline waits, as the agent's own, for the shift to start.
                self.agenda.own(Status.OFFLINE)
                return None
            return self._ask(Desired(Status.AVAILABLE, Source.USER), Why.START)
        return None

    def input_seen(self, now: Now, idle_seconds: float = 0.0) -> Desired | None:
        """Input happened ``idle_seconds`` before ``now`` (the first input after idleness).

        Ignored while the screen is locked: typing the password is not being back.
        """
        self._observe(now)
        if self._locked:
            return None
        if self._take_slept():
            # The reading spans a suspend: input stamped before it says
            # nothing about the person now.
            return self._go_idle(now, Why.SLEEP)
        self._last_input = max(self._last_input or 0.0, now.mono - idle_seconds)
        if self.wants_first_input():
            source = self.agenda.return_source(self._held())
            return self._ask(Desired(Status.AVAILABLE, source), Why.IDLE)
        return None

    def idle_check(self, now: Now, idle_seconds: float) -> Desired | None:
        """The engine woke (at a deadline) and read the idle time: idleness first, then
        what the clock has made due (a timer's end, a shift's start or end)."""
        self._observe(now)
        slept = self._slept
        desired = self._idle_check(now, idle_seconds)
        if desired is not None:
            return desired
        active = not slept and not self._locked and idle_seconds < self.away_after
        return self._agenda_step(now, active)

    def _idle_check(self, now: Now, idle_seconds: float) -> Desired | None:
        self._observe(now)
        if self._take_slept():
            return self._go_idle(now, Why.SLEEP)
        if self._paused_until is not None and now.mono >= self._paused_until:
            # A timed pause ran out: like a resume, the idle clock starts
            # afresh, so the person is not sent away the moment it ends.
            self._last_input = max(self._last_input or 0.0, self._paused_until)
            self._paused_until = None
        last = now.mono - idle_seconds
        if self._last_input is not None and self._last_input > last:
            # Activity the source cannot see (a manual Available, a resume)
            # restarts the idle clock all the same.
            last = self._last_input
            idle_seconds = now.mono - last
        self._last_input = last
        if self._locked:
            return self._go_idle(now, Why.LOCKED)
        if idle_seconds >= self.away_after:
            return self._go_idle(now, Why.IDLE)
        return None

    def screen_locked(self, now: Now) -> Desired | None:
        """The session locked: the person has left, whatever the idle time says.

        If an away cannot be asked yet (a manual choice is unanswered), it is
        asked at the next idle check once it can: :meth:`next_wake` says "now".
        """
        self._observe(now)
        self._locked = True
        return self._go_idle(now, Why.LOCKED)

    def screen_unlocked(self, now: Now) -> None:
        """The session unlocked. Nothing is sent: the next input says the person is back."""
        self._observe(now)
        self._locked = False

    def suspending(self, now: Now) -> Desired | None:
        """The OS says it is about to sleep."""
        self._observe(now)
        return self._go_idle(now, Why.SLEEP)

    def manual(self, now: Now, status: Status) -> Desired:
        """The person chose ``status`` (tray, CLI).

        Always sent, even when it looks unchanged: on the server a manual
        choice also takes the status out of idle detection's hands.
        """
        self._observe(now)
        if status is Status.AVAILABLE:
            # Choosing Available is activity; don't go idle-away right after.
            self._last_input = now.mono
        desired = Desired(status, Source.USER)
        self._pending, self._pending_why = desired, Why.MANUAL
        self.agenda.manual_choice()
        return desired

    def timed(self, now: Now, status: Status, until: float, set_by: str = "user") -> Desired:
        """The person chose ``status`` until the wall-clock instant ``until``.

        Sent like any manual choice; the timer starts once the server holds it.
        """
        desired = self.manual(now, status)
        self.agenda.timed_choice(TimedStatus(status, until, now.wall, set_by))
        return desired

    def extend(self, now: Now, seconds: float) -> TimedStatus | None:
        """Push the running timer's end back (the reminder's "Extend"); the new timer."""
        self._observe(now)
        return self.agenda.extend(now.wall, seconds)

    def answered(self, now: Now, asked: Desired, server: ServerStatus) -> None:
        """The server answered ``asked`` with what it now holds."""
        self._observe(now)
        if self._pending == asked:
            why = self._pending_why
        else:
            # Superseded, or sent without us (the offline on quit): still ours.
            why = Why.MANUAL if asked.source is Source.USER else Why.IDLE
        if self._pending == asked:
            self._pending = None
        self.agenda.answered(asked.status, asked.source, server)
        if server.status is asked.status:
            by_idle = asked.source is Source.IDLE if server.by_idle is None else server.by_idle
            self._set(now, server.status, by_idle, why)
        elif asked.source is Source.IDLE and server.by_idle is None:
            # The server refused an idle change: what it holds was set by
            # someone, not by idle detection, so it is not ours to touch.
            self._set(now, server.status, False, Why.ELSEWHERE)
        else:
            # The server kept something else (its idle guard, or a change
            # made elsewhere raced ours). Believe it.
            self._accept(now, server, Why.ELSEWHERE)

    def take_needs_read(self) -> bool:
        """Whether the server must be read again to know its status; asks only once.

        Set when a push disagreed with a request in flight; due once that
        request is answered.
        """
        if self._pending is not None or not self._needs_read:
            return False
        self._needs_read = False
        return True

    def failed(self, asked: Desired) -> None:
        """A request was given up (credentials refused, shutting down)."""
        if self._pending == asked:
            self._pending = None

    def server_said(self, now: Now, server: ServerStatus) -> None:
        """The server pushed or reported its status (``/ws``, a refresh)."""
        self._observe(now)
        if self._pending is not None:
            # Our own request is on its way. A push of what we asked for is
            # its echo; anything else may be a change made elsewhere just
            # before or after ours, which only a fresh read can order.
            if server.status is not self._pending.status:
                self._needs_read = True
            return
        self.agenda.held(server)
        if server.status is self._status and server.by_idle in (None, self._by_idle):
            return
        self._accept(now, server, Why.ELSEWHERE)

    def pause(self, now: Now, seconds: float | None) -> None:
        """Pause idle detection for ``seconds``, or until :meth:`resume` if ``None``.

        Raises :class:`ValueError` for a pause that is no duration (``inf``,
        ``nan``, negative, beyond :data:`~presence_agent.events.MAX_PAUSE`).
        """
        seconds = check_pause(seconds)
        self._observe(now)
        self._pause_forever = seconds is None
        self._paused_until = None if seconds is None else now.mono + seconds

    def inhibit(self, now: Now, active: bool) -> None:
        """An app holds an idle inhibitor (a call, a video): no idle away meanwhile.

        Like a pause, but the session's, so it leaves the person's own pause
        alone. When it ends the idle clock starts afresh, as after a resume.
        """
        self._observe(now)
        if self._inhibited and not active:
            self._last_input = max(self._last_input or now.mono, now.mono)
        self._inhibited = active

    def resume(self, now: Now) -> None:
        """End a pause. The idle clock starts afresh, so no away fires at once."""
        self._observe(now)
        self._pause_forever = False
        self._paused_until = None
        self._last_input = now.mono

    # -- internals -------------------------------------------------------

    def _held(self) -> Held:
        """What the agenda needs to know of the status held (or asked for)."""
        status, by_idle = self._effective()
        why = self._pending_why if self._pending is not None else self._why
        if status is Status.OFFLINE:
            manual = why is Why.MANUAL
        else:
            manual = (
                status is not None
                and status is not Status.AVAILABLE
                and not by_idle
                and status is not self.agenda.owned
                and why not in _AGENDA_WHYS
            )
        return Held(status, by_idle, manual, pending=self._pending is not None)

    def _agenda_step(self, now: Now, active: bool) -> Desired | None:
        change, notices = self.agenda.step(now.wall, self._held(), active)
        self._notices.extend(notices)
        if change is None:
            return None
        desired = self._ask(Desired(change.status, change.source), _WHY_OF[change.reason])
        if desired is None:
            # Already held: nothing to send, but the agent owns it now if the rule says so.
            if change.owned:
                self.agenda.own(change.status)
            return None
        self.agenda.asking(change)
        return desired

    def _go_idle(self, now: Now, why: Why) -> Desired | None:
        # A pause is for a talk or a call; a locked screen or a sleeping
        # machine means the person has gone all the same.
        if why is Why.IDLE and (self.paused(now) or self._inhibited):
            return None
        if not self._idle_may_act():
            return None
        return self._ask(Desired(Status.AWAY, Source.IDLE), why)

    def _ask(self, desired: Desired, why: Why) -> Desired | None:
        if self._pending == desired:
            return None
        if (
            self._pending is None
            and self._status is desired.status
            and self._by_idle == (desired.source is Source.IDLE and desired.status is Status.AWAY)
        ):
            return None
        self._pending, self._pending_why = desired, why
        return desired

    def _accept(self, now: Now, server: ServerStatus, why: Why) -> None:
        status = server.status
        if server.by_idle is not None:
            by_idle = server.by_idle
        else:
            # The documented dialect cannot say who set an away; only the
            # away we set ourselves is ours to undo.
            by_idle = status is Status.AWAY and self._status is Status.AWAY and self._by_idle
        if status is Status.AWAY and by_idle and why is Why.ELSEWHERE:
            why = Why.IDLE
        self._set(now, status, by_idle, why)

    def _set(self, now: Now, status: Status, by_idle: bool, why: Why) -> None:
        by_idle = by_idle and status is Status.AWAY
        if status is not self._status or by_idle != self._by_idle:
            self._since_wall = now.wall
        self._status = status
        self._by_idle = by_idle
        self._why = why

    def _observe(self, now: Now) -> None:
        """Remember this reading, and latch a suspend seen since the last one.

        Latched, not returned: whichever event first reads the clock after a
        wake (a server answer, say), the next idle check or input still
        learns that the machine slept.
        """
        last, self._last_seen = self._last_seen, now
        if last is not None and (now.wall - last.wall) - (now.mono - last.mono) > SUSPEND_JUMP:
            self._slept = True

    def _take_slept(self) -> bool:
        slept, self._slept = self._slept, False
        return slept


_WHY_OF = {
    Reason.TIMER: Why.TIMER,
    Reason.SHIFT_END: Why.SHIFT_END,
    Reason.SHIFT_START: Why.SHIFT_START,
}
_AGENDA_WHYS = frozenset(_WHY_OF.values())
#: A wall-clock deadline is slept towards in halves until it is this close: the engine
#: sleeps on the monotonic clock, so a clock set while it sleeps costs at most half the
#: time that was left, not the whole of it (a suspend is told apart by the session watcher).
WALL_SETTLE = 120.0


def _wall_wait(remaining: float) -> float:
    """How long to sleep (monotonic) towards a wall-clock instant ``remaining`` s away."""
    if remaining <= WALL_SETTLE:
        return max(0.0, remaining)
    return max(WALL_SETTLE, remaining / 2)
