"""The ``/ws`` keepalive that real Libredesk needs, and live sync from its pushes.

The real server marks an agent offline five minutes after the last text
``ping`` on its WebSocket, whatever PUTs it got (docs/libredesk.md). So while
the agent runs on such a server, ``/ws`` stays open and is pinged every 30 s,
except while the engine says no (a ping turns an offline agent online); and
every ``agent_availability_update`` for our own agent goes to the engine as
server truth, so a change made in the web app shows at once.

Two parts, like the reporter:

* :class:`KeepaliveMachine`: the rules (open while wanted, ping on schedule,
  reconnect with backoff when the socket closes or no pong comes for three
  intervals (90 s),
  read pushes), with no I/O and no clock.
* :class:`Keepalive`: its driver thread, which opens, pings and closes the
  socket, plus one reader thread per socket that only waits in ``recv`` and
  hands each message (and the close code and reason) to the driver. Nothing
  polls: the driver sleeps until the machine's next deadline or news.

Opening the socket (proxy, no redirect, refused origin) is presence_agent/wsconnect.py.

Library: ``websockets`` (its threading client), not httpx-ws. httpx-ws would
reuse the httpx client, but pulls in anyio and wsproto and an async
machinery for one socket; ``websockets`` is the most used and best kept
Python WebSocket library, its sync client is a plain thread-friendly
socket with timeouts, and we pass it the same TLS context, Authorization
header and User-Agent as the REST client, so nothing is configured twice.

On a documented server there is no ``/ws``: the engine re-reads
``GET /agents/me`` every 60 s instead (and on every return from idle).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from presence_agent.backoff import Backoff
from presence_agent.errortext import first_line
from presence_agent.events import (
    CloseSocket,
    EngineInput,
    Halt,
    Intent,
    KeepaliveAction,
    KeepaliveEvent,
    KeepaliveInput,
    KeepaliveRequest,
    KeepaliveResult,
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
from presence_agent.vocab import Dialect, UnknownStatusError, from_wire
from presence_agent.worker import MachineDriver

if TYPE_CHECKING:
    from presence_agent.config import Config

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 30.0
#: Reconnect when no pong came for this many ping intervals (the web app: 90 s at 30 s).
PONG_INTERVALS = 3
#: How long opening the socket may take.
OPEN_TIMEOUT = 10.0
#: After a refused Origin, the next try comes this much later (plus the backoff): only a
#: change to the reverse proxy mends it, and a tight loop would only fill the server's log.
ORIGIN_RETRY = 300.0


@dataclass(frozen=True)
class WsParams:
    """How to open ``/ws``. Holds the Authorization value: never log or print it."""

    url: str
    origin: str
    authorization: bytes
    ssl: Any
    user_agent: str

    def __repr__(self) -> str:
        return f"WsParams(url={self.url!r}, origin={self.origin!r}, authorization=<redacted>)"


def ws_params_for(cfg: Config, secret: str) -> WsParams:
    """How to open ``/ws`` with the same server, credentials and TLS as the REST client."""
    from presence_agent.client import USER_AGENT, authorization_header, make_ssl_context

    if cfg.server is None or cfg.api_key is None:
        raise ValueError("not signed in: no server or API key in the config")
    return WsParams(
        url=ws_url(cfg.server),
        origin=origin_for(cfg.server),
        authorization=authorization_header(cfg.auth, cfg.api_key, secret),
        ssl=make_ssl_context(cfg.ca_bundle),
        user_agent=USER_AGENT,
    )


def ws_url(server: str) -> str:
    parts = urlsplit(server)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", "", ""))


def origin_for(server: str) -> str:
    """An Origin the real server accepts: ``https://`` + exactly the Host we send.

    The real ``cmd/websocket.go`` compares the origin's host, port included,
    with the request's Host header (and lets any ``localhost`` origin in).
    """
    parts = urlsplit(server)
    host = parts.hostname or "localhost"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    if parts.port is not None and parts.port != default:
        host = f"{host}:{parts.port}"
    return f"https://{host}"


Connector = Callable[[WsParams, float], Any]


def _connect(params: WsParams, timeout: float) -> Any:
    """Open ``/ws`` directly or through the REST client's proxy (presence_agent/wsconnect.py)."""
    from presence_agent.wsconnect import connect

    return connect(params, timeout)


