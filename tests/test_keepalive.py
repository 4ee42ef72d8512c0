"""The /ws keepalive: its machine stepped in virtual time, and its driver against a fake socket.

The machine tests feed events with explicit times and check the actions; nothing
sleeps and no thread runs. The driver test runs the real threads once against an
in-process socket, synchronised on the events it emits.
"""

from __future__ import annotations

import json
import queue
import threading

import pytest

from presence_agent.events import (
    CloseSocket,
    Halt,
    Intent,
    OpenFailed,
    OpenSocket,
    PushLive,
    Received,
    Reopen,
    Resync,
    SendPing,
    ServerPush,
    SocketClosed,
    SocketOpened,
    SocketTrouble,
    StopKeepalive,
    Wait,
)
from presence_agent.keepalive import (
    OPEN_TIMEOUT,
    ORIGIN_RETRY,
    Keepalive,
    KeepaliveMachine,
    WsParams,
)
from presence_agent.vocab import ServerStatus, Status
from presence_agent.wsconnect import ORIGIN_REFUSED
from tests.fakes import MaxJitter, MonoClock

WANTED = Intent(open=True, agent_id=7, may_ping=True)
OFFLINE = Intent(open=True, agent_id=7, may_ping=False)


class Stepper:
    def __init__(self, interval: float = 30.0) -> None:
        self.clock = MonoClock()
        self.machine = KeepaliveMachine(interval, backoff=MaxJitter.backoff(max(1.0, interval)))
        self.out: list[object] = []

    def feed(self, event: object) -> None:
        self.out.extend(self.machine.handle(self.clock(), event))  # type: ignore[arg-type]

    def poll(self) -> object:
        return self.machine.poll(self.clock())

    def open(self, intent: Intent = WANTED) -> int:
        self.feed(intent)
        action = self.poll()
        assert isinstance(action, OpenSocket)
        self.feed(SocketOpened(action.socket))
        return action.socket


@pytest.fixture
def k() -> Stepper:
    return Stepper()


def push(agent_id: int, word: str) -> str:
    data = {"agent_id": agent_id, "availability_status": word}
    return json.dumps({"type": "agent_availability_update", "data": data})


def test_nothing_until_the_engine_wants_a_socket(k):
    assert k.poll() == Wait(None)
    k.feed(Intent(open=False, agent_id=None, may_ping=True))
    assert k.poll() == Wait(None)
    k.feed(WANTED)
    assert k.poll() == OpenSocket(1, OPEN_TIMEOUT)
    assert k.poll() == Wait(None)  # opening: the driver is at it


def test_an_open_socket_resyncs_then_pings_on_schedule(k):
    socket = k.open()
    assert k.out == [Resync()]  # what changed while we had no socket was never pushed
    assert k.poll() == SendPing(socket)  # at once
    assert k.poll() == Wait(k.clock() + 30)
    k.feed(Received(socket, "pong"))
    assert k.out[-1] == PushLive(True)
    k.clock.advance(30)
    assert k.poll() == SendPing(socket)
    k.feed(Received(socket, "pong"))
    assert k.out.count(PushLive(True)) == 1  # said once
    assert k.machine.pings == 2


def test_no_pong_for_90_s_reconnects(k):
    socket = k.open()
    k.poll()  # ping at t0, never answered
    for _ in range(2):
        k.clock.advance(30)
        assert k.poll() == SendPing(socket)
    wait = k.poll()
    assert wait == Wait(k.clock() + 30)  # the next ping and the give-up time coincide
    k.clock.advance(30)
    assert k.poll() == CloseSocket(socket)
    k.feed(SocketClosed(socket, None, "closed by the agent"))
    wait = k.poll()
    assert isinstance(wait, Wait)
    assert wait.until is not None
    assert 0 < wait.until - k.clock() <= 30  # spread over one interval
    k.clock.now = wait.until
    assert k.poll() == OpenSocket(socket + 1, OPEN_TIMEOUT)


def test_a_pong_in_time_keeps_the_socket(k):
    socket = k.open()
    k.poll()
    k.clock.advance(89)
    k.feed(Received(socket, "pong"))
    k.clock.advance(1)
    assert k.poll() == SendPing(socket)  # the next ping, not a give-up
    assert k.poll() == Wait(k.clock() + 30)


