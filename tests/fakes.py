"""The small hand-written fakes every unit suite shares, and the virtual-time harnesses.

Nothing here sleeps or reads a real clock. :class:`EngineHarness` steps the real
:class:`~presence_agent.engine.Engine` on the test's own thread: each posted event
is handled at once, and :meth:`EngineHarness.advance` moves the clock and fires
the engine's timer exactly when :meth:`~presence_agent.engine.Engine.wake_at`
says, as its thread would.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from presence_agent.agenda import Agenda
from presence_agent.backoff import Backoff
from presence_agent.engine import Engine
from presence_agent.events import (
    Agent,
    Answered,
    Claim,
    Connected,
    CredentialsRead,
    Desired,
    EngineInput,
    ForgetClient,
    Halt,
    Intent,
    KeepaliveInput,
    LoadCredentials,
    MeRead,
    Notice,
    Now,
    PutAnswered,
    ReadMe,
    Reconnect,
    Refresh,
    Reopen,
    ReporterAction,
    ReporterInput,
    ReporterRequest,
    ReporterResult,
    RequestFailed,
    SendPut,
    Snapshot,
    Submit,
    Tick,
    Wait,
)
from presence_agent.policy import PresencePolicy
from presence_agent.redaction import printable
from presence_agent.reporter import ReporterMachine
from presence_agent.routing import IdlePlan
from presence_agent.vocab import Dialect, ServerStatus, Source, Status, from_wire, to_wire

WALL = 1_700_000_000.0
AGENT = Agent(id=7, status_word="online", name="Ada Lovelace", email=None)


class Clock:
    """Both clocks, moved by hand from the test thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.mono = 5_000.0
        self.wall = WALL

    def now(self) -> Now:
        with self._lock:
            return Now(self.mono, self.wall)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.mono += seconds
            self.wall += seconds

    def sleep(self, seconds: float) -> None:
        """A suspend on Linux or macOS: the monotonic clock stands still."""
        with self._lock:
            self.wall += seconds


