"""The reporter: its machine stepped in virtual time, and its driver's I/O and supervision.

The machine tests never start a thread or sleep: a scripted server answers each
request the machine hands out (tests/fakes.py's ReporterServer), and the clock
moves only when a test moves it. The driver tests run the real thread once or
twice, synchronised on the events it emits (a queue), never on time.
"""

from __future__ import annotations

import queue
import threading

import pytest

from presence_agent.client import (
    Forbidden,
    RateLimited,
    Rejected,
    ServerError,
    Unauthorized,
    UnexpectedStatus,
    Unreachable,
)
from presence_agent.credentials import KeyringUnavailable
from presence_agent.events import (
    Answered,
    Connected,
    CredentialsRead,
    Desired,
    Failed,
    FailureKind,
    Finish,
    ForgetClient,
    Halt,
    LoadCredentials,
    MeRead,
    PutAnswered,
    ReadMe,
    Reconnect,
    Refresh,
    Refreshed,
    ReloadCredentials,
    RequestFailed,
    Restarted,
    SendPut,
    SignedOut,
    Submit,
    Trouble,
    Wait,
    WorkerFailed,
)
from presence_agent.reporter import CredentialsMissing, Reporter, ReporterMachine
from presence_agent.vocab import Dialect, ServerStatus, Source, Status
from tests.fakes import AGENT, FakeClient, MaxJitter, ReporterServer

AWAY = Desired(Status.AWAY, Source.USER)
OFFLINE = Desired(Status.OFFLINE, Source.USER)
AVAILABLE = Desired(Status.AVAILABLE, Source.USER)
IDLE_AWAY = Desired(Status.AWAY, Source.IDLE)
REASSIGN = Desired(Status.REASSIGNING, Source.USER)
HELD_AVAILABLE = ServerStatus(Status.AVAILABLE)


@pytest.fixture
def s() -> ReporterServer:
    """A reporter machine (full-jitter backoff at its maximum) and the server it talks to."""
    return ReporterServer(ReporterMachine(backoff=MaxJitter.backoff()))


def connected(s: ReporterServer, word: str = "online") -> ReporterServer:
    s.word = word
    s.run()
    assert [type(e) for e in s.events] == [Connected]
    s.events.clear()
    return s


# -- connecting ---------------------------------------------------------------------------------


def test_connect_loads_credentials_reads_the_agent_and_reports(s):
    s.run()
    assert s.requests == [LoadCredentials(), ReadMe("connect")]
    (event,) = s.events
    assert event == Connected(AGENT, Dialect.LIBREDESK, HELD_AVAILABLE)
    assert s.machine.poll(s.clock()) == Wait(None)  # nothing more to do: no polling


def test_the_dialect_override_goes_with_the_connect():
    s = ReporterServer(ReporterMachine(dialect_override=Dialect.DOCUMENTED))
    s.run()
    assert s.requests[1] == ReadMe("connect", Dialect.DOCUMENTED)


def test_connect_retries_with_backoff_until_the_server_answers(s):
    s.fail("me", RequestFailed(FailureKind.TRANSIENT, "no route"))
    s.fail("me", RequestFailed(FailureKind.TRANSIENT, "starting"))
    wait = s.run()
    assert wait == Wait(s.clock() + 1.0)  # full jitter: at most base * 2**0
    assert [e.message for e in s.events] == ["no route"]
    s.clock.advance(1.0)
    wait = s.run()
    assert wait == Wait(s.clock() + 2.0)  # at most base * 2**1
    s.clock.advance(2.0)
    s.run()
    assert [type(e) for e in s.events] == [Trouble, Trouble, Trouble, Connected]
    assert s.events[2] == Trouble(None)
    assert s.requests.count(ReadMe("connect")) == 3


def test_nothing_is_tried_before_the_backoff_ends(s):
    s.fail("me", RequestFailed(FailureKind.TRANSIENT, "down"))
    s.run()
    s.clock.advance(0.999)
    before = len(s.requests)
    s.feed(Refresh())
    s.feed(Submit(AWAY))
    assert isinstance(s.run(), Wait)
    assert len(s.requests) == before


# -- requests -----------------------------------------------------------------------------------


def test_submit_is_sent_and_answered(s):
    connected(s)
    s.feed(Submit(AWAY))
    s.run()
    assert s.requests[-1] == SendPut(AWAY)
    assert s.events == [Answered(AWAY, ServerStatus(Status.AWAY, by_idle=False))]
    assert s.machine.desired is None


