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
    Claim,
    Desired,
    Notice,
    NoticeKind,
    Now,
    OwnReason,
    TimedStatus,
    Why,
    check_pause,
)
from presence_agent.i18n import Translator
from presence_agent.routing import (
    IdlePlan,
    Recovery,
    Step,
    recovery_for,
    source_for,
    step_of,
    word_of,
)
from presence_agent.timespec import format_span
from presence_agent.vocab import Dialect, ServerStatus, Source, Status

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
    #: The wall-clock time of the last input the policy knows of (for "idle 17 min").
    last_input_wall: float | None = None


class PresencePolicy:
    """Decides presence changes. Pure: call it from one thread (the engine's)."""

    def __init__(
        self,
        away_after: float = DEFAULT_AWAY_AFTER,
        agenda: Agenda | None = None,
        plan: IdlePlan | None = None,
    ) -> None:
        if plan is not None:
            away_after = plan.away_after
        if away_after <= 0:
            raise ValueError("away_after must be positive")
        self.away_after = float(away_after)
        #: Idleness's steps (presence_agent/routing.py); without one, ``away`` alone.
        self.plan = plan if plan is not None else IdlePlan(self.away_after, None, None)
        #: The server's dialect, once connected: the later steps and the recovery from a
        #: false offline exist on a real Libredesk only.
        self.dialect: Dialect | None = None
        #: An escalation step (or the sleep's away) on its way, and why: owned once held.
        self._escalating: tuple[Desired, OwnReason, float | None] | None = None
        #: A status found that the person's first input undoes (recovery, docs/libredesk.md).
        self._recover_on_input = False
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
        seen = self._last_seen
        wall = seen.wall if seen is not None else None
        last_input_wall = (
            None
            if seen is None or self._last_input is None
            # Whole seconds: the two clocks' sum wobbles in its last bits, and a snapshot
            # that changes at every event would redraw the tray for nothing.
            else float(round(seen.wall - max(0.0, seen.mono - self._last_input)))
        )
        return View(
            last_input_wall=last_input_wall,
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
        elif (after := self._next_step_after(now)) is not None:
            last = self._last_input if self._last_input is not None else now.mono
            timers.append(last + after)
        return min(timers, default=None)

    def _depth(self) -> int | None:
        """How far idleness has gone (0: Available, 1: idle away, 2-3: the owned steps), or
        ``None`` where it may not go on: a status somebody chose, a request unanswered."""
        if self._pending is not None or self._status is None:
            return None
        if self._status is Status.AVAILABLE:
            return 0
        if self._status is Status.AWAY and self._by_idle:
            return Step.AWAY.depth
        claim = self.agenda.claim
        step = step_of(claim)
        if (
            claim is not None
            and step is not None
            and claim.reason in (OwnReason.IDLE, OwnReason.SLEEP)
            and claim.word == word_of(self._status, self._by_idle)
        ):
            return step.depth
        return None

    def _next_step_after(self, now: Now) -> float | None:
        """Seconds idle at which the next step beyond the idle away is due, if one may act."""
        depth = self._depth()
        if depth is None or depth == 0 or self.paused(now) or self._inhibited:
            return None
        for after, step in self.plan.steps(self.dialect):
            if step.depth > depth:
                return after
        return None

    def _escalate(self, now: Now, idle_seconds: float) -> Desired | None:
        """The next owned step, if it is due after ``idle_seconds`` without input."""
        depth = self._depth()
        if depth is None or depth == 0 or self.paused(now) or self._inhibited:
            return None
        due = self.plan.due(idle_seconds, self.dialect)
        if due is None or due.depth <= depth:
            return None
        return self._step(now, due, OwnReason.IDLE, Why.IDLE)

    def _step(
        self, now: Now, step: Step, reason: OwnReason, why: Why, since: float | None = None
    ) -> Desired | None:
        """Ask for ``step``, which the agent owns once the server holds it. The source is the
        one the server lets change what is held now (routing.source_for: ``user`` over its
        guarded words, whose idle guard would answer 200 and change nothing)."""
        assert self._status is not None
        source = source_for(word_of(self._status, self._by_idle))
        if step is Step.REASSIGN:
            desired = Desired(Status.REASSIGNING, source)
        elif step is Step.NO_ASSIGNMENTS:
            desired = Desired(Status.AWAY, source, no_assignments=True)
        else:
            desired = Desired(Status.AWAY, Source.IDLE)
        asked = self._ask(desired, why)
        if asked is not None and step is not Step.AWAY:
            self._escalating = (asked, reason, since)
        return asked

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
        if self._recover_on_input and self._pending is None:
            return self.agenda.on_shift(self._last_seen.wall)
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

    def start(
        self, now: Now, server: ServerStatus, idle_seconds: float | None = None
    ) -> Desired | None:
        """The agent started and has read what the server holds (once; later reads are
        :meth:`server_said`). ``idle_seconds``: the input source's reading now."""
        self._started = True
        self._observe(now)
        if self._last_input is None:
            self._last_input = now.mono
        self._accept(now, server, Why.START if self._status is None else Why.ELSEWHERE)
        self.agenda.begin(now.wall)
        resumed = self._resume_step(now, server, idle_seconds)
        if resumed is not None:
            return resumed
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
        claim = self.agenda.claim
        if (
            claim is not None
            and claim.reason in (OwnReason.IDLE, OwnReason.SLEEP)
            and idle_seconds is not None
        ):
            # A restart in the middle of an escalation: it goes on from the last input the
            # source saw, not from this start (which the person may not even know of).
            self._last_input = now.mono - idle_seconds
        if server.status is not Status.OFFLINE and self._pending is None:
            return self._recover(now, server, idle_seconds)
        if server.status is Status.OFFLINE and self._pending is None:
            if not self.agenda.on_shift(now.wall):
                # Outside working hours nobody is brought online by the agent: the
                # offline waits, as the agent's own, for the shift to start.
                self.agenda.own(Status.OFFLINE)
                return None
            return self._ask(Desired(Status.AVAILABLE, Source.USER), Why.START)
        return None

    def _resume_step(
        self, now: Now, server: ServerStatus, idle_seconds: float | None
    ) -> Desired | None:
        """A restart in the middle of an escalation, after the agent's own offline on quit
        (which stops no routing on a real server): while the person is still gone, the step
        they had reached is put back, owned as before; their first input brings them back."""
        claim = self.agenda.claim
        step = step_of(claim)
        if (
            claim is None
            or step is None
            or step is Step.AWAY
            or claim.reason not in (OwnReason.IDLE, OwnReason.SLEEP)
            or server.status is not Status.OFFLINE
            or self.dialect is not Dialect.LIBREDESK
            or idle_seconds is None
            or idle_seconds < self.away_after
            or not self.agenda.on_shift(now.wall)
        ):
            return None
        self._last_input = now.mono - idle_seconds
        self.agenda.claim = None  # until the server holds it again
        return self._step(now, step, claim.reason, Why.IDLE, since=claim.since)

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
            if self._recover_on_input:
                self._recover_on_input = False
                held = self._status or Status.OFFLINE
                source = source_for(word_of(held, self._by_idle))
            else:
                # One PUT from whichever step was reached: ``user`` over an owned
                # away_manual/away_and_reassigning, whose idle guard refuses ``idle``.
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
            return self._go_idle(now, Why.LOCKED) or self._escalate(now, idle_seconds)
        if idle_seconds >= self.away_after:
            return self._go_idle(now, Why.IDLE) or self._escalate(now, idle_seconds)
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
        """The OS says it is about to sleep. With ``stop_assignments_after`` set, a real
        server is told ``away_manual`` (owned) at once: a sleeping laptop is gone, and the
        sweep's offline would not stop routing either."""
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
        self._escalating = None
        self._recover_on_input = False
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
        before = (self._status, self._by_idle, self._since_wall, self.agenda.claim)
        self.agenda.answered(asked.status, asked.source, server, now.wall)
        self._recover_on_input = False
        self._owned_step(now, asked, server, before[1:])
        self._announce(now, asked, server, before)
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

    def server_said(
        self, now: Now, server: ServerStatus, idle_seconds: float | None = None
    ) -> Desired | None:
        """The server pushed or reported its status (``/ws``, a refresh, a reconnect).

        On a real server an ``offline`` nobody chose here, or an ``away``, found while the
        person is active (``idle_seconds``, the input source's reading) is undone at once
        with a ``PUT`` (docs/libredesk.md, recovery); the request is returned.
        """
        self._observe(now)
        if self._pending is not None:
            # Our own request is on its way. A push of what we asked for is
            # its echo; anything else may be a change made elsewhere just
            # before or after ours, which only a fresh read can order.
            if server.status is not self._pending.status:
                self._needs_read = True
            return None
        chose_offline = self._status is Status.OFFLINE and self._why is Why.MANUAL
        self.agenda.held(server)
        if not (server.status is self._status and server.by_idle in (None, self._by_idle)):
            self._recover_on_input = False
            self._accept(now, server, Why.ELSEWHERE)
        return self._recover(now, server, idle_seconds, chose_offline=chose_offline)

    def _recover(
        self,
        now: Now,
        server: ServerStatus,
        idle_seconds: float | None,
        *,
        chose_offline: bool = False,
    ) -> Desired | None:
        """Undo a false offline or an idle away found while the person is at the desk
        (routing.recovery_for); PUT first, so everyone is told, and only then ping (the
        keepalive pings once the policy holds no offline)."""
        if self.dialect is not Dialect.LIBREDESK or self._status is None:
            return None
        claim = self.agenda.claim
        if claim is not None and claim.reason in (OwnReason.TIMER, OwnReason.SCHEDULE):
            return None  # the agenda's own: it brings it back (on shift, on input)
        if self._last_seen is None or not self.agenda.on_shift(now.wall):
            return None
        if idle_seconds is None:
            last = self._last_input if self._last_input is not None else now.mono
            idle_seconds = now.mono - last
        active = not self._locked and not self._slept and idle_seconds < self.away_after
        word = word_of(server.status, server.by_idle)
        decided = recovery_for(
            self.dialect,
            word,
            person_active=active,
            chose_offline=chose_offline or self._why is Why.MANUAL,
            claim=claim,
        )
        if decided is Recovery.PUT_ONLINE:
            if claim is not None:
                return None  # owned: the first input brings it back, as on any return
            return self._ask(Desired(Status.AVAILABLE, source_for(word)), Why.IDLE)
        if decided is Recovery.ON_INPUT and claim is None and server.status is Status.OFFLINE:
            self._recover_on_input = True
        return None

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
        if why is Why.SLEEP and self._sleep_stops_routing():
            return self._step(now, Step.NO_ASSIGNMENTS, OwnReason.SLEEP, why)
        if not self._idle_may_act():
            return None
        return self._ask(Desired(Status.AWAY, Source.IDLE), why)

    def _sleep_stops_routing(self) -> bool:
        """Whether a sleep goes straight to ``away_manual``: a real server, the plan has that
        step, and idleness holds Available or its own away (not deeper already)."""
        if self.dialect is not Dialect.LIBREDESK or self.plan.stop_assignments_after is None:
            return False
        depth = self._depth()
        return depth is not None and depth <= Step.AWAY.depth

    def _owned_step(
        self,
        now: Now,
        asked: Desired,
        server: ServerStatus,
        before: tuple[bool, float | None, Claim | None],
    ) -> None:
        """An escalation step (or the sleep's away) answered: the agent owns what the server
        now holds, if it is what was asked; ``since`` stays that of the first step."""
        escalating, self._escalating = self._escalating, None
        if escalating is None or escalating[0] != asked:
            return
        if server.status is not asked.status or server.by_idle is True:
            return  # somebody else's change won, or the server kept its own: not ours
        was_idle, since, claim = before
        word = word_of(server.status, server.by_idle)
        if claim is not None and claim.reason in (OwnReason.IDLE, OwnReason.SLEEP):
            self.agenda.claim = claim.moved_to(word)
        else:
            started = escalating[2] or (since if was_idle and since is not None else now.wall)
            self.agenda.claim = Claim(word, escalating[1], started)

    def _announce(
        self,
        now: Now,
        asked: Desired,
        server: ServerStatus,
        before: tuple[Status | None, bool, float | None, Claim | None],
    ) -> None:
        """A notice at each owned step and on the return from one (real server)."""
        if self.dialect is not Dialect.LIBREDESK or server.status is not asked.status:
            return
        status, by_idle, since, claim = before
        claim_now = self.agenda.claim
        if (
            claim_now is not None
            and claim_now != claim
            and claim_now.reason
            in (
                OwnReason.IDLE,
                OwnReason.SLEEP,
            )
        ):
            tr = self.agenda.tr
            title = {
                "away_manual": tr._("You're away: no new conversations"),
                "away_and_reassigning": tr._(
                    "You're away: your conversations are being reassigned"
                ),
            }.get(claim_now.word)
            if title is not None:
                last = self._last_input if self._last_input is not None else now.mono
                body = tr._("Idle {time}; move the mouse or type to come back").format(
                    time=_span(now.mono - last, tr)
                )
                self._notices.append(Notice(NoticeKind.ESCALATED, title, body))
        elif (
            server.status is Status.AVAILABLE
            and status is not None
            and status is not Status.AVAILABLE
            and (
                by_idle or (claim is not None and claim.reason in (OwnReason.IDLE, OwnReason.SLEEP))
            )
        ):
            tr = self.agenda.tr
            began = claim.since if claim is not None else since
            if began is None:
                title = tr._("You're online again")
            else:
                title = tr._("You're online again; away {time}").format(
                    time=_span(now.wall - began, tr)
                )
            self._notices.append(Notice(NoticeKind.RETURNED, title))

    def _ask(self, desired: Desired, why: Why) -> Desired | None:
        if self._pending == desired:
            return None
        if (
            self._pending is None
            and self._status is desired.status
            and self._by_idle
            == (
                desired.source is Source.IDLE
                and desired.status is Status.AWAY
                and not desired.no_assignments
            )
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


def _span(seconds: float, tr: Translator) -> str:
    """``42 min`` (whole minutes, rounded down: "away 42 min" is not 43), ``45 s``."""
    seconds = max(0.0, seconds)
    return format_span(seconds if seconds < 60 else seconds // 60 * 60, tr)


def _wall_wait(remaining: float) -> float:
    """How long to sleep (monotonic) towards a wall-clock instant ``remaining`` s away."""
    if remaining <= WALL_SETTLE:
        return max(0.0, remaining)
    return max(WALL_SETTLE, remaining / 2)
