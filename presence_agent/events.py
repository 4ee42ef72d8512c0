"""Every value, event and action that crosses a thread, in one module.

Depends on the standard library and :mod:`presence_agent.vocab` only, so any
part of the agent (the pure state machines, the tray's model, the tests) can
use these types without pulling in HTTP, WebSocket or GUI libraries.

Who sends what (docs/architecture.md has the picture):

* **Engine inputs** (:data:`EngineInput`): the idle source, the person (tray,
  CLI through the control channel), the session watchers, the reporter, the
  keepalive and the supervisor post these to the engine's inbox.
* **Reporter inputs** (:data:`ReporterInput`): the engine's requests, and the
  results of the reporter's own I/O (:data:`ReporterResult`), which its
  driver feeds back to the machine.
* **Reporter actions** (:data:`ReporterAction`): what the reporter machine asks
  its driver to do next.
* **Keepalive inputs and actions**: the same, for ``/ws``.

Every value here is frozen. Times are explicit: the machines are handed the
time with each event (``handle(now, event)``) and never read a clock.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from presence_agent.vocab import Dialect, ServerStatus, Source, Status, statuses_for

# -- small values ---------------------------------------------------------------------


@dataclass(frozen=True)
class Now:
    """One reading of both clocks: ``mono`` for durations, ``wall`` for people and suspends."""

    mono: float
    wall: float


@dataclass(frozen=True)
class Desired:
    """A request for the server: set ``status``, asked for by ``source``.

    ``no_assignments``: an ``away`` that stops new conversations (the real server's
    ``away_manual``) although idleness asks for it: the escalation's second step
    (presence_agent/routing.py). Only that step sets it.
    """

    status: Status
    source: Source
    no_assignments: bool = False


class Why(str, enum.Enum):
    """Why the current status holds, for the tooltip and ``status``."""

    UNKNOWN = "unknown"
    START = "start"
    IDLE = "idle"
    MANUAL = "manual"
    ELSEWHERE = "set elsewhere"
    LOCKED = "screen locked"
    SLEEP = "sleep"
    #: A timed status ended (presence_agent/agenda.py).
    TIMER = "timer ended"
    #: Working hours: a shift ended, or started.
    SHIFT_END = "end of shift"
    SHIFT_START = "shift started"


@dataclass(frozen=True)
class TimedStatus:
    """``status`` until the wall-clock instant ``until``, set at ``set_at`` by ``set_by``
    (presence_agent/timers.py has the rules)."""

    status: Status
    until: float
    set_at: float
    #: Where it was chosen: ``tray``, ``cli``...
    set_by: str = "user"
    reminded: bool = False

    def remaining(self, wall: float) -> float:
        return max(0.0, self.until - wall)


class OwnReason(str, enum.Enum):
    """Why the agent set a status it owns (presence_agent/routing.py): idleness's escalation,
    a sleep, a timer's end, a shift's end."""

    IDLE = "idle"
    SLEEP = "sleep"
    TIMER = "timer"
    SCHEDULE = "schedule"


@dataclass(frozen=True)
class Claim:
    """The agent set ``word`` on the server for ``reason`` and owns it while the server holds
    it: the one notion of "owned" (idleness, sleep, timers and shifts alike).

    ``word`` is the real server's spelling of what is held (presence_agent/routing.py,
    ``word_of``), which tells an idle ``away`` from ``away_manual``. ``since`` is the
    wall-clock time the owned absence began (its first step), for "away 42 min";
    ``server`` and ``agent_id`` say whose status it is, so a claim never carries over to
    another account.
    """

    word: str
    reason: OwnReason
    since: float
    server: str = ""
    agent_id: int | None = None

    def moved_to(self, word: str) -> Claim:
        """The same ownership, now of ``word`` (the next step); ``since`` stays."""
        return Claim(word, self.reason, self.since, self.server, self.agent_id)


class NoticeKind(str, enum.Enum):
    TIMER_SOON = "timer soon"
    TIMER_ENDED = "timer ended"
    SHIFT_SOON = "shift soon"
    SHIFT_ENDED = "shift ended"
    SHIFT_STARTED = "shift started"
    #: Idleness's escalation reached a step (presence_agent/routing.py), or the person is back.
    ESCALATED = "escalated"
    RETURNED = "returned"


@dataclass(frozen=True)
class Notice:
    """A desktop notification to show: ``actions`` are (key, label) pairs, where supported."""

    kind: NoticeKind
    title: str
    body: str = ""
    actions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AgendaView:
    """The timer and where the shift stands, for snapshots (``scheduled`` false: no hours)."""

    timer: TimedStatus | None = None
    scheduled: bool = False
    on_shift: bool = True
    next_start: float | None = None
    next_end: float | None = None
    #: The first shift start on a later day ("tomorrow's shift").
    next_day_start: float | None = None
    #: A status the agent set by its own rules (end of shift, a timer's end, idleness's
    #: escalation, a sleep).
    owned: Status | None = None
    #: The same ownership in full (what, why, since when), for the texts and the state dir.
    claim: Claim | None = None


#: No timer, no working hours.
NO_AGENDA = AgendaView()


@dataclass(frozen=True)
class Agent:
    """The parts of Libredesk's ``Agent`` the app uses."""

    id: int
    status_word: str
    name: str
    email: str | None


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
    #: Whether the ``/ws`` push channel is open and answering pings.
    push_live: bool = False
    #: What holds idle detection off now (``microphone in use``), or empty.
    held_by: str = ""
    #: Timers and working hours.
    agenda: AgendaView = NO_AGENDA
    #: The wall-clock time of the last input the agent knows of (for "idle 17 min").
    last_input_wall: float | None = None
    extras: dict[str, str] = field(default_factory=dict)


