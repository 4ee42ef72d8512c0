"""The engine: one thread that owns the policy, sleeps until its next deadline, and
turns events (input, choices, server answers and pushes) into requests.

Everything reaches it through :meth:`Engine.post`; it never blocks on I/O.
Its output is a :class:`Snapshot` for the tray and the control socket, and
requests for the reporter.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from presence_agent.idle.base import IdleSource
from presence_agent.policy import Desired, Now, PresencePolicy, Why
from presence_agent.reporter import (
    Answered,
    Connected,
    Failed,
    Refreshed,
    ReporterEvent,
    SignedOut,
    Trouble,
)
from presence_agent.vocab import (
    Dialect,
    ServerStatus,
    Source,
    Status,
    UnsupportedStatusError,
    statuses_for,
)

log = logging.getLogger(__name__)

#: The engine wakes at least this often, to notice a suspend (the monotonic
#: clock stands still through one) and a pause running out.
WATCHDOG = 15.0


class Clock:
    """Both clocks, read together. Tests pass their own."""

    def now(self) -> Now:
        return Now(time.monotonic(), time.time())


# -- events --------------------------------------------------------------------------


@dataclass(frozen=True)
class InputSeen:
    """The first input after idleness (from the idle source's thread)."""


@dataclass(frozen=True)
class ManualChoice:
    """The person chose a status. ``reply`` gets the outcome (from the engine thread)."""

    status: Status
    reply: Callable[[Outcome], None] | None = None


@dataclass(frozen=True)
class Pause:
    seconds: float | None


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class ScreenLock:
    locked: bool


@dataclass(frozen=True)
class IdleInhibit:
    """An app holds an idle inhibitor (a call, a video) now, or no longer.

    ``why`` says what holds it, for the tray: ``microphone in use``.
    """

    active: bool
    why: str = ""


@dataclass(frozen=True)
class Suspend:
    """The OS is about to sleep (``before``) or has woken."""

    before: bool


@dataclass(frozen=True)
class ServerPush:
    """The server pushed a status for this agent (``/ws``)."""

    server: ServerStatus


@dataclass(frozen=True)
class Resync:
    """Pushes may have been missed (the ``/ws`` just (re)connected): read the server again."""


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class Call:
    """Run ``fn`` on the engine thread (for reads that must see a consistent state)."""

    fn: Callable[[], None]


Event = (
    InputSeen
    | ManualChoice
    | Pause
    | Resume
    | ScreenLock
    | IdleInhibit
    | Suspend
    | ServerPush
    | Resync
    | Stop
    | Call
    | ReporterEvent
)


@dataclass(frozen=True)
class Outcome:
    """What became of a manual choice."""

    ok: bool
    status: Status | None
    message: str


@dataclass(frozen=True)
class Snapshot:
    """Everything the tray and ``status`` show. Frozen: safe to hand to any thread."""

    status: Status | None = None
    why: Why = Why.UNKNOWN
    by_idle: bool = False
    since_wall: float | None = None
    connected: bool = False
    signed_out: bool = False
    problem: str | None = None
    dialect: Dialect | None = None
    choices: tuple[Status, ...] = statuses_for(Dialect.DOCUMENTED)
    pending: Status | None = None
    paused: bool = False
    paused_until_wall: float | None = None
    agent_name: str = ""
    agent_id: int | None = None
    idle_source: str = ""
    #: What holds idle detection off now (``microphone in use``), or empty.
    held_by: str = ""
    extras: dict[str, str] = field(default_factory=dict)


class Reporting(Protocol):
    """What the engine needs of the reporter; tests pass a small fake."""

    def submit(self, desired: Desired) -> None: ...

    def refresh(self) -> None: ...


class Engine:
    """Owns the policy.

    Thread use: ``post`` (and ``snapshot``) from any thread; ``run`` on the
    engine thread, which alone touches the policy and the idle source after
    start. Snapshot listeners are called on the engine thread and must only
    post to their own thread (the tray) or copy the value.
    """

    def __init__(
        self,
        policy: PresencePolicy,
        source: IdleSource,
        reporter: Reporting,
        *,
        clock: Clock | None = None,
        refresh_every: float | None = None,
        inbox: queue.SimpleQueue[Any] | None = None,
    ) -> None:
        self._policy = policy
        self._source = source
        self._reporter = reporter
        self._clock = clock or Clock()
        self._queue: queue.SimpleQueue[Event] = inbox if inbox is not None else queue.SimpleQueue()
        self._listeners: list[Callable[[Snapshot], None]] = []
        self._snapshot = Snapshot(idle_source=source.name)
        self._held_by = ""
        self._lock = threading.Lock()
        self._connected = False
        self._dialect: Dialect | None = None
        self._agent_name = ""
        self._agent_id: int | None = None
        self._problem: str | None = None
        self._signed_out = False
        self._waiting: list[tuple[Desired, Callable[[Outcome], None]]] = []
        self._refresh_every = refresh_every
        self._next_refresh: float | None = None
        self._locked = False

    # -- any thread -------------------------------------------------------------------

    def post(self, event: Event) -> None:
        self._queue.put(event)

    def on_activity(self) -> None:
        """The idle source's callback: cheap, never blocks."""
        self._queue.put(InputSeen())

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snapshot

    def subscribe(self, listener: Callable[[Snapshot], None]) -> None:
        """Call ``listener`` with each new snapshot (on the engine thread)."""
        self._listeners.append(listener)

    # -- engine thread -------------------------------------------------------------------

    def run(self) -> None:
        """Handle events until :class:`Stop`. The idle source must be started already."""
        while True:
            now = self._clock.now()
            wake = now.mono + WATCHDOG
            deadline = self._policy.next_deadline(now)
            if deadline is not None:
                wake = min(wake, deadline)
            if self._next_refresh is not None:
                wake = min(wake, self._next_refresh)
            try:
                event = self._queue.get(timeout=max(0.0, wake - now.mono))
            except queue.Empty:
                self._tick()
            else:
                if isinstance(event, Stop):
                    return
                self._handle(event)
            self._after()

    def _tick(self) -> None:
        now = self._clock.now()
        if self._next_refresh is not None and now.mono >= self._next_refresh:
            self._reporter.refresh()
            self._schedule_refresh(now)
        if not self._connected:
            return
        self._send(self._policy.idle_check(now, self._source.idle_seconds()))

    def _handle(self, event: Event) -> None:
        now = self._clock.now()
        match event:
            case InputSeen():
                # Typing the password on a locked screen is not being back.
                if self._connected and not self._locked:
                    was_away = self._policy.wants_first_input()
                    self._send(self._policy.input_seen(now, self._source.idle_seconds()))
                    if was_away and self._refresh_every is not None:
                        # Back from idle: the server may have moved on meanwhile.
                        self._reporter.refresh()
            case ManualChoice(status=status, reply=reply):
                self._manual(now, status, reply)
            case Pause(seconds=seconds):
                self._policy.pause(now, seconds)
            case Resume():
                self._policy.resume(now)
            case ScreenLock(locked=locked):
                self._locked = locked
                if locked and self._connected:
                    self._send(self._policy.screen_locked(now))
            case IdleInhibit(active=active, why=why):
                self._policy.inhibit(now, active)
                self._held_by = why if active else ""
            case Suspend(before=before):
                if before and self._connected:
                    self._send(self._policy.suspending(now))
                elif not before:
                    self._reporter.refresh()
            case ServerPush(server=server):
                self._policy.server_said(now, server)
            case Resync():
                if self._connected:
                    self._reporter.refresh()
            case Connected(agent=agent, dialect=dialect, server=server):
                first = not self._connected and self._dialect is None
                self._connected, self._dialect = True, dialect
                self._agent_name, self._agent_id = agent.name, agent.id
                self._problem, self._signed_out = None, False
                log.info(
                    "connected as agent %s (%s server); it holds %s",
                    agent.id,
                    dialect.value,
                    server.status.value,
                )
                if first:
                    self._send(self._policy.start(now, server))
                    self._schedule_refresh(now)
                else:
                    self._policy.server_said(now, server)
            case Answered(asked=asked, server=server):
                self._policy.answered(now, asked, server)
                self._reply(asked, Outcome(True, server.status, _describe_answer(asked, server)))
                if server.status is not asked.status:
                    log.info(
                        "asked for %s (%s); the server keeps %s",
                        asked.status.value,
                        asked.source.value,
                        server.status.value,
                    )
                else:
                    log.info("now %s (%s)", server.status.value, asked.source.value)
            case Refreshed(server=server):
                self._policy.server_said(now, server)
            case Failed(asked=asked, message=message):
                if asked is not None:
                    self._policy.failed(asked)
                    self._reply(asked, Outcome(False, self._policy.status, message))
                else:
                    self._problem = message
            case Trouble(message=message):
                self._problem = message
            case SignedOut(message=message):
                self._connected, self._signed_out, self._problem = False, True, message
            case Call(fn=fn):
                fn()

    def _manual(self, now: Now, status: Status, reply: Callable[[Outcome], None] | None) -> None:
        problem = None
        if self._signed_out or not self._connected:
            problem = self._problem or "not connected to the server yet"
        elif status not in statuses_for(self._dialect or Dialect.DOCUMENTED):
            problem = str(UnsupportedStatusError(status, self._dialect or Dialect.DOCUMENTED))
        if problem is not None:
            if reply is not None:
                reply(Outcome(False, self._policy.status, problem))
            return
        desired = self._policy.manual(now, status)
        if reply is not None:
            self._waiting.append((desired, reply))
        self._reporter.submit(desired)

    def _reply(self, asked: Desired, outcome: Outcome) -> None:
        keep = []
        for desired, reply in self._waiting:
            if desired == asked:
                reply(outcome)
            else:
                keep.append((desired, reply))
        self._waiting = keep

    def _send(self, desired: Desired | None) -> None:
        if desired is not None:
            log.debug("asking for %s (%s)", desired.status.value, desired.source.value)
            self._reporter.submit(desired)

    def _schedule_refresh(self, now: Now) -> None:
        if self._refresh_every is not None:
            self._next_refresh = now.mono + self._refresh_every

    def set_refresh_every(self, seconds: float | None) -> None:
        """Engine thread only (use :class:`Call`): poll ``/agents/me`` when there is no push."""
        self._refresh_every = seconds
        self._schedule_refresh(self._clock.now())
        if seconds is None:
            self._next_refresh = None

    def _after(self) -> None:
        if self._connected and self._policy.take_needs_read():
            self._reporter.refresh()
        if self._policy.wants_first_input() and not self._locked:
            self._source.arm()
        else:
            self._source.disarm()
        self._publish()

    def _publish(self) -> None:
        now = self._clock.now()
        view = self._policy.view()
        paused_until_wall = (
            None
            if view.paused_until_mono is None
            else now.wall + (view.paused_until_mono - now.mono)
        )
        snap = Snapshot(
            status=view.status,
            why=view.why,
            by_idle=view.by_idle,
            since_wall=view.since_wall,
            connected=self._connected,
            signed_out=self._signed_out,
            problem=self._problem,
            dialect=self._dialect,
            choices=statuses_for(self._dialect or Dialect.DOCUMENTED),
            pending=view.pending.status if view.pending else None,
            paused=self._policy.paused(now),
            paused_until_wall=paused_until_wall if self._policy.paused(now) else None,
            agent_name=self._agent_name,
            agent_id=self._agent_id,
            idle_source=self._source.name,
            held_by=self._held_by,
        )
        with self._lock:
            changed = snap != self._snapshot
            self._snapshot = snap
        if changed:
            for listener in self._listeners:
                try:
                    listener(snap)
                except Exception:
                    log.exception("snapshot listener failed")


def _describe_answer(asked: Desired, server: ServerStatus) -> str:
    if server.status is asked.status:
        return f"now {server.status.label}"
    return f"asked for {asked.status.label}, but the server keeps {server.status.label}" + (
        " (a manual status is not changed by idle detection)" if asked.source is Source.IDLE else ""
    )