class KeepaliveMachine:
    """The keepalive's rules, with no I/O and no clock.

    One request at a time, as the reporter's: :meth:`poll` hands out the next
    one, and its result (if it has one) comes back through :meth:`handle`.
    News about a socket (a message, its close) may come at any time.
    """

    def __init__(
        self,
        interval: float = DEFAULT_INTERVAL,
        *,
        backoff: Backoff | None = None,
        pong_timeout: float | None = None,
    ) -> None:
        self.interval = interval
        # Reconnects are spread over one ping interval, not one second: a server
        # restart drops every agent's socket in the same instant, and with a 1 s
        # window a fleet comes back within that second (benchmarks/fleet.py: 44 %
        # of 1000 agents in one second; with this, under 10 %). It costs nothing
        # the keepalive is for: the server still hears a ping at least every two
        # intervals, far inside its five-minute sweep, and a reconnect re-reads
        # the status (Resync) for the pushes missed meanwhile.
        self.backoff = backoff or Backoff(base=max(1.0, interval), cap=60.0)
        self.pong_timeout = PONG_INTERVALS * interval if pong_timeout is None else pong_timeout
        self._intent = Intent(open=False, agent_id=None, may_ping=False)
        self._stopping = False
        #: The socket now: its number, and whether it is open (``None``: none at all).
        self._socket = 0
        self._state: str = "closed"  # closed | opening | open | closing
        self._retry_at: float | None = None
        self._refused = False
        #: The server refused our Origin (a 200 without upgrade): retried only slowly.
        self._origin_refused = False
        #: Set when a socket opens: no ping until the engine has read more than this.
        self._read_gate: int | None = None
        self._reopen = False
        self._next_ping: float | None = None
        #: When the oldest ping not yet answered was sent.
        self._unanswered_since: float | None = None
        self._live = False
        #: The last close: code and reason from the server's close frame (``kicked``...).
        self.last_close: tuple[int | None, str] | None = None
        #: Counters for doctor, tests and benchmarks.
        self.connects = 0
        self.pings = 0
        self.last_error: str | None = None

    @property
    def live(self) -> bool:
        return self._live

    @property
    def is_open(self) -> bool:
        return self._state == "open"

    @property
    def socket(self) -> int:
        """The number of the newest socket (open or not)."""
        return self._socket

    def poll(self, now: float) -> KeepaliveAction:
        """What to do now: open, ping or close the socket, :class:`Wait`, or :class:`Halt`."""
        if self._state in ("opening", "closing"):
            return Wait(None)  # the driver is at it; its result comes as an event
        if self._stopping:
            if self._state == "open":
                return self._close()
            return Halt(False)
        if self._state == "open":
            if not self._intent.open or self._reopen:
                return self._close()
            if not self._intent.may_ping or self._read_gate is not None:
                return Wait(None)
            if self._unanswered_since is not None:
                give_up = self._unanswered_since + self.pong_timeout
                if now >= give_up:
                    self.last_error = f"no pong for {self.pong_timeout:.0f} s"
                    log.info("/ws: %s; reconnecting", self.last_error)
                    return self._close()
            else:
                give_up = None
            if self._next_ping is None or now >= self._next_ping:
                self._next_ping = now + self.interval
                if self._unanswered_since is None:
                    self._unanswered_since = now
                self.pings += 1
                return SendPing(self._socket)
            return Wait(self._next_ping if give_up is None else min(self._next_ping, give_up))
        # closed
        if not self._intent.open or self._refused:
            return Wait(None)
        if self._retry_at is not None and now < self._retry_at and not self._reopen:
            return Wait(self._retry_at)
        self._retry_at = None
        self._reopen = False
        self._socket += 1
        self._state = "opening"
        return OpenSocket(self._socket, OPEN_TIMEOUT)

    def _close(self) -> CloseSocket:
        self._state = "closing"
        return CloseSocket(self._socket)

    def handle(self, now: float, event: KeepaliveInput) -> list[KeepaliveEvent]:
        """Take one event; returns what the engine must hear, in order."""
        out: list[KeepaliveEvent] = []
        match event:
            case Intent():
                if event.open and not self._intent.open:
                    # Wanted again (signed in anew, say): a refusal of the old
                    # credentials says nothing about the new ones.
                    self._refused = False
                if event.may_ping and not self._intent.may_ping:
                    # Allowed again: ping at once, the server may be about to sweep us.
                    self._next_ping = now
                if not event.may_ping:
                    self._next_ping = None
                    self._unanswered_since = None  # nothing owed while we are not pinging
                if (
                    self._read_gate is not None
                    and event.reads is not None
                    and event.reads > self._read_gate
                ):
                    self._read_gate = None  # the status was read since the socket opened
                    if event.may_ping:
                        self._next_ping = now
                self._intent = event
            case Reopen():
                if self._state != "closed" or self._retry_at is not None:
                    self._reopen = True
            case StopKeepalive():
                self._stopping = True
            case SocketOpened(socket=number) if number == self._socket:
                self._state = "open"
                self.last_error = None
                # After a reconnect, no ping before the engine has read the status anew
                # (Intent.reads): the sweep may have struck while the socket was down. The
                # first socket follows the connect's own read closely, and a start must ping
                # soon (the sweep's clock runs from the server's last ping).
                self._read_gate = self._intent.reads if self.connects else None
                gated = self._read_gate is not None
                self._next_ping = now if self._intent.may_ping and not gated else None
                self.connects += 1
                self._unanswered_since = None
                log.info("/ws connected")
                if self._origin_refused:
                    self._origin_refused = False
                    out.append(SocketTrouble(None))
                out.append(Resync())  # what changed while we had no socket was never pushed
            case OpenFailed(socket=number, message=message, status=status) if (
                number == self._socket
            ):
                self._state = "closed"
                self.last_error = message
                if status in (401, 403):
                    log.error("%s; not retrying until the credentials change", message)
                    self._refused = True
                elif status == 200:
                    # A refused Origin (docs/libredesk.md): a person must fix the reverse
                    # proxy, so say so and try again only now and then.
                    if not self._origin_refused:
                        out.append(SocketTrouble(message))
                    self._origin_refused = True
                    delay = ORIGIN_RETRY + self.backoff.next_delay()
                    log.warning("/ws: %s; trying again in %.0f s", message, delay)
                    self._retry_at = now + delay
                else:
                    self._schedule_retry(now)
            case Received(socket=number, message=message) if number == self._socket:
                self._received(message, out)
            case SocketClosed(socket=number, code=code, reason=reason) if (
                number == self._socket and self._state != "closed"
            ):
                self._state = "closed"
                self.last_close = (code, reason)
                if (code, reason) == (1000, "kicked"):
                    # An admin edited the account (docs/libredesk.md): back with backoff and
                    # jitter; the reconnect re-reads what the edit left.
                    self.last_error = "kicked by the server (the account was edited)"
                self._next_ping = None
                self._unanswered_since = None
                if self._live:
                    self._live = False
                    out.append(PushLive(False))
                if self._intent.open and not self._stopping and not self._reopen:
                    self._schedule_retry(now)
            case _:
                pass  # news of a socket that is gone already
        return out

    def _schedule_retry(self, now: float) -> None:
        delay = self.backoff.next_delay()
        log.info("/ws: %s; reconnecting in %.1f s", self.last_error or "closed", delay)
        self._retry_at = now + delay

    def _received(self, message: str | bytes, out: list[KeepaliveEvent]) -> None:
        if message == "pong":
            self._unanswered_since = None
            if not self._live:
                self._live = True
                self.backoff.reset()
                out.append(PushLive(True))
            return
        try:
            data = json.loads(message)
        except (ValueError, RecursionError):  # junk, or nested past the parser's depth
            return
        if not isinstance(data, dict) or data.get("type") != "agent_availability_update":
            return
        body = data.get("data")
        if not isinstance(body, dict):
            return
        mine = self._intent.agent_id
        word = body.get("availability_status")
        if mine is None or body.get("agent_id") != mine or not isinstance(word, str):
            return
        try:
            server = from_wire(word, Dialect.LIBREDESK)
        except UnknownStatusError:
            # Quoted whole or not at all: the log's redaction (presence_agent/logs.py) sees
            # only what is written, and a cut could leave part of an echoed secret.
            shown = repr(word) if len(word) <= 40 else f"of {len(word)} characters"
            log.warning("/ws pushed an unknown status %s", shown)
            return
        out.append(ServerPush(server))