def test_no_ping_and_no_wake_up_while_offline(k):
    # Regression: while offline the keepalive woke every 50 ms. Now it waits for news.
    socket = k.open(OFFLINE)
    assert k.poll() == Wait(None)
    k.clock.advance(3600)
    assert k.poll() == Wait(None)
    assert k.machine.pings == 0
    k.feed(Received(socket, push(7, "offline")))  # a push is no reason to ping
    assert k.poll() == Wait(None)


def test_offline_asked_stops_pings_at_once_and_allowed_again_pings_at_once(k):
    socket = k.open()
    assert k.poll() == SendPing(socket)
    k.clock.advance(10)
    k.feed(OFFLINE)
    k.clock.advance(25)
    assert k.poll() == Wait(None)  # the ping due at 30 s is not sent
    k.clock.advance(500)
    assert k.poll() == Wait(None)  # and no pong is owed meanwhile
    k.feed(WANTED)
    assert k.poll() == SendPing(socket)


def test_pushes_for_our_agent_reach_the_engine(k):
    socket = k.open()
    for message in (
        push(8, "away"),  # another agent
        "not json",
        json.dumps({"type": "error", "data": "invalid message format"}),
        json.dumps([1, 2]),
        push(7, "lunch"),  # a word we do not know
        "[" * 100_000,  # nested past the parser's depth
        push(7, "away_manual"),
    ):
        k.feed(Received(socket, message))
    assert k.out == [Resync(), ServerPush(ServerStatus(Status.AWAY, by_idle=False))]


def test_a_close_keeps_its_code_and_reason_and_reconnects_with_backoff(k):
    socket = k.open()
    k.feed(Received(socket, "pong"))
    k.feed(SocketClosed(socket, 1000, "kicked"))
    assert k.out[-1] == PushLive(False)
    assert k.machine.last_close == (1000, "kicked")
    wait = k.poll()
    assert isinstance(wait, Wait)
    assert wait.until == k.clock() + 30  # full jitter at its top: one interval


def test_a_refused_upgrade_is_not_retried_until_wanted_anew(k):
    k.feed(WANTED)
    action = k.poll()
    assert isinstance(action, OpenSocket)
    k.feed(OpenFailed(action.socket, "refused (401)", 401))
    k.clock.advance(3600)
    assert k.poll() == Wait(None)
    k.feed(Intent(open=False, agent_id=7, may_ping=True))  # signed out ...
    k.feed(WANTED)  # ... and in again
    assert isinstance(k.poll(), OpenSocket)


def test_a_refused_origin_is_retried_and_its_status_kept(k):
    # A real server answers 200 to an Origin it refuses.
    k.feed(WANTED)
    action = k.poll()
    assert isinstance(action, OpenSocket)
    message = ORIGIN_REFUSED
    k.feed(OpenFailed(action.socket, message, 200))
    assert k.machine.last_error is not None
    assert k.out == [SocketTrouble(ORIGIN_REFUSED)]  # a person must fix it: said once
    wait = k.poll()
    assert isinstance(wait, Wait)
    # No tight loop: only a change to the reverse proxy mends it.
    assert wait.until is not None
    assert wait.until >= k.clock() + ORIGIN_RETRY
    k.clock.advance(wait.until - k.clock())
    again = k.poll()
    assert isinstance(again, OpenSocket)
    k.feed(OpenFailed(again.socket, message, 200))
    assert k.out == [SocketTrouble(ORIGIN_REFUSED)]  # not repeated
    k.clock.advance(3600)
    third = k.poll()
    assert isinstance(third, OpenSocket)
    k.feed(SocketOpened(third.socket))  # the proxy was fixed
    assert k.out[-2:] == [SocketTrouble(None), Resync()]


def test_kicked_reconnects_with_backoff_and_jitter_then_resyncs(k):
    socket = k.open()
    k.feed(Received(socket, "pong"))
    k.feed(SocketClosed(socket, 1000, "kicked"))
    assert "kicked" in (k.machine.last_error or "")
    wait = k.poll()
    assert isinstance(wait, Wait)
    assert wait.until is not None
    assert wait.until > k.clock()
    k.clock.advance(wait.until - k.clock())
    again = k.poll()
    assert isinstance(again, OpenSocket)
    assert again.socket == socket + 1
    k.feed(SocketOpened(again.socket))
    assert k.out[-1] == Resync()  # what the admin's edit left is read again