def test_submit_before_connecting_waits_for_the_connection(s):
    s.feed(Submit(AWAY))
    s.run()
    assert s.requests == [LoadCredentials(), ReadMe("connect"), SendPut(AWAY)]


def test_a_choice_made_while_the_first_connect_fails_survives_until_the_server_holds_it(s):
    # The agent started with the server down; the person chose twice meanwhile.
    for _ in range(3):
        s.fail("me", RequestFailed(FailureKind.TRANSIENT, "cannot connect"))
    s.run()
    s.feed(Submit(REASSIGN))
    s.run_for(1.0)
    s.feed(Submit(AWAY))
    assert s.machine.desired == AWAY
    assert s.puts() == []  # nothing goes out before the connect
    s.run_for(30)
    assert s.requests.count(ReadMe("connect")) == 4
    assert s.puts() == [AWAY]  # once, right after the connect, and only the newest
    assert s.machine.desired is None
    connected_at = next(i for i, e in enumerate(s.events) if isinstance(e, Connected))
    assert s.events[connected_at + 1] == Answered(AWAY, ServerStatus(Status.AWAY, by_idle=False))


def test_coalesces_to_the_newest_with_no_backlog(s):
    connected(s)
    s.feed(Submit(AWAY))
    put = s.take()
    assert put == SendPut(AWAY)
    # While the PUT is in flight three more come: only the newest remains.
    for desired in (REASSIGN, OFFLINE, AVAILABLE):
        s.feed(Submit(desired))
    assert isinstance(put, SendPut)
    result = s.answer(put)
    assert result is not None
    s.feed(result)
    s.run()
    assert s.puts() == [AWAY, AVAILABLE]
    assert [a.asked for a in s.events] == [AWAY, AVAILABLE]


def test_resubmitting_the_request_in_flight_sends_it_once(s):
    connected(s)
    s.feed(Submit(AWAY))
    put = s.take()
    s.feed(Submit(AWAY))
    assert isinstance(put, SendPut)
    result = s.answer(put)
    assert result is not None
    s.feed(result)
    s.run()
    assert s.puts() == [AWAY]


@pytest.mark.parametrize("message", ["cannot connect", "the server failed (HTTP 502)"])
def test_transient_failures_are_retried(s, message):
    connected(s)
    s.fail("put", RequestFailed(FailureKind.TRANSIENT, message))
    s.fail("put", RequestFailed(FailureKind.TRANSIENT, message))
    s.feed(Submit(AWAY))
    s.run_for(10)
    assert s.puts() == [AWAY] * 3
    assert [e.message for e in s.events if isinstance(e, Trouble)] == [message, message, None]
    assert not [e for e in s.events if isinstance(e, Failed)]


def test_the_newest_status_survives_retries_reconnects_and_rereads(s):
    # The start-up Available while the server answers 503: it is kept through every
    # retry, a reconnect (a wake), a re-read (a /ws resync) and a new client, and goes
    # out as soon as the server takes it.
    s.word = "offline"
    s.run()
    s.events.clear()
    for _ in range(3):
        s.fail("put", RequestFailed(FailureKind.TRANSIENT, "HTTP 503", retry_after=2.0))
    s.feed(Submit(AVAILABLE))
    s.run()
    s.feed(Reconnect())
    s.feed(Refresh())
    s.run_for(1.0)
    s.feed(Restarted())  # the driver crashed and came back
    s.run_for(30)
    assert s.machine.desired is None
    assert s.word == "online"
    assert s.puts() == [AVAILABLE] * 4
    answered = [e for e in s.events if isinstance(e, Answered)]
    assert answered == [Answered(AVAILABLE, HELD_AVAILABLE)]
    assert not [e for e in s.events if isinstance(e, Failed)]


def test_a_newer_request_replaces_the_one_being_retried(s):
    connected(s)
    s.fail("put", RequestFailed(FailureKind.TRANSIENT, "down"))
    s.feed(Submit(AWAY))
    s.run()
    s.feed(Submit(OFFLINE))
    s.run_for(5)
    assert s.puts() == [AWAY, OFFLINE]