#: The longest pause of idle detection anyone may ask for (tray, CLI, control channel).
MAX_PAUSE = 7 * 86400.0


def check_pause(seconds: float | None) -> float | None:
    """``seconds`` if it is a pause the agent accepts, else :class:`ValueError` for a person.

    ``None`` means "until resumed". Anything else must be a finite number of
    seconds above zero and at most :data:`MAX_PAUSE` (``inf`` and ``nan`` are
    not durations, and a pause of years is a typo).
    """
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ValueError("a pause is a number of seconds")
    if not 0 < seconds <= MAX_PAUSE:  # False for nan too
        raise ValueError(
            f"a pause must be more than 0 and at most {MAX_PAUSE / 86400:.0f} days"
            " (or until resumed)"
        )
    return float(seconds)


# -- engine inputs ------------------------------------------------------------------------


@dataclass(frozen=True)
class InputSeen:
    """The first input after idleness (from the idle source's thread)."""


@dataclass(frozen=True)
class ManualChoice:
    """The person chose a status. ``reply`` gets the outcome (called on the engine thread)."""

    status: Status
    reply: Callable[[Outcome], None] | None = None


@dataclass(frozen=True)
class TimedChoice:
    """The person chose ``status`` until the wall-clock instant ``until`` (``set_by``: where)."""

    status: Status
    until: float
    set_by: str = "user"
    reply: Callable[[Outcome], None] | None = None


@dataclass(frozen=True)
class ExtendTimer:
    """Push the running timer's end back by ``seconds`` (the reminder's "Extend")."""

    seconds: float


@dataclass(frozen=True)
class Pause:
    """Pause idle detection for ``seconds`` (checked with :func:`check_pause`), ``None``: until
    resumed."""

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
class SignInChanged:
    """``login``/``logout`` or the tray changed the stored credentials: use them at once."""


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class Call:
    """Run ``fn`` on the engine thread (for reads that must see a consistent state)."""

    fn: Callable[[], None]


@dataclass(frozen=True)
class Tick:
    """The engine's own timer fired (its driver posts nothing; it calls ``handle(Tick())``)."""


# ... from the reporter


@dataclass(frozen=True)
class Connected:
    """The server answered ``GET /agents/me``: who we are, its dialect and status."""

    agent: Agent
    dialect: Dialect
    server: ServerStatus


