"""The reporter thread, with a scripted fake client and a tiny backoff."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from presence_agent.backoff import Backoff
from presence_agent.client import (
    Agent,
    Forbidden,
    RateLimited,
    Rejected,
    ServerError,
    Unauthorized,
    UnexpectedStatus,
    Unreachable,
)
from presence_agent.credentials import KeyringUnavailable
from presence_agent.policy import Desired
from presence_agent.reporter import (
    Answered,
    Connected,
    CredentialsMissing,
    Failed,
    Refreshed,
    Reporter,
    SignedOut,
    Trouble,
)
from presence_agent.vocab import Dialect, ServerStatus, Source, Status, from_wire, to_wire

AWAY = Desired(Status.AWAY, Source.USER)
BUSY = Desired(Status.BUSY, Source.USER)
OFFLINE = Desired(Status.OFFLINE, Source.USER)
AVAILABLE = Desired(Status.AVAILABLE, Source.USER)
IDLE_AWAY = Desired(Status.AWAY, Source.IDLE)
REASSIGN = Desired(Status.REASSIGNING, Source.USER)

WAIT = 3.0  # generous: only a failing test waits this long
#: Every gate made, so teardown can open those a test left shut.
ALL_GATES: list[Gate] = []


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.002)


class Gate:
    """A script step that blocks the fake until opened."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def open(self) -> None:
        self.opened.set()


class FakeClient:
    """Stands in for LibredeskClient. Each call takes the next step of its script:
    an exception to raise, a Gate to block on, or a ServerStatus to answer."""

    def __init__(self, word: str = "online", detect: Dialect = Dialect.LIBREDESK) -> None:
        self.word = word
        self.detect = detect
        self.dialect: Dialect | None = None
        self.me_script: list[object] = []
        self.put_script: list[object] = []
        self.calls: list[tuple] = []
        self.detected = 0
        self.closed = False

    def _step(self, script: list[object]) -> ServerStatus | None:
        if not script:
            return None
        step = script.pop(0)
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, Gate):
            step.entered.set()
            step.opened.wait(10)
            return None
        assert isinstance(step, ServerStatus)
        return step

    def me(self, timeout: float | None = None) -> Agent:
        self.calls.append(("me",))
        self._step(self.me_script)
        return Agent(id=7, status_word=self.word, name="Ada Lovelace", email=None)

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
        answer = self._step(self.put_script)
        if answer is not None:
            return answer
        self.word = word
        return self.read_status(word)

    def close(self) -> None:
        self.closed = True

    def puts(self) -> list[Desired]:
        return [call[1] for call in self.calls if call[0] == "put"]


class Factory:
    """Hands out clients; ``key`` stands for the credentials they were made from."""

    def __init__(self, *clients: FakeClient, key: str = "key-1") -> None:
        self.queue = list(clients)
        self.made: list[FakeClient] = []
        self.key = key
        self.error: Exception | None = None
        self.template: Callable[[], FakeClient] = FakeClient

    @property
    def gates(self) -> list[Gate]:
        return ALL_GATES

    def __call__(self) -> tuple[FakeClient, str]:
        if self.error is not None:
            raise self.error
        client = self.queue.pop(0) if self.queue else self.template()
        self.made.append(client)
        return client, self.key  # type: ignore[return-value]

    def calls(self) -> list[tuple]:
        return [call for client in self.made for call in client.calls]


class Events:
    def __init__(self) -> None:
        self.items: list[object] = []
        self._lock = threading.Lock()

    def __call__(self, event: object) -> None:
        with self._lock:
            self.items.append(event)

    def of(self, kind: type) -> list:
        with self._lock:
            return [e for e in self.items if isinstance(e, kind)]

    def wait_for(self, kind: type, count: int = 1) -> list:
        wait_until(lambda: len(self.of(kind)) >= count)
        return self.of(kind)


class RecordingBackoff(Backoff):
    """Observes the ``retry_after`` the reporter passes, and waits ``delay``."""

    def __init__(self, delay: float = 0.01) -> None:
        super().__init__(base=0.01, cap=0.05)
        self.delay = delay
        self.retry_afters: list[float | None] = []

    def next_delay(self, retry_after: float | None = None) -> float:
        super().next_delay(retry_after)
        self.retry_afters.append(retry_after)
        return self.delay