def test_not_wanted_any_more_closes(k):
    socket = k.open()
    k.feed(Intent(open=False, agent_id=7, may_ping=True))
    assert k.poll() == CloseSocket(socket)
    k.feed(SocketClosed(socket, None, "closed by the agent"))
    assert k.poll() == Wait(None)


def test_reopen_after_a_wake_opens_afresh_at_once(k):
    socket = k.open()
    k.feed(Reopen())
    assert k.poll() == CloseSocket(socket)
    k.feed(SocketClosed(socket, None, "closed by the agent"))
    assert k.poll() == OpenSocket(socket + 1, OPEN_TIMEOUT)  # no backoff


def test_stop_closes_then_halts(k):
    socket = k.open()
    k.feed(StopKeepalive())
    assert k.poll() == CloseSocket(socket)
    k.feed(SocketClosed(socket, None, "closed by the agent"))
    assert k.poll() == Halt(False)


def test_news_of_an_old_socket_is_ignored(k):
    first = k.open()
    k.feed(Reopen())
    k.poll()
    k.feed(SocketClosed(first, None, "closed by the agent"))
    second = k.poll()
    assert isinstance(second, OpenSocket)
    k.feed(SocketOpened(second.socket))
    k.feed(SocketClosed(first, 1006, "the old reader thread ends late"))
    k.feed(Received(first, push(7, "offline")))
    assert k.machine.is_open
    assert ServerPush(ServerStatus(Status.OFFLINE)) not in k.out


# -- the driver --------------------------------------------------------------------------------


class FakeWs:
    """A /ws that answers ``ping`` with ``pong``; ``recv`` blocks until something arrives."""

    def __init__(self) -> None:
        self.inbox: queue.Queue[str | None] = queue.Queue()
        self.sent: list[str] = []
        self.closed = threading.Event()

    def send(self, message: str) -> None:
        self.sent.append(message)
        if message == "ping":
            self.inbox.put("pong")

    def recv(self, timeout: float | None = None) -> str:
        message = self.inbox.get(timeout=timeout)
        if message is None:
            raise ConnectionClosedLike(1000, "kicked")
        return message

    def close(self) -> None:
        self.closed.set()
        self.inbox.put(None)


class ConnectionClosedLike(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"received {code} ({reason})")
        self.rcvd = type("Close", (), {"code": code, "reason": reason})()


PARAMS = WsParams("ws://127.0.0.1:1/ws", "https://127.0.0.1:1", b"token k:s", None, "test")


def test_the_driver_opens_pings_reads_and_closes():
    sockets: list[FakeWs] = []

    def connector(params: WsParams, timeout: float) -> FakeWs:
        assert params is PARAMS
        sockets.append(FakeWs())
        return sockets[-1]

    events: queue.Queue[object] = queue.Queue()
    keepalive = Keepalive(lambda: PARAMS, events.put, connector=connector)
    keepalive.start()
    keepalive.post(WANTED)
    assert events.get(timeout=10) == Resync()
    assert events.get(timeout=10) == PushLive(True)
    sockets[0].inbox.put(push(7, "away_manual"))
    assert events.get(timeout=10) == ServerPush(ServerStatus(Status.AWAY, by_idle=False))
    # The server closes it (an admin edited the agent): the code and reason reach the machine.
    sockets[0].inbox.put(None)
    assert events.get(timeout=10) == PushLive(False)
    keepalive.stop()
    keepalive.join(10)
    assert keepalive.machine.last_close == (1000, "kicked")
    assert sockets[0].sent == ["ping"]


def test_after_a_reconnect_no_ping_before_the_status_was_read_again(k):
    # A ping would turn a sweep's offline into online unseen: the engine reads first.
    gated = Intent(open=True, agent_id=7, may_ping=True, reads=3)
    first = k.open(gated)
    assert isinstance(k.poll(), SendPing)  # the first socket follows the connect's read
    k.feed(SocketClosed(first, None, "network gone"))
    k.clock.advance(120)
    action = k.poll()
    assert isinstance(action, OpenSocket)
    k.feed(SocketOpened(action.socket))
    assert k.out[-1] == Resync()
    assert k.poll() == Wait(None)  # no ping yet
    k.feed(Intent(open=True, agent_id=7, may_ping=False, reads=4))  # read: offline, PUT first
    assert k.poll() == Wait(None)
    k.feed(Intent(open=True, agent_id=7, may_ping=True, reads=4))  # online again: ping now
    assert isinstance(k.poll(), SendPing)