class MonoClock:
    """One monotonic clock, for the reporter and keepalive machines and their drivers."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


class FakeSource:
    """An idle counter the test sets (``idle`` or ``last_input``); records arming and reads."""

    name = "fake"

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.last_input = clock.now().mono
        self.armed = False
        self.arms = 0
        self.reads = 0
        self.started: Callable[[], None] | None = None

    @property
    def idle(self) -> float:
        return self.idle_seconds()

    @idle.setter
    def idle(self, seconds: float) -> None:
        self.last_input = self._clock.now().mono - seconds

    def start(self, on_activity: Callable[[], None]) -> None:
        self.started = on_activity

    def stop(self) -> None:
        return None

    def idle_seconds(self) -> float:
        self.reads += 1
        return max(0.0, self._clock.now().mono - self.last_input)

    def arm(self) -> None:
        self.armed = True
        self.arms += 1

    def disarm(self) -> None:
        self.armed = False


def held_after(desired: Desired) -> ServerStatus:
    """What a server that accepts ``desired`` holds afterwards (real Libredesk's words)."""
    by_idle = (
        desired.status is Status.AWAY
        and desired.source is Source.IDLE
        and not desired.no_assignments
    )
    return ServerStatus(desired.status, by_idle=by_idle)


class ReporterInbox:
    """Stands in for the reporter's inbox: records what the engine asks of it, and (when
    ``answering``) answers each request the way a server that accepts it would."""

    def __init__(self) -> None:
        self.inputs: list[ReporterInput] = []
        #: Each Submit with the (monotonic) time it was made.
        self.asked: list[tuple[float, Desired]] = []
        self.answering = False
        self.harness: EngineHarness | None = None

    def __call__(self, event: ReporterInput) -> None:
        self.inputs.append(event)
        if isinstance(event, Submit) and self.harness is not None:
            self.asked.append((self.harness.clock.now().mono, event.desired))
        if self.answering and isinstance(event, Submit):
            self.answer(event.desired)

    def answer(self, desired: Desired, server: ServerStatus | None = None) -> None:
        assert self.harness is not None
        self.harness.post(Answered(desired, server or held_after(desired)))

    @property
    def submits(self) -> list[Submit]:
        return [e for e in self.inputs if isinstance(e, Submit)]

    @property
    def submitted(self) -> list[Desired]:
        return [e.desired for e in self.submits]

    @property
    def sent(self) -> list[Desired]:
        return self.submitted

    @property
    def refreshes(self) -> int:
        return sum(isinstance(e, Refresh) for e in self.inputs)

    @property
    def reconnects(self) -> int:
        return sum(isinstance(e, Reconnect) for e in self.inputs)


class KeepaliveInbox:
    """Records what the engine asks of the keepalive."""

    def __init__(self) -> None:
        self.inputs: list[KeepaliveInput] = []

    def __call__(self, event: KeepaliveInput) -> None:
        self.inputs.append(event)

    @property
    def intent(self) -> Intent | None:
        intents = [e for e in self.inputs if isinstance(e, Intent)]
        return intents[-1] if intents else None

    @property
    def reopens(self) -> int:
        return sum(isinstance(e, Reopen) for e in self.inputs)


class EngineHarness:
    """The real engine and policy, stepped in virtual time on the calling thread.

    It is also an engine for the session bridge (``post``, ``snapshot``,
    ``subscribe``); posts from other threads are handled under a lock.
    """

    #: Ticks in a row at one instant beyond which the engine is busy-looping.
    MAX_TICKS = 50

    def __init__(
        self,
        away_after: float = 300.0,
        *,
        answering: bool = False,
        plan: IdlePlan | None = None,
        claim: Claim | None = None,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        self.clock = Clock()
        self.source = FakeSource(self.clock)
        self.reporter = ReporterInbox()
        self.reporter.answering = answering
        self.reporter.harness = self
        self.keepalive = KeepaliveInbox()
        self.policy = PresencePolicy(away_after, Agenda.none() if claim is None else None, plan)
        if claim is not None:
            self.policy.agenda.claim = claim
        self.engine = Engine(
            self.policy,
            self.source,
            reporter=self.reporter,
            keepalive=self.keepalive,
            clock=self.clock,  # type: ignore[arg-type]
            redact=redact if redact is not None else printable,
        )
        self.snapshots: list[Snapshot] = []
        self.engine.subscribe(self.snapshots.append)
        self.notices: list[Notice] = []
        self.engine.subscribe_notices(self.notices.append)
        self._queue: deque[EngineInput] = deque()
        self._lock = threading.RLock()
        self._pumping = False
        self.ticks = 0

    # -- EngineLike ------------------------------------------------------------------------

    def post(self, event: EngineInput) -> None:
        """Handle ``event`` now (and whatever it makes the fakes post), then any timer due."""
        with self._lock:
            self._queue.append(event)
            self._pump()

    def snapshot(self) -> Snapshot:
        return self.engine.snapshot()

    def subscribe(self, listener: Callable[[Snapshot], None]) -> None:
        self.engine.subscribe(listener)

    def subscribe_notices(self, listener: Callable[[Notice], None]) -> None:
        self.engine.subscribe_notices(listener)

    # -- time --------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass, firing every timer the engine set on the way, on time."""
        with self._lock:
            end = self.clock.now().mono + seconds
            while True:
                now = self.clock.now()
                wake = self.engine.wake_at(now)
                if wake is None or wake > end:
                    break
                self.clock.advance(max(0.0, wake - now.mono))
                self._fire_due()
            self.clock.advance(end - self.clock.now().mono)
            self._fire_due()

    def tick(self) -> None:
        """Fire the engine's timer if it is due (after a test moved the clock by hand)."""
        with self._lock:
            self._pump()

    def _fire_due(self) -> None:
        self._pump()

    def _pump(self) -> None:
        if self._pumping:
            return  # a fake posting from inside a handler: the running pump takes it
        self._pumping = True
        try:
            ticks = 0
            while True:
                while self._queue:
                    self.engine.handle(self._queue.popleft())
                now = self.clock.now()
                wake = self.engine.wake_at(now)
                if wake is None or wake > now.mono:
                    return
                ticks += 1
                if ticks > self.MAX_TICKS:
                    raise AssertionError(
                        "the engine wants to wake at once, again and again: a busy loop"
                    )
                self.ticks += 1
                self.engine.handle(Tick())
        finally:
            self._pumping = False

    # -- shortcuts ----------------------------------------------------------------------------

    def connect(
        self, server: ServerStatus | None = None, dialect: Dialect = Dialect.LIBREDESK
    ) -> None:
        self.post(Connected(AGENT, dialect, server or ServerStatus(Status.AVAILABLE)))

    def input(self) -> None:
        """The person touches the mouse: the counter resets, and the source says so if armed."""
        from presence_agent.events import InputSeen

        self.source.last_input = self.clock.now().mono
        self.post(InputSeen())

    def snap(self) -> Snapshot:
        return self.engine.snapshot()

    def status(self) -> tuple[Status | None, bool]:
        snap = self.engine.snapshot()
        return snap.status, snap.by_idle


# -- D-Bus and session signals ------------------------------------------------------------

#: ``handler(body) -> (signature, body)`` for a method, or raises ``ServiceError``.
Handler = Callable[[tuple[Any, ...]], tuple[str | None, tuple[Any, ...]]]


class ServiceError(Exception):
    def __init__(self, name: str, text: str = "") -> None:
        super().__init__(text)
        self.name = name
        self.text = text


class FakeService:
    """A D-Bus service owned by a name on a private bus, answered from a thread.

    ``methods`` maps ``(path, interface, member)`` to a handler; anything else
    gets ``UnknownMethod``. Thread use: ``start``/``stop``/``emit`` from the
    test thread; handlers run on the service's thread.
    """

    def __init__(
        self,
        address: str,
        name: str,
        methods: dict[tuple[str, str, str], Handler],
        *,
        enable_fds: bool = False,
    ) -> None:
        self.address = address
        self.name = name
        self.methods = methods
        self.enable_fds = enable_fds
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._conn: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeService:
        from jeepney.bus_messages import message_bus
        from jeepney.io.threading import DBusRouter, Proxy, open_dbus_connection

        self._conn = open_dbus_connection(bus=self.address, enable_fds=self.enable_fds)
        with DBusRouter(self._conn) as router:
            Proxy(message_bus, router, timeout=5).RequestName(self.name, 4)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def emit(self, path: str, interface: str, member: str, signature: str, body: tuple) -> None:
        from jeepney import DBusAddress, new_signal

        self._conn.send(new_signal(DBusAddress(path, interface=interface), member, signature, body))

    def _serve(self) -> None:
        from jeepney import HeaderFields, MessageType, new_error, new_method_return
        from jeepney.io.threading import ReceiveStopped

        while True:
            try:
                message = self._conn.receive()
            except (ReceiveStopped, OSError, ValueError):
                return
            if message.header.message_type is not MessageType.method_call:
                continue
            fields = message.header.fields
            key = (
                fields.get(HeaderFields.path),
                fields.get(HeaderFields.interface),
                fields.get(HeaderFields.member),
            )
            self.calls.append((str(key[2]), message.body))
            handler = self.methods.get(key)
            try:
                if handler is None:
                    raise ServiceError("org.freedesktop.DBus.Error.UnknownMethod", str(key))
                signature, body = handler(message.body)
                reply = new_method_return(message, signature, body)
            except ServiceError as exc:
                reply = new_error(message, exc.name, "s", (exc.text,))
            with contextlib.suppress(OSError):
                self._conn.send(reply)
            for item in reply.body:
                # A file descriptor sent (a delay lock's pipe) is the client's now.
                if hasattr(item, "close") and hasattr(item, "fileno"):
                    item.close()


class LosableSource:
    """An idle source that can be lost, as a display or a compositor is; records its life.

    ``lose(why)`` is what the real source's thread does when its display goes away.
    """

    def __init__(self, name: str, clock: Clock, *, works: bool = True) -> None:
        self.name = name
        self._clock = clock
        self.works = works
        self.last_input = clock.now().mono
        self.events: list[str] = []
        self.armed = False
        self._on_activity: Callable[[], None] = lambda: None
        self._on_lost: Callable[[str], None] | None = None

    def probe(self) -> None:
        from presence_agent.idle.base import IdleSourceError

        if not self.works:
            raise IdleSourceError(f"{self.name} does not work here")

    def start(
        self, on_activity: Callable[[], None], on_lost: Callable[[str], None] | None = None
    ) -> None:
        self.events.append("start")
        self._on_activity = on_activity
        self._on_lost = on_lost

    def stop(self) -> None:
        self.events.append("stop")

    def idle_seconds(self) -> float:
        return max(0.0, self._clock.now().mono - self.last_input)

    def arm(self) -> None:
        self.armed = True
        self.events.append("arm")

    def disarm(self) -> None:
        self.armed = False
        self.events.append("disarm")

    def hooks(self) -> tuple[str, ...]:
        return (f"{self.name} hook",) if self.armed else ()

    def touch(self) -> None:
        self.last_input = self._clock.now().mono
        if self.armed:
            self.armed = False
            self._on_activity()

    def lose(self, why: str) -> None:
        assert self._on_lost is not None, "started without on_lost"
        self._on_lost(why)


class SessionRecorder:
    """SessionEvents that records, for any thread; ``sleeping`` can be made to dawdle."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.cond = threading.Condition()
        self.sleep_hook: Callable[[], None] | None = None

    def _add(self, event: tuple[str, object]) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def locked(self, locked: bool) -> None:
        self._add(("locked", locked))

    def sleeping(self) -> None:
        if self.sleep_hook is not None:
            self.sleep_hook()
        self._add(("sleeping", None))

    def woke(self) -> None:
        self._add(("woke", None))

    def inhibited(self, holder: str, active: bool) -> None:
        self._add(("inhibited", (holder, active)))

    def wait_for(self, event: tuple[str, object], timeout: float = 10.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: event in self.events, timeout):
                raise AssertionError(f"{event} not seen; got {self.events}")


# -- the reporter ---------------------------------------------------------------------------


class MaxJitter(random.Random):
    """Full jitter that always draws the top of its window: backoff delays a test can know."""

    def uniform(self, a: float, b: float) -> float:
        return b

    @classmethod
    def backoff(cls, base: float = 1.0, cap: float = 60.0) -> Backoff:
        return Backoff(base, cap, rng=cls())


class ReporterServer:
    """Steps a :class:`~presence_agent.reporter.ReporterMachine` against a scripted server, in
    virtual time: every request the machine hands out is answered at once (or failed, as
    scripted), and the clock moves only by :meth:`run_for` or by hand."""

    def __init__(self, machine: ReporterMachine) -> None:
        self.machine = machine
        self.clock = MonoClock()
        self.word = "online"
        self.dialect = Dialect.LIBREDESK
        self.key = "key-1"
        self.requests: list[ReporterRequest] = []
        self.events: list[EngineInput] = []
        self._faults: dict[str, list[RequestFailed]] = {"load": [], "me": [], "put": []}
        self._held: list[ServerStatus] = []

    def fail(self, what: str, failure: RequestFailed) -> None:
        """The next ``what`` (``load``, ``me`` or ``put``) fails so."""
        self._faults[what].append(failure)

    def hold(self, what: str, server: ServerStatus) -> None:
        """The next PUT is answered with ``server`` (and changes nothing)."""
        assert what == "put"
        self._held.append(server)

    def feed(self, event: ReporterInput) -> None:
        self.events.extend(self.machine.handle(self.clock(), event))

    def answer(self, request: ReporterRequest) -> ReporterResult | None:
        """What the server does with ``request``."""
        match request:
            case ForgetClient():
                return None
            case LoadCredentials():
                return self._fault("load") or CredentialsRead(self.key)
            case ReadMe(purpose=purpose, dialect=dialect):
                if purpose == "connect" and dialect is not None:
                    self.dialect = dialect
                agent = Agent(AGENT.id, self.word, AGENT.name, None)
                return self._fault("me") or MeRead(
                    agent, self.dialect, from_wire(self.word, self.dialect)
                )
            case SendPut(desired=desired):
                fault = self._fault("put")
                if fault is not None:
                    return fault
                if self._held:
                    return PutAnswered(desired, self._held.pop(0))
                self.word = to_wire(desired.status, desired.source, self.dialect)
                return PutAnswered(desired, from_wire(self.word, self.dialect))
        raise AssertionError(request)

    def _fault(self, what: str) -> RequestFailed | None:
        return self._faults[what].pop(0) if self._faults[what] else None

    def take(self) -> ReporterAction:
        """The machine's next action, recorded but not answered yet (it is in flight)."""
        action = self.machine.poll(self.clock())
        if not isinstance(action, (Wait, Halt)):
            self.requests.append(action)
        return action

    def run(self) -> ReporterAction:
        """Perform requests until the machine waits or halts; returns that."""
        for _ in range(1000):
            action = self.machine.poll(self.clock())
            if isinstance(action, (Wait, Halt)):
                return action
            self.requests.append(action)
            result = self.answer(action)
            if result is not None:
                self.feed(result)
        raise AssertionError("the machine never waits: a busy loop")

    def run_for(self, seconds: float) -> ReporterAction:
        """Let ``seconds`` pass, waking the machine exactly when it asked to be woken."""
        end = self.clock() + seconds
        while True:
            action = self.run()
            if isinstance(action, Wait) and action.until is not None and action.until <= end:
                self.clock.now = max(self.clock.now, action.until)
                continue
            self.clock.now = end
            return self.run()

    def puts(self) -> list[Desired]:
        return [r.desired for r in self.requests if isinstance(r, SendPut)]


class FakeClient:
    """Stands in for LibredeskClient in the reporter's driver. Each PUT takes the next step of
    ``put_script``: an exception to raise, a :class:`threading.Event` to block on (``entered``
    is set first), or a ServerStatus to answer."""

    def __init__(self, word: str = "online", detect: Dialect = Dialect.LIBREDESK) -> None:
        self.word = word
        self.detect = detect
        self.dialect: Dialect | None = None
        self.put_script: list[object] = []
        self.calls: list[tuple[object, ...]] = []
        self.detected = 0
        self.closed = False
        self.entered = threading.Event()

    def me(self, timeout: float | None = None) -> Agent:
        self.calls.append(("me",))
        return Agent(id=AGENT.id, status_word=self.word, name=AGENT.name, email=None)

    def detect_dialect(self, agent: Agent, timeout: float | None = None) -> Dialect:
        self.detected += 1
        self.dialect = self.detect
        return self.detect

    def read_status(self, word: str) -> ServerStatus:
        return from_wire(word, self.dialect or Dialect.DOCUMENTED)

    def set_status(self, desired: Desired, timeout: float | None = None) -> ServerStatus:
        # As the real client: the vocabulary check comes before any request.
        word = to_wire(desired.status, desired.source, self.dialect or Dialect.DOCUMENTED)
        self.calls.append(("put", desired, timeout))
        if self.put_script:
            step = self.put_script.pop(0)
            if isinstance(step, BaseException):
                raise step
            if isinstance(step, threading.Event):
                self.entered.set()
                step.wait(30)
            elif isinstance(step, ServerStatus):
                return step
        self.word = word
        return self.read_status(word)

    def close(self) -> None:
        self.closed = True

    def puts(self) -> list[Desired]:
        return [call[1] for call in self.calls if call[0] == "put"]  # type: ignore[misc]