@pytest.fixture
def make() -> Iterator[Callable[..., tuple[Reporter, Events]]]:
    made: list[tuple[Reporter, Factory]] = []

    def make(
        factory: Factory,
        *,
        backoff: Backoff | None = None,
        dialect_override: Dialect | None = None,
        start: bool = True,
        **options,
    ) -> tuple[Reporter, Events]:
        events = Events()
        reporter = Reporter(
            factory,  # type: ignore[arg-type]
            events,
            backoff=backoff or Backoff(base=0.01, cap=0.05),
            dialect_override=dialect_override,
            **options,
        )
        made.append((reporter, factory))
        if start:
            reporter.start()
        return reporter, events

    yield make
    for reporter, factory in made:
        reporter.stop()
        # Release anything a test left blocked; then the thread must end.
        for gate in factory.gates:
            gate.open()
        reporter.join(WAIT)
        assert not reporter._thread.is_alive()


def gate_in(script: list[object]) -> Gate:
    gate = Gate()
    script.append(gate)
    ALL_GATES.append(gate)
    return gate


# -- connecting --------------------------------------------------------------------------------


def test_connect_reports_agent_dialect_and_status(make):
    client = FakeClient("online")
    _, events = make(Factory(client))
    (connected,) = events.wait_for(Connected)
    assert connected.dialect is Dialect.LIBREDESK
    assert connected.server == ServerStatus(Status.AVAILABLE)
    assert connected.agent.id == 7
    assert client.calls == [("me",)]
    assert client.detected == 1


def test_connect_on_a_documented_server(make):
    client = FakeClient("busy", detect=Dialect.DOCUMENTED)
    _, events = make(Factory(client))
    (connected,) = events.wait_for(Connected)
    assert connected.dialect is Dialect.DOCUMENTED
    assert connected.server == ServerStatus(Status.BUSY)


def test_dialect_override_skips_detection(make):
    client = FakeClient("away")
    _, events = make(Factory(client), dialect_override=Dialect.DOCUMENTED)
    (connected,) = events.wait_for(Connected)
    assert connected.dialect is Dialect.DOCUMENTED
    assert client.dialect is Dialect.DOCUMENTED
    assert client.detected == 0
    assert connected.server == ServerStatus(Status.AWAY, by_idle=None)


def test_connect_retries_until_the_server_answers(make):
    client = FakeClient()
    client.me_script += [Unreachable("no route"), ServerError("starting", 503)]
    _, events = make(Factory(client))
    events.wait_for(Connected)
    assert client.calls == [("me",)] * 3
    assert [t.message for t in events.of(Trouble)] == ["no route", "starting", None]


# -- requests ----------------------------------------------------------------------------------


def test_submit_is_sent_and_answered(make):
    client = FakeClient()
    reporter, events = make(Factory(client))
    events.wait_for(Connected)
    reporter.submit(AWAY)
    (answered,) = events.wait_for(Answered)
    assert answered == Answered(AWAY, ServerStatus(Status.AWAY, by_idle=False))
    assert client.puts() == [AWAY]


def test_submit_before_connecting_waits_for_the_connection(make):
    client = FakeClient()
    gate = gate_in(client.me_script)
    reporter, events = make(Factory(client))
    assert gate.entered.wait(WAIT)
    reporter.submit(AWAY)
    gate.open()
    events.wait_for(Answered)
    assert [c[0] for c in client.calls] == ["me", "put"]


def test_the_answer_is_what_the_server_holds(make):
    # Idle away seen; the person's away_manual elsewhere races our return.
    client = FakeClient("away")
    client.put_script.append(ServerStatus(Status.AWAY, by_idle=False))
    reporter, events = make(Factory(client))
    events.wait_for(Connected)
    reporter.submit(Desired(Status.AVAILABLE, Source.IDLE))
    (answered,) = events.wait_for(Answered)
    assert answered.server == ServerStatus(Status.AWAY, by_idle=False)