@dataclass(frozen=True)
class Answered:
    """The server answered a PUT of ``asked``; ``server`` is what it holds now."""

    asked: Desired
    server: ServerStatus


@dataclass(frozen=True)
class Refreshed:
    """A re-read of what the server holds."""

    server: ServerStatus


@dataclass(frozen=True)
class Failed:
    """A request was given up for good; ``message`` says why, for a person."""

    asked: Desired | None
    message: str


@dataclass(frozen=True)
class Trouble:
    """The server cannot be reached or is failing; we keep trying. ``None`` when it is over."""

    message: str | None


@dataclass(frozen=True)
class SignedOut:
    """401/403: the credentials are refused (or missing). Nothing is retried until they change."""

    message: str


ReporterEvent = Connected | Answered | Refreshed | Failed | Trouble | SignedOut


# ... from the keepalive


@dataclass(frozen=True)
class ServerPush:
    """The server pushed a status for this agent (``/ws``)."""

    server: ServerStatus


@dataclass(frozen=True)
class Resync:
    """Pushes may have been missed (the ``/ws`` just (re)connected): read the server again."""


@dataclass(frozen=True)
class PushLive:
    """Whether pushes arrive now: ``/ws`` is open and the last ping was answered."""

    live: bool


@dataclass(frozen=True)
class SocketTrouble:
    """``/ws`` cannot be opened for a reason a person must fix (``message``), or that is over
    (``None``). A refused origin, say, which retrying soon will not mend."""

    message: str | None


KeepaliveEvent = ServerPush | Resync | PushLive | SocketTrouble


# ... from the supervisor


@dataclass(frozen=True)
class WorkerFailed:
    """A worker thread raised something unexpected; it restarts in ``restart_in`` seconds."""

    worker: str
    message: str
    restart_in: float


EngineInput = (
    InputSeen
    | ManualChoice
    | TimedChoice
    | ExtendTimer
    | Pause
    | Resume
    | ScreenLock
    | IdleInhibit
    | Suspend
    | SignInChanged
    | Stop
    | Call
    | Tick
    | ReporterEvent
    | KeepaliveEvent
    | WorkerFailed
)


# -- the reporter -------------------------------------------------------------------------
# Requests from the engine (and from the main thread, for Finish).


@dataclass(frozen=True)
class Submit:
    """Ask for ``desired``; replaces any request not yet answered.

    ``look_first``: read the server before the PUT and send it only if the
    server still holds what an idle change may change (no push channel could
    have told us of a change made elsewhere).
    """

    desired: Desired
    look_first: bool = False


@dataclass(frozen=True)
class Refresh:
    """Re-read the server's status soon (coalesced)."""


@dataclass(frozen=True)
class Reconnect:
    """Re-learn who we are and the dialect (after a wake, say); ends a backoff wait."""


@dataclass(frozen=True)
class ReloadCredentials:
    """The stored credentials changed: build a new client from them at once."""


@dataclass(frozen=True)
class Finish:
    """Send ``final`` (if connected) before ``deadline`` (monotonic), then halt."""

    final: Desired | None
    deadline: float


@dataclass(frozen=True)
class Restarted:
    """The reporter's driver was restarted by its supervisor: what was in flight is lost."""


# Results of the reporter's I/O, fed back by its driver.


@dataclass(frozen=True)
class CredentialsRead:
    """A client was built from the stored credentials; ``key`` identifies them (not the secret)."""

    key: str


@dataclass(frozen=True)
class MeRead:
    """``GET /agents/me`` answered (for a connect, a refresh or a look before an idle change)."""

    agent: Agent
    dialect: Dialect
    server: ServerStatus


@dataclass(frozen=True)
class PutAnswered:
    asked: Desired
    server: ServerStatus