@pytest.mark.parametrize("retry_after", [7.0, 2.5])
def test_retry_after_is_honoured_with_jitter_on_top(s, retry_after):
    connected(s)
    s.fail("put", RequestFailed(FailureKind.TRANSIENT, "busy", retry_after=retry_after))
    s.feed(Submit(AWAY))
    wait = s.run()
    assert isinstance(wait, Wait)
    assert wait.until is not None
    assert wait.until - s.clock() >= retry_after  # never sooner than the server asked
    assert wait.until - s.clock() <= retry_after * 1.25
    s.clock.advance(retry_after - 0.01)
    s.run()
    assert s.puts() == [AWAY]
    s.clock.advance(retry_after)
    s.run()
    assert s.puts() == [AWAY, AWAY]
    assert s.machine.backoff.attempt == 0  # reset by the success


@pytest.mark.parametrize("kind", [FailureKind.PERMANENT, FailureKind.UNSUPPORTED])
def test_permanent_failures_are_not_retried(s, kind):
    connected(s)
    s.fail("put", RequestFailed(kind, "the server rejected the request (HTTP 400)"))
    s.feed(Submit(AWAY))
    s.run_for(600)
    assert s.puts() == [AWAY]
    assert s.events == [Failed(AWAY, "the server rejected the request (HTTP 400)")]
    s.feed(Submit(OFFLINE))
    s.run()
    assert s.puts() == [AWAY, OFFLINE]


def test_a_permanent_failure_to_connect_is_retried_later_not_at_once(s):
    s.fail("me", RequestFailed(FailureKind.PERMANENT, "unknown status 'lunch'"))
    wait = s.run()
    assert isinstance(wait, Wait)
    assert wait.until is not None
    assert wait.until > s.clock()
    assert s.requests.count(ReadMe("connect")) == 1


def test_refresh_reads_the_server_and_is_coalesced(s):
    connected(s)
    s.word = "away_manual"
    s.feed(Refresh())
    s.feed(Refresh())
    s.run()
    assert s.events == [Refreshed(ServerStatus(Status.AWAY, by_idle=False))]
    assert s.requests.count(ReadMe("refresh")) == 1


def test_a_failed_refresh_is_tried_again(s):
    connected(s)
    s.fail("me", RequestFailed(FailureKind.TRANSIENT, "down"))
    s.feed(Refresh())
    s.run_for(5)
    assert s.requests.count(ReadMe("refresh")) == 2
    assert isinstance(s.events[-1], Refreshed)


def test_an_idle_change_looks_first_and_is_sent_over_what_idleness_may_change(s):
    connected(s)
    s.feed(Submit(IDLE_AWAY, look_first=True))
    s.run()
    assert s.requests[-2:] == [ReadMe("look"), SendPut(IDLE_AWAY)]


@pytest.mark.parametrize("word", ["away_manual", "offline"])
def test_an_idle_change_over_a_status_set_elsewhere_is_not_asked(s, word):
    connected(s)
    s.word = word  # /ws is down and the person chose another status in the web app
    s.feed(Submit(IDLE_AWAY, look_first=True))
    s.run()
    assert s.puts() == []
    failed, refreshed = s.events
    assert isinstance(failed, Failed)
    assert failed.asked == IDLE_AWAY
    assert isinstance(refreshed, Refreshed)
    assert s.machine.desired is None


def test_a_person_s_choice_made_during_the_look_is_sent_not_skipped(s):
    # Regression: the look's answer was applied to whatever was newest by then, so a
    # manual Offline chosen while an idle away was being looked at was "skipped".
    connected(s)
    s.feed(Submit(IDLE_AWAY, look_first=True))
    look = s.take()
    assert look == ReadMe("look")
    s.feed(Submit(OFFLINE))
    result = s.answer(look)
    assert result is not None
    s.feed(result)
    s.run()
    assert s.puts() == [OFFLINE]
    assert not [e for e in s.events if isinstance(e, Failed)]
    assert s.events == [Answered(OFFLINE, ServerStatus(Status.OFFLINE))]


# -- signed out ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [FailureKind.REFUSED, FailureKind.NO_CREDENTIALS])
def test_refused_credentials_stop_everything(s, kind):
    connected(s)
    s.fail("put", RequestFailed(kind, "bad key (401)"))
    s.feed(Submit(AWAY))
    s.run()
    assert s.events == [SignedOut("bad key (401)"), Failed(AWAY, "bad key (401)")]
    assert ForgetClient() in s.requests
    before = list(s.requests)
    # Nothing more is tried with the refused credentials, whatever is asked, until the
    # first recheck.
    s.feed(Submit(OFFLINE))
    s.feed(Refresh())
    s.feed(Reconnect())
    assert s.run() == Wait(s.clock() + 30)
    assert s.requests == before