@pytest.mark.parametrize(
    ("live", "calls"),
    [(True, ["me", "put"]), (False, ["me", "me", "put"])],
    ids=["push-live", "no-push"],
)
def test_idle_change_reads_first_unless_pushes_are_live(make, live, calls):
    client = FakeClient("online")
    reporter, events = make(Factory(client), push_live=lambda: live)
    events.wait_for(Connected)
    reporter.submit(IDLE_AWAY)
    events.wait_for(Answered)
    assert [c[0] for c in client.calls] == calls


def test_idle_change_over_a_status_set_elsewhere_is_not_asked(make):
    # /ws is down and the person chose away_manual in the web app meanwhile.
    client = FakeClient("online")
    reporter, events = make(Factory(client), push_live=lambda: False)
    events.wait_for(Connected)
    client.word = "away_manual"
    reporter.submit(IDLE_AWAY)
    (refreshed,) = events.wait_for(Refreshed)
    assert refreshed.server == ServerStatus(Status.AWAY, by_idle=False)
    assert [f.asked for f in events.of(Failed)] == [IDLE_AWAY]
    assert client.puts() == []


def test_coalesces_to_the_newest_with_no_backlog(make):
    client = FakeClient()
    gate = gate_in(client.put_script)
    reporter, events = make(Factory(client))
    events.wait_for(Connected)
    reporter.submit(AWAY)
    assert gate.entered.wait(WAIT)
    reporter.submit(REASSIGN)
    reporter.submit(OFFLINE)
    reporter.submit(AVAILABLE)
    gate.open()
    answered = events.wait_for(Answered, 2)
    time.sleep(0.1)  # nothing else may follow
    assert client.puts() == [AWAY, AVAILABLE]
    assert [a.asked for a in events.of(Answered)] == [AWAY, AVAILABLE]
    assert answered[-1].server == ServerStatus(Status.AVAILABLE)


def test_resubmitting_the_request_in_flight_sends_it_once(make):
    client = FakeClient()
    gate = gate_in(client.put_script)
    reporter, events = make(Factory(client))
    events.wait_for(Connected)
    reporter.submit(AWAY)
    assert gate.entered.wait(WAIT)
    reporter.submit(AWAY)
    gate.open()
    events.wait_for(Answered)
    time.sleep(0.1)
    assert client.puts() == [AWAY]


@pytest.mark.parametrize(
    "error",
    [
        Unreachable("cannot connect"),
        ServerError("the server failed (HTTP 502)", 502),
        RateLimited("slow down", None),
    ],
)
def test_transient_failures_are_retried(make, error):
    client = FakeClient()
    client.put_script += [error, error]
    reporter, events = make(Factory(client))
    events.wait_for(Connected)
    reporter.submit(AWAY)
    events.wait_for(Answered)
    assert client.puts() == [AWAY] * 3
    assert [t.message for t in events.of(Trouble)] == [str(error), str(error), None]
    assert events.of(Failed) == []


def test_a_newer_request_replaces_the_one_being_retried(make):
    client = FakeClient()
    client.put_script.append(Unreachable("down"))
    backoff = RecordingBackoff(delay=0.2)
    reporter, events = make(Factory(client), backoff=backoff)
    events.wait_for(Connected)
    reporter.submit(AWAY)
    events.wait_for(Trouble)
    reporter.submit(OFFLINE)
    events.wait_for(Answered)
    assert client.puts() == [AWAY, OFFLINE]


@pytest.mark.parametrize(
    ("error", "retry_after"),
    [
        (RateLimited("slow down", 7.0), 7.0),
        (ServerError("maintenance", 503, retry_after=2.5), 2.5),
        (ServerError("boom", 500), None),
        (Unreachable("down"), None),
    ],
)
def test_retry_after_is_passed_to_the_backoff(make, error, retry_after):
    client = FakeClient()
    client.put_script.append(error)
    backoff = RecordingBackoff()
    reporter, events = make(Factory(client), backoff=backoff)
    events.wait_for(Connected)
    reporter.submit(AWAY)
    events.wait_for(Answered)
    assert backoff.retry_afters == [retry_after]
    assert backoff.attempt == 0  # reset by the success


