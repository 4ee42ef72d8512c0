"""The engine: one thread that owns the policy, sleeps until its next deadline, and turns
events (input, choices, session signals, server answers and pushes) into requests.

Everything reaches it through :meth:`Engine.post` (its inbox); it never blocks
on I/O. What it decides goes to the reporter (:class:`~presence_agent.events.Submit`,
:class:`~presence_agent.events.Refresh`...) and the keepalive
(:class:`~presence_agent.events.Intent`) through their inboxes, and out as a
:class:`~presence_agent.events.Snapshot` for the tray and the control channel.

:meth:`Engine.handle` takes one event and :meth:`Engine.wake_at` says when the
engine wants a :class:`~presence_agent.events.Tick`: tests step the engine
through both with a fake clock, no thread at all; :meth:`Engine.run` is the
thread's loop around them.

Nothing polls. The engine wakes for an event, at the policy's next deadline
(the idle threshold, a pause running out), or to re-read a server that has no
push channel. A suspend is noticed when the session watcher says so (logind's
``PrepareForSleep``, Windows' power broadcast, macOS's notifications) or, where
nothing says so, from the wall clock running ahead of the monotonic one at the
next event: the ``/ws`` reconnect after a wake, the documented server's re-read
or the person's first input.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from presence_agent.events import (
    Answered,
    Call,
    Connected,
    Desired,
    EngineInput,
    ExtendTimer,
    Failed,
    IdleInhibit,
    InputSeen,
    Intent,
    KeepaliveInput,
    ManualChoice,
    Notice,
    Now,
    Outcome,
    Pause,
    PushLive,
    Reconnect,
    Refresh,
    Refreshed,
    ReloadCredentials,
    Reopen,
    ReporterInput,
    Resume,
    Resync,
    ScreenLock,
    ServerPush,
    SignedOut,
    SignInChanged,
    Snapshot,
    SocketTrouble,
    Stop,
    Submit,
    Suspend,
    Tick,
    TimedChoice,
    Trouble,
    WorkerFailed,
)
from presence_agent.i18n import ENGLISH, Translator
from presence_agent.idle.base import IdleSource
from presence_agent.policy import PresencePolicy
from presence_agent.redaction import printable
from presence_agent.vocab import (
    Dialect,
    ServerStatus,
    Source,
    Status,
    UnsupportedStatusError,
    statuses_for,
)
from presence_agent.worker import Supervised

log = logging.getLogger(__name__)

#: Without a push channel (the documented server), re-read the status this often.
POLL_INTERVAL = 60.0

_REPORTER_EVENTS = (Connected, Answered, Refreshed, Failed, Trouble, SignedOut)
_KEEPALIVE_EVENTS = (ServerPush, Resync, PushLive, SocketTrouble)


class Clock:
    """Both clocks, read together. Tests pass their own."""

    def now(self) -> Now:
        return Now(time.monotonic(), time.time())


class Engine:
    """Owns the policy.

    Thread use: ``post``, ``on_activity``, ``snapshot`` and ``subscribe`` from
    any thread; ``handle``, ``wake_at`` and
    ``run`` on the engine thread alone, which alone touches the policy and the
    idle source after start. Snapshot listeners are called on the engine thread
    and must only post to their own thread (the tray) or copy the value.
    """

    def __init__(
        self,
        policy: PresencePolicy,
        source: IdleSource,
        *,
        reporter: Callable[[ReporterInput], None],
        keepalive: Callable[[KeepaliveInput], None] = lambda _event: None,
        clock: Clock | None = None,
        inbox: queue.SimpleQueue[EngineInput] | None = None,
        poll_every: float = POLL_INTERVAL,
        tr: Translator = ENGLISH,
        redact: Callable[[str], str] = printable,
    ) -> None:
        """``redact`` cleans every text from outside (a problem, the agent's name) as it
        arrives, so the tray, the control channel and ``run --no-tray`` all show it clean:
        the composition root passes the agent's :meth:`Redactor.clean
        <presence_agent.redaction.Redactor.clean>`, which knows the secret."""
        self._redact = redact
        self._policy = policy
        #: The language of the answers people read (presence_agent/i18n.py); logs stay English.
        self._tr = tr
        self._source = source
        self._to_reporter = reporter
        self._to_keepalive = keepalive
        self._clock = clock or Clock()
        self._inbox: queue.SimpleQueue[EngineInput] = (
            inbox if inbox is not None else queue.SimpleQueue()
        )
        self._poll_every = poll_every
        #: Replaced whole under ``_lock`` (copy on write): subscribing is safe from any thread.
        self._listeners: tuple[Callable[[Snapshot], None], ...] = ()
        self._notice_listeners: tuple[Callable[[Notice], None], ...] = ()
        self._snapshot = Snapshot(idle_source=source.name)
        #: What holds idle detection off now (``microphone in use``), for the tray.
        self._held_by = ""
        self._lock = threading.Lock()
        self._connected = False
        self._dialect: Dialect | None = None
        self._agent_name = ""
        self._agent_id: int | None = None
        self._problem: str | None = None
        #: What keeps ``/ws`` from opening that a person must fix (a refused origin).
        self._ws_problem: str | None = None
        #: A worker's crash, by worker name, until that worker is heard from again.
        self._crashed: dict[str, str] = {}
        self._signed_out = False
        self._push_live = False
        self._waiting: list[tuple[Desired, Callable[[Outcome], None]]] = []
        self._next_refresh: float | None = None
        self._armed: bool | None = None
        self._intent: Intent | None = None
        #: Reads of the server's status taken in (the keepalive's gate, Intent.reads).
        self._reads = 0
        self._worker = Supervised("engine", self.run, self.post)

    # -- any thread ---------------------------------------------------------------------

    def post(self, event: EngineInput) -> None:
        self._inbox.put(event)

    def on_activity(self) -> None:
        """The idle source's callback: cheap, never blocks."""
        self._inbox.put(InputSeen())

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snapshot

    def subscribe(self, listener: Callable[[Snapshot], None]) -> None:
        """Call ``listener`` with each new snapshot (on the engine thread) from the next change
        on; read :meth:`snapshot` for the current one."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def subscribe_notices(self, listener: Callable[[Notice], None]) -> None:
        """Hear each notification the agenda asks for (on the engine thread; never block)."""
        with self._lock:
            self._notice_listeners = (*self._notice_listeners, listener)

    def start(self) -> None:
        """Run :meth:`run` on the engine's own (supervised) thread."""
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
        self.post(Stop())

    def join(self, timeout: float | None = None) -> None:
        self._worker.join(timeout)

    # -- engine thread ------------------------------------------------------------------

    def run(self) -> None:
        """Handle events until :class:`Stop`. The idle source must be started already."""
        while True:
            now = self._clock.now()
            wake = self.wake_at(now)
            try:
                event = self._inbox.get(timeout=None if wake is None else max(0.0, wake - now.mono))
            except queue.Empty:
                event = Tick()
            if isinstance(event, Stop):
                return
            self.handle(event)

    def wake_at(self, now: Now) -> float | None:
        """When the engine wants a :class:`Tick` (monotonic), or ``None``: only for an event."""
        times = [t for t in (self._policy.next_wake(now), self._next_refresh) if t is not None]
        return min(times, default=None)

    def handle(self, event: EngineInput) -> None:
        """Take one event (a :class:`Tick` when :meth:`wake_at` has come)."""
        now = self._clock.now()
        if isinstance(event, _REPORTER_EVENTS):
            self._crashed.pop("reporter", None)
        elif isinstance(event, _KEEPALIVE_EVENTS):
            self._crashed.pop("keepalive", None)
        elif not isinstance(event, WorkerFailed):
            self._crashed.pop("engine", None)
        match event:
            case Tick():
                self._tick(now)
            case InputSeen():
                was_away = self._policy.wants_first_input()
                self._send(self._policy.input_seen(now, self._source.idle_seconds()))
                if was_away and self._next_refresh is not None:
                    # Back from idle without a push channel: the server may have moved on.
                    self._to_reporter(Refresh())
            case ManualChoice(status=status, reply=reply):
                self._manual(now, status, reply)
            case TimedChoice(status=status, until=until, set_by=set_by, reply=reply):
                self._manual(now, status, reply, until=until, set_by=set_by)
            case ExtendTimer(seconds=seconds):
                extended = self._policy.extend(now, seconds)
                if extended is not None:
                    log.info(
                        "timer extended to %s",
                        time.strftime("%H:%M", time.localtime(extended.until)),
                    )
            case Pause(seconds=seconds):
                try:
                    self._policy.pause(now, seconds)
                except ValueError as exc:
                    log.warning("pause refused: %s", exc)
            case Resume():
                self._policy.resume(now)
            case ScreenLock(locked=locked):
                if locked:
                    self._send(self._policy.screen_locked(now))
                else:
                    self._policy.screen_unlocked(now)
            case IdleInhibit(active=active, why=why):
                self._policy.inhibit(now, active)
                self._held_by = why if active else ""
            case Suspend(before=True):
                self._send(self._policy.suspending(now))
            case Suspend(before=False):
                # The connection and the /ws socket may have died in their sleep without
                # either end knowing: open both afresh (the reconnect re-reads the status).
                self._to_reporter(Reconnect())
                self._to_keepalive(Reopen())
            case SignInChanged():
                self._to_reporter(ReloadCredentials())
            case ServerPush(server=server):
                self._send(self._policy.server_said(now, server, self._source.idle_seconds()))
            case SocketTrouble(message=message):
                if message != self._ws_problem:
                    log.info("/ws: %s", message or "open again")
                self._ws_problem = message
            case Resync():
                if self._connected:
                    self._to_reporter(Refresh())
            case PushLive(live=live):
                self._push_live = live
            case Connected():
                self._reads += 1
                self._connected_to(now, event)
            case Answered(asked=asked, server=server):
                self._policy.answered(now, asked, server)
                self._reply(
                    asked, Outcome(True, server.status, _describe_answer(asked, server, self._tr))
                )
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
                self._reads += 1
                self._send(self._policy.server_said(now, server, self._source.idle_seconds()))
            case Failed(asked=asked, message=message):
                if asked is not None:
                    self._policy.failed(asked)
                    self._reply(asked, Outcome(False, self._policy.status, self._redact(message)))
                else:
                    self._problem = self._redact(message)
            case Trouble(message=message):
                self._problem = self._redact(message) if message is not None else None
            case SignedOut(message=message):
                self._connected, self._signed_out = False, True
                self._problem = self._redact(message)
            case WorkerFailed(worker=worker, message=message):
                self._crashed[worker] = self._redact(message)
            case Call(fn=fn):
                fn()
        self._after(now)

    def _tick(self, now: Now) -> None:
        if self._next_refresh is not None and now.mono >= self._next_refresh:
            self._to_reporter(Refresh())
            self._next_refresh = now.mono + self._poll_every
        deadline = self._policy.next_wake(now)
        if deadline is not None and now.mono >= deadline:
            self._send(self._policy.idle_check(now, self._source.idle_seconds()))

    def _connected_to(self, now: Now, event: Connected) -> None:
        agent, dialect, server = event.agent, event.dialect, event.server
        first = not self._connected and self._dialect is None
        self._connected, self._dialect = True, dialect
        self._policy.dialect = dialect
        claim = self._policy.agenda.claim
        if claim is not None and claim.agent_id not in (None, agent.id):
            self._policy.agenda.claim = None  # another account's: nothing of ours
        self._policy.agenda.can_reassign = Status.REASSIGNING in statuses_for(dialect)
        self._agent_name, self._agent_id = self._redact(agent.name), agent.id
        self._problem, self._signed_out = None, False
        log.info(
            "connected as agent %s (%s server); it holds %s",
            agent.id,
            dialect.value,
            server.status.value,
        )
        # A documented server has no push channel: read it now and then instead.
        self._next_refresh = now.mono + self._poll_every if dialect is Dialect.DOCUMENTED else None
        idle = self._source.idle_seconds()
        if first:
            self._drop_unsupported(dialect)
            self._send(self._policy.start(now, server, idle))
        else:
            # A reconnect: what the server holds now gets the same rule as a push.
            self._send(self._policy.server_said(now, server, idle))

    def _manual(
        self,
        now: Now,
        status: Status,
        reply: Callable[[Outcome], None] | None,
        *,
        until: float | None = None,
        set_by: str = "user",
    ) -> None:
        problem = None
        if self._signed_out:
            problem = self._problem or self._tr._("signed out")
        elif self._dialect is not None and status not in statuses_for(self._dialect):
            problem = str(UnsupportedStatusError(status, self._dialect))
        # Before the first connect the choice is queued like any other: the policy and the
        # reporter keep the newest request until the server holds it, and the connect
        # sends it instead of the start's Available (checked against the dialect then).
        if problem is not None:
            if reply is not None:
                reply(Outcome(False, self._policy.status, problem))
            return
        if until is not None and until <= now.wall:
            if reply is not None:
                reply(
                    Outcome(False, self._policy.status, self._tr._("that time has already passed"))
                )
            return
        if until is None:
            desired = self._policy.manual(now, status)
        else:
            desired = self._policy.timed(now, status, until, set_by)
        if reply is not None:
            self._waiting.append((desired, reply))
        self._send(desired)

    def _drop_unsupported(self, dialect: Dialect) -> None:
        """A choice queued before the first connect that this server cannot hold is given
        up, so the start's rule applies instead (the reporter drops it when it tries)."""
        queued = self._policy.pending
        if queued is None or queued.status in statuses_for(dialect):
            return
        message = str(UnsupportedStatusError(queued.status, dialect))
        log.warning("the choice made before connecting was not sent: %s", message)
        self._policy.failed(queued)
        self._reply(queued, Outcome(False, None, message))

    def _reply(self, asked: Desired, outcome: Outcome) -> None:
        keep = []
        for desired, reply in self._waiting:
            if desired == asked:
                reply(outcome)
            else:
                keep.append((desired, reply))
        self._waiting = keep

    def _send(self, desired: Desired | None) -> None:
        """Hand what the policy asked for to the reporter: always, so the two agree on the
        newest request (the reporter keeps it while it cannot send it)."""
        if desired is None:
            return
        log.debug("asking for %s (%s)", desired.status.value, desired.source.value)
        # Without a live push channel a change made elsewhere (or the offline sweep) may
        # have gone unseen, and the documented server cannot even say who set an away:
        # an idle change looks before it overwrites.
        look_first = desired.source is Source.IDLE and not self._push_live
        self._to_reporter(Submit(desired, look_first))

    def _after(self, now: Now) -> None:
        if self._connected and self._policy.take_needs_read():
            self._to_reporter(Refresh())
        armed = self._policy.wants_first_input()
        if armed != self._armed:
            self._armed = armed
            if armed:
                self._source.arm()
            else:
                self._source.disarm()
        intent = Intent(
            open=self._connected and self._dialect is Dialect.LIBREDESK and not self._signed_out,
            agent_id=self._agent_id,
            may_ping=self._policy.may_ping(),
            reads=self._reads,
        )
        if intent != self._intent:
            self._intent = intent
            self._to_keepalive(intent)
        self._publish(now)
        notices = self._policy.take_notices()
        if notices:
            with self._lock:
                listeners = self._notice_listeners
            for notice in notices:
                log.info("notice: %s", notice.title)
                for listener in listeners:
                    try:
                        listener(notice)
                    except Exception:
                        log.exception("notice listener failed")

    def _publish(self, now: Now) -> None:
        view = self._policy.view()
        paused = self._policy.paused(now)
        paused_until_wall = (
            None
            if view.paused_until_mono is None or not paused
            else now.wall + (view.paused_until_mono - now.mono)
        )
        problem = next(iter(self._crashed.values()), None) or self._problem or self._ws_problem
        snap = Snapshot(
            status=view.status,
            why=view.why,
            by_idle=view.by_idle,
            since_wall=view.since_wall,
            connected=self._connected,
            signed_out=self._signed_out,
            problem=problem,
            dialect=self._dialect,
            choices=statuses_for(self._dialect or Dialect.DOCUMENTED),
            pending=view.pending.status if view.pending else None,
            paused=paused,
            paused_until_wall=paused_until_wall,
            agent_name=self._agent_name,
            agent_id=self._agent_id,
            idle_source=self._source.name,
            push_live=self._push_live,
            held_by=self._held_by,
            agenda=view.agenda,
            last_input_wall=view.last_input_wall,
        )
        with self._lock:
            changed = snap != self._snapshot
            self._snapshot = snap
            listeners = self._listeners
        if changed:
            for listener in listeners:
                try:
                    listener(snap)
                except Exception:
                    log.exception("snapshot listener failed")


def _describe_answer(asked: Desired, server: ServerStatus, tr: Translator = ENGLISH) -> str:
    now = tr._(server.status.label)
    if server.status is asked.status:
        return tr._("now {status}").format(status=now)
    if asked.source is Source.IDLE:
        words = tr._(
            "asked for {asked}, but the server keeps {status}"
            " (a manual status is not changed by idle detection)"
        )
    else:
        words = tr._("asked for {asked}, but the server keeps {status}")
    return words.format(asked=tr._(asked.status.label), status=now)