def test_refused_on_connect(s):
    s.fail("me", RequestFailed(FailureKind.REFUSED, "bad key (401)"))
    s.run()
    assert s.events == [SignedOut("bad key (401)")]  # nothing was asked, nothing failed


def test_signed_out_rechecks_after_30_60_120_then_every_240_s(s):
    s.fail("me", RequestFailed(FailureKind.REFUSED, "bad key (401)"))
    start = s.clock()
    s.run()
    looks = []
    for _ in range(7):
        wait = s.run()
        assert isinstance(wait, Wait)
        assert wait.until is not None
        s.clock.now = wait.until
        s.run()
        looks.append(s.clock() - start)
    assert looks == [30, 90, 210, 450, 690, 930, 1170]
    assert s.requests.count(LoadCredentials()) == 8
    assert s.events == [SignedOut("bad key (401)")]  # said once


def test_new_credentials_found_by_a_recheck_resume_and_send_what_was_kept(s):
    connected(s)
    s.fail("put", RequestFailed(FailureKind.REFUSED, "bad key (401)"))
    s.feed(Submit(AWAY))
    s.run()
    s.feed(Submit(OFFLINE))  # asked while signed out: kept for later
    s.key = "key-2"  # someone ran `login`, but the agent was not told
    s.clock.advance(30)
    s.run()
    assert [type(e) for e in s.events] == [SignedOut, Failed, Connected, Answered]
    assert s.events[-1] == Answered(OFFLINE, ServerStatus(Status.OFFLINE))


def test_login_is_used_at_once(s):
    s.fail("load", RequestFailed(FailureKind.NO_CREDENTIALS, "not signed in"))
    s.run()
    assert s.events == [SignedOut("not signed in")]
    s.feed(ReloadCredentials())
    s.run()
    assert isinstance(s.events[-1], Connected)


def test_a_new_sign_out_rechecks_soon_again(s):
    s.fail("load", RequestFailed(FailureKind.NO_CREDENTIALS, "locked"))
    s.run()
    for _ in range(3):  # slowed down to one look each 240 s
        s.clock.advance(240)
        s.fail("load", RequestFailed(FailureKind.NO_CREDENTIALS, "locked"))
        s.run()
    s.feed(ReloadCredentials())  # `login`
    s.run()
    s.fail("put", RequestFailed(FailureKind.REFUSED, "bad key (401)"))  # ...and this key is refused
    s.feed(Submit(AWAY))
    s.run()
    assert s.run() == Wait(s.clock() + 30)


# -- finishing ----------------------------------------------------------------------------------


def test_finish_sends_the_final_status_bounded_and_halts(s):
    connected(s)
    s.feed(Finish(OFFLINE, deadline=s.clock() + 2.0))
    assert s.run() == Halt(True)
    assert s.requests[-1] == SendPut(OFFLINE, timeout=2.0)


def test_finish_replaces_a_request_not_yet_sent(s):
    connected(s)
    s.fail("put", RequestFailed(FailureKind.TRANSIENT, "down"))
    s.feed(Submit(AWAY))
    s.run()  # in backoff now
    s.feed(Finish(OFFLINE, deadline=s.clock() + 2.0))
    assert s.run() == Halt(True)  # at once, not after the backoff
    assert s.puts() == [AWAY, OFFLINE]


def test_finish_before_connecting_sends_nothing(s):
    s.feed(Submit(AWAY))
    s.feed(Finish(OFFLINE, deadline=s.clock() + 2.0))
    assert s.run() == Halt(False)
    assert s.puts() == []


def test_finish_is_false_when_the_server_keeps_another_status(s):
    connected(s)
    s.hold("put", ServerStatus(Status.AWAY, by_idle=False))
    s.feed(Finish(OFFLINE, deadline=s.clock() + 2.0))
    assert s.run() == Halt(False)


def test_finish_tries_once_and_is_false_when_it_fails(s):
    connected(s)
    s.fail("put", RequestFailed(FailureKind.TRANSIENT, "down"))
    s.feed(Finish(OFFLINE, deadline=s.clock() + 2.0))
    assert s.run() == Halt(False)
    assert s.puts() == [OFFLINE]