def test_the_backoff_delay_is_waited_in_full(make):
    client = FakeClient()
    client.put_script.append(RateLimited("slow down", 0.25))
    times: list[float] = []
    real_step = client._step

    def timed(script):
        if script is client.put_script:
            times.append(time.monotonic())
        return real_step(script)

    client._step = timed  # type: ignore[method-assign]
    reporter, events = make(Factory(client), backoff=RecordingBackoff(delay=0.25))
    events.wait_for(Connected)
    reporter.submit(AWAY)
    events.wait_for(Answered)
    assert len(times) == 2
    assert times[1] - times[0] >= 0.25


@pytest.mark.parametrize(
    "error",
    [
        Rejected("the server rejected the request (HTTP 400)"),
        UnexpectedStatus("the server reported an unknown status 'lunch'"),
    ],
)
def test_permanent_failures_are_not_retried(make, error):
    client = FakeClient()
    client.put_script.append(error)
    reporter, events = make(Factory(client))
    events.wait_for(Connected)
    reporter.submit(AWAY)
    (failed,) = events.wait_for(Failed)
    assert failed == Failed(AWAY, str(error))
    time.sleep(0.1)
    assert client.puts() == [AWAY]
    # The reporter is still alive for the next request.
    reporter.submit(OFFLINE)
    events.wait_for(Answered)
    assert client.puts() == [AWAY, OFFLINE]


def test_unsupported_status_fails_without_a_request(make):
    client = FakeClient("online")
    reporter, events = make(Factory(client))
    events.wait_for(Connected)
    reporter.submit(BUSY)  # no Busy on real Libredesk
    (failed,) = events.wait_for(Failed)
    assert failed.asked == BUSY
    assert "Busy" in failed.message
    assert client.puts() == []
    reporter.submit(AWAY)
    events.wait_for(Answered)


def test_refresh_reads_the_server(make):
    client = FakeClient("online")
    reporter, events = make(Factory(client))
    events.wait_for(Connected)
    client.word = "away_manual"
    reporter.refresh()
    reporter.refresh()  # coalesced
    (refreshed,) = events.wait_for(Refreshed)
    assert refreshed.server == ServerStatus(Status.AWAY, by_idle=False)
    time.sleep(0.05)
    assert client.calls.count(("me",)) == 2


def test_documented_idle_change_looks_before_it_asks(make):
    # The documented server has no push: before an idle change the reporter
    # reads it, and never asks an idle away over a status set by someone else.
    client = FakeClient("busy", detect=Dialect.DOCUMENTED)
    reporter, events = make(Factory(client))
    events.wait_for(Connected)
    reporter.submit(IDLE_AWAY)
    (refreshed,) = events.wait_for(Refreshed)
    assert refreshed.server == ServerStatus(Status.BUSY)
    (failed,) = events.of(Failed)
    assert failed.asked == IDLE_AWAY
    assert client.puts() == []
    assert events.of(Answered) == []


def test_event_handler_errors_do_not_stop_the_reporter(make):
    client = FakeClient()
    seen: list[object] = []

    def handler(event: object) -> None:
        seen.append(event)
        if isinstance(event, Connected):
            raise RuntimeError("listener bug")

    reporter = Reporter(Factory(client), handler, backoff=Backoff(0.01, 0.05))  # type: ignore[arg-type]
    reporter.start()
    try:
        wait_until(lambda: any(isinstance(e, Connected) for e in seen))
        reporter.submit(AWAY)
        wait_until(lambda: any(isinstance(e, Answered) for e in seen))
    finally:
        reporter.stop()
        reporter.join(WAIT)


# -- signed out --------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [Unauthorized("bad key (401)"), Forbidden("disabled (403)")])
def test_refused_credentials_stop_everything(make, error):
    client = FakeClient()
    client.put_script.append(error)
    factory = Factory(client)
    reporter, events = make(factory)
    events.wait_for(Connected)
    reporter.submit(AWAY)
    (signed_out,) = events.wait_for(SignedOut)
    assert signed_out.message == str(error)
    assert events.wait_for(Failed) == [Failed(AWAY, str(error))]
    assert client.closed
    calls = factory.calls()
    # Nothing more is tried with the refused credentials, whatever is asked.
    reporter.submit(OFFLINE)
    reporter.refresh()
    reporter.submit(AVAILABLE)
    time.sleep(0.2)
    assert factory.calls() == calls
    assert len(events.of(SignedOut)) == 1
    assert all(c.closed for c in factory.made)