class Keepalive(MachineDriver[KeepaliveInput, KeepaliveRequest]):
    """The ``/ws`` worker: a :class:`KeepaliveMachine` and the socket it asks for (the loop
    is presence_agent/worker.py's :class:`~presence_agent.worker.MachineDriver`).

    Thread use: ``post`` (an :class:`~presence_agent.events.Intent` from the
    engine, :class:`~presence_agent.events.Reopen`), ``stop`` and ``join`` from
    any thread. The driver thread opens, pings and closes the socket; a reader
    thread per socket waits in ``recv`` and posts what arrives. ``emit`` is
    called on the driver thread and must only post to the engine.
    """

    machine: KeepaliveMachine

    def __init__(
        self,
        params: Callable[[], WsParams],
        emit: Callable[[EngineInput], None],
        *,
        machine: KeepaliveMachine | None = None,
        connector: Connector | None = None,
        clock: Callable[[], float] = time.monotonic,
        supervise_wait: Callable[[float], bool] | None = None,
    ) -> None:
        super().__init__(
            "keepalive",
            machine or KeepaliveMachine(),
            emit,
            clock=clock,
            supervise_wait=supervise_wait,
        )
        self._params = params
        self._connector = connector or _connect
        self._ws: Any = None

    # -- any thread -------------------------------------------------------------------

    def stop(self) -> None:
        """Close the socket and end the thread (bounded: the close waits at most 1 s)."""
        self.post(StopKeepalive())
        super().stop()

    # -- keepalive thread ---------------------------------------------------------------

    def restarted(self) -> None:
        # The socket (or the attempt to open one) went with the old loop.
        self._close_socket()
        self.feed(SocketClosed(self.machine.socket, None, "the keepalive restarted"))

    def close(self) -> None:
        self._close_socket()

    def perform(self, request: KeepaliveRequest) -> KeepaliveResult | None:
        """Do one socket operation; its outcome as an event for the machine."""
        match request:
            case OpenSocket(socket=number, timeout=timeout):
                try:
                    ws = self._connector(self._params(), timeout)
                except Exception as exc:  # noqa: BLE001 - any failure means: try again later
                    from presence_agent.wsconnect import OriginRefused

                    status = getattr(getattr(exc, "response", None), "status_code", None)
                    if isinstance(exc, OriginRefused):
                        status, message = 200, str(exc)
                    elif status in (401, 403):
                        message = (
                            f"the server refused the /ws keepalive ({status}); check the API"
                            " key, and that the account is enabled"
                        )
                    else:
                        message = first_line(exc, with_type=True)
                    return OpenFailed(number, message, status)
                self._ws = ws
                threading.Thread(
                    target=self._read, args=(number, ws), name="keepalive-reader", daemon=True
                ).start()
                return SocketOpened(number)
            case SendPing(socket=number):
                try:
                    self._ws.send("ping")
                except Exception as exc:  # noqa: BLE001 - a dead socket: its reader says so too
                    self._close_socket()
                    return SocketClosed(number, None, first_line(exc, with_type=True))
                return None
            case CloseSocket(socket=number):
                self._close_socket()
                return SocketClosed(number, None, "closed by the agent")
        raise AssertionError(f"unknown request {request!r}")

    def _read(self, number: int, ws: Any) -> None:
        """A socket's reader thread: every message, then the close, to the driver."""
        try:
            while True:
                self.post(Received(number, ws.recv()))
        except Exception as exc:  # noqa: BLE001 - the socket is gone, however it went
            frame = getattr(exc, "rcvd", None)
            code = getattr(frame, "code", None)
            if frame is not None:
                reason = getattr(frame, "reason", "")
            else:
                reason = first_line(exc, with_type=True)
            self.post(SocketClosed(number, code, str(reason)[:200]))

    def _close_socket(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                ws.close()
            except Exception:
                log.debug("closing /ws failed", exc_info=True)