def test_finish_without_a_final_status_or_while_signed_out(s):
    s.fail("me", RequestFailed(FailureKind.REFUSED, "bad key"))
    s.run()
    s.feed(Finish(OFFLINE, deadline=s.clock() + 2.0))
    assert s.run() == Halt(False)
    assert s.puts() == []


def test_finish_after_its_deadline_sends_nothing(s):
    connected(s)
    s.feed(Finish(OFFLINE, deadline=s.clock() + 2.0))
    s.clock.advance(2.0)  # a request in flight took all the time there was
    assert s.run() == Halt(False)
    assert s.puts() == []


def test_a_restart_keeps_the_newest_request(s):
    connected(s)
    s.feed(Submit(AWAY))
    s.machine.poll(s.clock())  # the PUT is in flight when the driver dies
    s.feed(Restarted())
    s.run()
    assert s.requests[-3:] == [LoadCredentials(), ReadMe("connect"), SendPut(AWAY)]
    assert s.events[-1] == Answered(AWAY, ServerStatus(Status.AWAY, by_idle=False))


def test_a_result_with_nothing_in_flight_is_a_bug(s):
    with pytest.raises(RuntimeError):
        s.machine.handle(s.clock(), CredentialsRead("key"))


def test_polling_twice_without_the_result_is_a_bug(s):
    assert s.machine.poll(s.clock()) == LoadCredentials()
    with pytest.raises(RuntimeError):
        s.machine.poll(s.clock())


# -- the driver: the I/O ------------------------------------------------------------------------


def performer(client: FakeClient, *, key: str = "key-1") -> Reporter:
    return Reporter(lambda: (client, key), lambda _event: None)  # type: ignore[arg-type, return-value]


@pytest.mark.parametrize(
    ("error", "kind", "retry_after"),
    [
        (Unauthorized("bad key (401)"), FailureKind.REFUSED, None),
        (Forbidden("disabled (403)"), FailureKind.REFUSED, None),
        (Unreachable("cannot connect"), FailureKind.TRANSIENT, None),
        (ServerError("the server failed (HTTP 503)", 503, 2.5), FailureKind.TRANSIENT, 2.5),
        (RateLimited("slow down", 7.0), FailureKind.TRANSIENT, 7.0),
        (Rejected("the server rejected the request (HTTP 400)"), FailureKind.PERMANENT, None),
        (UnexpectedStatus("an unknown status 'lunch'"), FailureKind.PERMANENT, None),
    ],
)
def test_the_driver_sorts_errors_for_the_machine(error, kind, retry_after):
    client = FakeClient()
    client.put_script.append(error)
    reporter = performer(client)
    assert reporter.perform(LoadCredentials()) == CredentialsRead("key-1")
    assert reporter.perform(SendPut(AWAY)) == RequestFailed(kind, str(error), retry_after)


def test_the_driver_checks_the_vocabulary_before_any_request():
    client = FakeClient()
    reporter = performer(client)
    reporter.perform(LoadCredentials())
    reporter.perform(ReadMe("connect"))
    result = reporter.perform(SendPut(Desired(Status.BUSY, Source.USER)))  # no Busy on Libredesk
    assert isinstance(result, RequestFailed)
    assert result.kind is FailureKind.UNSUPPORTED
    assert client.puts() == []


@pytest.mark.parametrize(
    "error",
    [CredentialsMissing("not signed in: run `presence-agent login`"), KeyringUnavailable("locked")],
)
def test_factory_errors_for_a_person_are_no_credentials(error):
    def factory():
        raise error

    reporter = Reporter(factory, lambda _event: None)
    assert reporter.perform(LoadCredentials()) == RequestFailed(
        FailureKind.NO_CREDENTIALS, str(error)
    )


def test_connect_detects_the_dialect_or_takes_the_override():
    client = FakeClient("away", detect=Dialect.DOCUMENTED)
    reporter = performer(client)
    reporter.perform(LoadCredentials())
    assert reporter.perform(ReadMe("connect")) == MeRead(
        AGENT.__class__(7, "away", AGENT.name, None),
        Dialect.DOCUMENTED,
        ServerStatus(Status.AWAY),
    )
    assert client.detected == 1
    again = reporter.perform(ReadMe("connect", Dialect.LIBREDESK))
    assert isinstance(again, MeRead)
    assert again.dialect is Dialect.LIBREDESK
    assert client.detected == 1


def test_forget_closes_the_client():
    client = FakeClient()
    reporter = performer(client)
    reporter.perform(LoadCredentials())
    assert reporter.perform(ForgetClient()) is None
    assert client.closed