def test_refused_on_connect(make):
    client = FakeClient()
    client.me_script.append(Unauthorized("bad key (401)"))
    factory = Factory(client)
    reporter, events = make(factory)
    events.wait_for(SignedOut)
    assert events.of(Connected) == []
    assert events.of(Failed) == []  # nothing was asked
    reporter.submit(AWAY)
    time.sleep(0.1)
    assert factory.calls() == [("me",)]


def test_new_credentials_resume(make):
    first = FakeClient()
    first.put_script.append(Unauthorized("bad key (401)"))
    factory = Factory(first)
    reporter, events = make(factory)
    events.wait_for(Connected)
    reporter.submit(AWAY)
    events.wait_for(SignedOut)
    reporter.submit(OFFLINE)  # asked while signed out: kept for later

    second = FakeClient("online")
    factory.queue.append(second)
    factory.key = "key-2"
    reporter.credentials_changed()
    events.wait_for(Connected, 2)
    (answered,) = events.wait_for(Answered)
    assert answered.asked == OFFLINE
    assert second.calls[0] == ("me",)
    assert second.puts() == [OFFLINE]
    assert first.puts() == [AWAY]


@pytest.mark.parametrize(
    "error",
    [
        CredentialsMissing("not signed in: run `presence-agent login`"),
        KeyringUnavailable("no usable OS keyring"),
    ],
)
def test_factory_errors_sign_out_without_spinning(make, error):
    factory = Factory()
    factory.error = error
    reporter, events = make(factory)
    (signed_out,) = events.wait_for(SignedOut)
    assert signed_out.message == str(error)
    time.sleep(0.1)
    assert len(events.of(SignedOut)) == 1
    # Login stores credentials and says so.
    factory.error = None
    reporter.credentials_changed()
    events.wait_for(Connected)


class CountingFactory(Factory):
    """Counts the keyring reads (each one a helper process in the real agent)."""

    def __init__(self, *clients: FakeClient) -> None:
        super().__init__(*clients)
        self.reads = 0

    def __call__(self) -> tuple[FakeClient, str]:
        self.reads += 1
        return super().__call__()


def test_signed_out_rechecks_slow_down_and_ignore_other_wake_ups(make):
    now = [0.0]
    factory = CountingFactory()
    factory.error = KeyringUnavailable("the OS keyring could not read the secret; is it unlocked?")
    reporter, events = make(factory, clock=lambda: now[0])
    events.wait_for(SignedOut)
    assert factory.reads == 1

    def at(t: float) -> int:
        now[0] = t
        reporter.refresh()  # a wake-up that is not the recheck's own
        reporter.submit(AWAY)
        time.sleep(0.05)
        return factory.reads

    # Looks again after 30 s, then 60, 120 and 240 s, and never more often than that.
    assert at(29.9) == 1
    assert at(30.0) == 2
    assert at(89.9) == 2
    assert at(90.0) == 3
    assert at(209.9) == 3
    assert at(210.0) == 4
    assert at(449.9) == 4
    assert at(450.0) == 5
    assert at(690.0) == 6
    # The keyring is unlocked at last: the next look connects and sends what was asked.
    factory.error = None
    assert at(930.0) == 7
    events.wait_for(Connected)
    (answered,) = events.wait_for(Answered)
    assert answered.asked == AWAY


def test_a_new_sign_out_rechecks_soon_again(make):
    now = [0.0]
    first = FakeClient()
    first.put_script.append(Unauthorized("bad key (401)"))
    factory = CountingFactory(first)
    factory.error = KeyringUnavailable("locked")
    reporter, events = make(factory, clock=lambda: now[0])
    events.wait_for(SignedOut)
    for t in (30.0, 90.0, 210.0):  # slowed down to one look each 240 s
        now[0] = t
        reporter.refresh()
        time.sleep(0.05)
    factory.error = None
    reporter.credentials_changed()  # `login`: looks at once
    events.wait_for(Connected)
    reads = factory.reads
    reporter.submit(AWAY)  # ...and this key is refused
    events.wait_for(SignedOut, 2)  # at 210 s: the next look is 30 s later, not 240
    now[0] = 239.9
    reporter.refresh()
    time.sleep(0.05)
    assert factory.reads == reads
    now[0] = 240.0
    reporter.refresh()
    wait_until(lambda: factory.reads == reads + 1)