class FailureKind(str, enum.Enum):
    #: Worth trying again later (no answer, 5xx, 429, not Libredesk's answer).
    TRANSIENT = "transient"
    #: The server understood and said no (another 4xx, an unknown status word).
    PERMANENT = "permanent"
    #: 401/403: the credentials are refused.
    REFUSED = "refused"
    #: No credentials to use (not signed in, keyring locked, config unreadable).
    NO_CREDENTIALS = "no credentials"
    #: This server's dialect cannot hold the status asked for.
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class RequestFailed:
    kind: FailureKind
    message: str
    retry_after: float | None = None


ReporterResult = CredentialsRead | MeRead | PutAnswered | RequestFailed
ReporterInput = (
    Submit | Refresh | Reconnect | ReloadCredentials | Finish | Restarted | ReporterResult
)


# What the reporter machine asks its driver to do.


@dataclass(frozen=True)
class LoadCredentials:
    """Build a client from the credentials stored now (dropping any old one)."""


@dataclass(frozen=True)
class ForgetClient:
    """Close the client: its credentials were refused or replaced."""


@dataclass(frozen=True)
class ReadMe:
    """``GET /agents/me``. On ``connect``, learn the dialect too (``dialect``, if set, is the
    person's override and is not detected)."""

    purpose: Literal["connect", "refresh", "look"]
    dialect: Dialect | None = None


@dataclass(frozen=True)
class SendPut:
    """``PUT`` ``desired``; ``timeout`` bounds the request (the final one on the way out)."""

    desired: Desired
    timeout: float | None = None


@dataclass(frozen=True)
class Wait:
    """Nothing to do until ``until`` (monotonic), or until a new input if ``None``."""

    until: float | None


@dataclass(frozen=True)
class Halt:
    """Done (after :class:`Finish`); ``delivered``: the final status reached the server."""

    delivered: bool


ReporterRequest = LoadCredentials | ForgetClient | ReadMe | SendPut
ReporterAction = ReporterRequest | Wait | Halt


# -- the keepalive --------------------------------------------------------------------------
# From the engine.


@dataclass(frozen=True)
class Intent:
    """What the engine wants of ``/ws`` now.

    ``open``: keep a socket open (a real Libredesk, connected, signed in).
    ``may_ping``: text pings are allowed; a ping turns an offline agent online
    on the server, so the engine says no while offline is held or asked for.
    """

    open: bool
    agent_id: int | None
    may_ping: bool
    #: How many reads of the server's status the engine has taken in. After a (re)connect
    #: no ping goes before the next read: a ping would silently turn a sweep's offline into
    #: online, and the read (then a PUT online, docs/libredesk.md) must come first.
    #: ``None``: no such gate.
    reads: int | None = None


@dataclass(frozen=True)
class Reopen:
    """Open the socket afresh at once (after a wake: it may have died unnoticed)."""


@dataclass(frozen=True)
class StopKeepalive:
    pass


# Results of the keepalive's I/O. ``socket`` numbers each socket, so news about an old
# one (its reader thread ending after a new socket opened) is not taken for the new one.


@dataclass(frozen=True)
class SocketOpened:
    socket: int


@dataclass(frozen=True)
class OpenFailed:
    """The upgrade failed. ``status``: the HTTP status answered instead, if any (401/403 is a
    refusal; a real server answers 200 to an Origin it refuses)."""

    socket: int
    message: str
    status: int | None = None


@dataclass(frozen=True)
class Received:
    socket: int
    message: str | bytes


@dataclass(frozen=True)
class SocketClosed:
    """The socket closed: ``code`` and ``reason`` from the close frame, if one came."""

    socket: int
    code: int | None
    reason: str


KeepaliveResult = SocketOpened | OpenFailed | Received | SocketClosed
KeepaliveInput = Intent | Reopen | StopKeepalive | KeepaliveResult


# What the keepalive machine asks its driver to do.


@dataclass(frozen=True)
class OpenSocket:
    socket: int
    timeout: float


@dataclass(frozen=True)
class SendPing:
    socket: int


@dataclass(frozen=True)
class CloseSocket:
    socket: int


KeepaliveRequest = OpenSocket | SendPing | CloseSocket
KeepaliveAction = KeepaliveRequest | Wait | Halt