def test_put_passes_the_timeout():
    client = FakeClient()
    reporter = performer(client)
    reporter.perform(LoadCredentials())
    reporter.perform(ReadMe("connect"))
    assert reporter.perform(SendPut(OFFLINE, timeout=1.5)) == PutAnswered(
        OFFLINE, ServerStatus(Status.OFFLINE)
    )
    assert client.calls[-1] == ("put", OFFLINE, 1.5)


# -- the driver: its thread ---------------------------------------------------------------------


def next_of(events: queue.Queue[object], kind: type) -> object:
    """The next event of ``kind`` the reporter emitted (bounded, so a bug fails, not hangs)."""
    while True:
        event = events.get(timeout=10)
        if isinstance(event, kind):
            return event


def test_the_thread_connects_sends_and_finishes():
    client = FakeClient()
    events: queue.Queue[object] = queue.Queue()
    reporter = Reporter(lambda: (client, "key-1"), events.put)  # type: ignore[arg-type, return-value]
    reporter.start()
    next_of(events, Connected)
    reporter.post(Submit(AWAY))
    assert next_of(events, Answered) == Answered(AWAY, ServerStatus(Status.AWAY, by_idle=False))
    assert reporter.finish(OFFLINE, timeout=10.0) is True
    reporter.join(10)
    assert not reporter.is_alive()
    assert client.closed
    assert client.puts() == [AWAY, OFFLINE]


def test_a_crashing_factory_is_shown_and_the_reporter_restarts():
    # A ca_bundle that names a missing file: the client factory raises FileNotFoundError,
    # which nobody expects. The thread must not die silently.
    client = FakeClient()
    calls = []

    def factory():
        calls.append(1)
        if len(calls) == 1:
            raise FileNotFoundError(2, "No such file or directory", "/etc/ssl/missing.pem")
        return client, "key-1"

    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return False  # not stopped: restart at once (the delay is only recorded)

    events: queue.Queue[object] = queue.Queue()
    reporter = Reporter(factory, events.put, supervise_wait=wait)
    reporter.post(Submit(AVAILABLE))
    reporter.start()
    failure = next_of(events, WorkerFailed)
    assert isinstance(failure, WorkerFailed)
    assert failure.worker == "reporter"
    assert "FileNotFoundError" in failure.message
    assert "/etc/ssl/missing.pem" in failure.message
    next_of(events, Connected)
    # The request made before the crash survived it.
    assert next_of(events, Answered) == Answered(AVAILABLE, HELD_AVAILABLE)
    assert waits == [1.0]
    reporter.stop()
    reporter.join(10)


def test_finish_is_bounded_when_the_request_in_flight_hangs():
    client = FakeClient()
    gate = threading.Event()
    client.put_script.append(gate)
    events: queue.Queue[object] = queue.Queue()
    reporter = Reporter(lambda: (client, "key-1"), events.put)  # type: ignore[arg-type, return-value]
    reporter.start()
    next_of(events, Connected)
    reporter.post(Submit(AWAY))
    assert client.entered.wait(10)
    assert reporter.finish(OFFLINE, timeout=0.05) is False  # returns although the PUT hangs
    gate.set()
    reporter.join(10)


@pytest.mark.parametrize(
    ("word", "desired", "sent"),
    [
        # idleness's later steps over its own away, or over an offline (the agent's own on
        # quit, put back after a restart: docs/libredesk.md)
        ("away", Desired(Status.AWAY, Source.IDLE, no_assignments=True), True),
        ("offline", Desired(Status.AWAY, Source.IDLE, no_assignments=True), True),
        ("away", Desired(Status.REASSIGNING, Source.IDLE), True),
        # ...never over a person's away
        ("away_manual", Desired(Status.REASSIGNING, Source.IDLE), False),
        ("away_and_reassigning", Desired(Status.AWAY, Source.IDLE, no_assignments=True), False),
        # the recovery's return from a sweep's offline, and the plain return
        ("offline", Desired(Status.AVAILABLE, Source.IDLE), True),
        ("away", Desired(Status.AVAILABLE, Source.IDLE), True),
    ],
)
def test_the_look_before_each_idle_request_knows_what_it_may_change(s, word, desired, sent):
    connected(s)
    s.word = word
    s.feed(Submit(desired, look_first=True))
    s.run()
    assert (s.puts() == [desired]) is sent