# -- finishing ---------------------------------------------------------------------------------


def test_finish_sends_the_final_status_and_stops(make):
    client = FakeClient()
    reporter, events = make(Factory(client))
    events.wait_for(Connected)
    started = time.monotonic()
    assert reporter.finish(OFFLINE, timeout=2.0) is True
    assert time.monotonic() - started < 1.0
    (put,) = [c for c in client.calls if c[0] == "put"]
    assert put[1] == OFFLINE
    assert 0 < put[2] <= 2.0  # the request itself is bounded by what is left
    reporter.join(WAIT)
    assert not reporter._thread.is_alive()
    assert client.closed


def test_finish_replaces_a_request_not_yet_sent(make):
    client = FakeClient()
    gate = gate_in(client.me_script)
    reporter, _ = make(Factory(client))
    assert gate.entered.wait(WAIT)
    reporter.submit(AWAY)
    # Not connected yet: nothing is sent at all.
    assert reporter.finish(OFFLINE, timeout=0.2) is False
    gate.open()
    reporter.join(WAIT)
    assert client.puts() == []


def test_finish_is_false_when_the_server_keeps_another_status(make):
    client = FakeClient()
    client.put_script.append(ServerStatus(Status.AWAY, by_idle=False))
    reporter, events = make(Factory(client))
    events.wait_for(Connected)
    assert reporter.finish(OFFLINE, timeout=2.0) is False


def test_finish_is_false_when_the_final_request_fails(make):
    client = FakeClient()
    client.put_script.append(Unreachable("down"))
    reporter, events = make(Factory(client))
    events.wait_for(Connected)
    assert reporter.finish(OFFLINE, timeout=2.0) is False
    assert client.puts() == [OFFLINE]  # tried once: no retries on the way out


def test_finish_without_a_final_status(make):
    client = FakeClient()
    reporter, events = make(Factory(client))
    events.wait_for(Connected)
    assert reporter.finish(None, timeout=2.0) is False
    reporter.join(WAIT)
    assert client.puts() == []


def test_finish_while_signed_out_sends_nothing(make):
    client = FakeClient()
    client.me_script.append(Unauthorized("bad key"))
    factory = Factory(client)
    reporter, events = make(factory)
    events.wait_for(SignedOut)
    started = time.monotonic()
    assert reporter.finish(OFFLINE, timeout=2.0) is False
    assert time.monotonic() - started < 1.0
    assert factory.calls() == [("me",)]


def test_finish_is_bounded_when_a_request_in_flight_hangs(make):
    client = FakeClient()
    gate = gate_in(client.put_script)
    reporter, events = make(Factory(client))
    events.wait_for(Connected)
    reporter.submit(AWAY)
    assert gate.entered.wait(WAIT)
    started = time.monotonic()
    assert reporter.finish(OFFLINE, timeout=0.3) is False
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 1.0


def test_finish_is_bounded_when_the_final_request_hangs(make):
    client = FakeClient()
    gate = gate_in(client.put_script)
    reporter, events = make(Factory(client))
    events.wait_for(Connected)
    started = time.monotonic()
    assert reporter.finish(OFFLINE, timeout=0.3) is False
    assert time.monotonic() - started < 1.0
    assert gate.entered.is_set()


def test_finish_interrupts_a_backoff(make):
    client = FakeClient()
    client.put_script.append(Unreachable("down"))
    reporter, events = make(Factory(client), backoff=RecordingBackoff(delay=30.0))
    events.wait_for(Connected)
    reporter.submit(AWAY)
    events.wait_for(Trouble)
    started = time.monotonic()
    assert reporter.finish(OFFLINE, timeout=2.0) is True
    assert time.monotonic() - started < 1.0
    assert client.puts() == [AWAY, OFFLINE]


def test_stop_interrupts_a_backoff(make):
    client = FakeClient()
    client.put_script.append(Unreachable("down"))
    reporter, events = make(Factory(client), backoff=RecordingBackoff(delay=30.0))
    events.wait_for(Connected)
    reporter.submit(AWAY)
    events.wait_for(Trouble)
    reporter.stop()
    reporter.join(1.0)
    assert not reporter._thread.is_alive()
