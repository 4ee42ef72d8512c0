"""The ``/ws`` keepalive that real Libredesk needs, and live sync from its pushes.

The real server marks an agent offline five minutes after the last ``ping``
on its WebSocket, whatever PUTs it got (docs/libredesk.md). So while the agent
runs and is not offline, this thread keeps ``/ws`` open and pings; and every
``agent_availability_update`` for our own agent is fed to the engine as
server truth, so a change made in the web app shows at once.

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
from presence_agent.vocab import Dialect, ServerStatus, Status, UnknownStatusError, from_wire

if TYPE_CHECKING:
    from presence_agent.app import Services
    from presence_agent.config import Config
    from presence_agent.engine import Event, Snapshot

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 30.0
#: Without a /ws, re-read the server's status this often (issue 3: at most every 60 s).
POLL_INTERVAL = 60.0


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


class Refused(Exception):
    """The server refused the upgrade (401/403): retrying will not help."""


Connector = Callable[[WsParams, float], Any]


def _connect(params: WsParams, timeout: float) -> Any:
    """Open ``/ws`` directly or through the REST client's proxy (presence_agent/wsconnect.py)."""
    from presence_agent.wsconnect import connect

    return connect(params, timeout)


class Keepalive:
    """Keeps ``/ws`` open while wanted.

    Thread use: ``on_snapshot`` on the engine thread, ``stop`` from the main
    thread, the socket on the keepalive's own thread, which posts to the
    engine only.
    """

    def __init__(
        self,
        params: Callable[[], WsParams],
        post: Callable[[Event], None],
        interval: float = DEFAULT_INTERVAL,
        *,
        connector: Connector = _connect,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._params = params
        self._post = post
        self.interval = interval
        self._connector = connector
        # Reconnects are spread over one ping interval, not one second: a server
        # restart drops every agent's socket in the same instant, and with a 1 s
        # window a fleet comes back within that second (benchmarks/fleet.py: 44 %
        # of 1000 agents in one second; with this, under 10 %). It costs nothing
        # the keepalive is for: the server still hears a ping at least every two
        # intervals, far inside its five-minute sweep, and a reconnect re-reads
        # the status (Resync) for the pushes missed meanwhile.
        self._backoff = backoff or Backoff(base=max(1.0, interval), cap=60.0)
        self._clock = clock
        self._cond = threading.Condition()
        self._wanted = False
        self._pinging = False
        self._agent_id: int | None = None
        self._refused = False
        self._stopping = False
        self._ws: Any = None
        self._thread: threading.Thread | None = None
        self._live = False
        #: Counters for doctor, tests and benchmarks.
        self.connects = 0
        self.pings = 0
        self.last_error: str | None = None

    # -- engine thread ---------------------------------------------------------------

    def on_snapshot(self, snap: Snapshot) -> None:
        wanted = snap.connected and snap.dialect is Dialect.LIBREDESK
        with self._cond:
            if snap.signed_out:
                # New credentials will come with a new Connected.
                self._refused = False
            self._agent_id = snap.agent_id
            # A ping turns offline into online on the server, so an offline
            # agent must not ping; the socket stays open for the pushes.
            # Stop as soon as offline is asked for, not when it is confirmed: a
            # ping landing between the PUT and its answer would undo it.
            self._pinging = Status.OFFLINE not in (snap.status, snap.pending)
            changed = wanted != self._wanted
            self._wanted = wanted
            if wanted and self._thread is None:
                self._thread = threading.Thread(target=self._run, name="keepalive", daemon=True)
                self._thread.start()
            if changed or not self._pinging:
                self._cond.notify_all()
        if changed and not wanted:
            self._close()

    # -- any thread ----------------------------------------------------------------------

    def is_live(self) -> bool:
        """Whether pushes are arriving now: connected, and the last ping was answered."""
        return self._live

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._close()

    def reconnect(self) -> None:
        """Open ``/ws`` afresh (after a wake: the socket may have died unnoticed in its sleep)."""
        self._close()

    def _close(self) -> None:
        ws = self._ws
        if ws is not None:
            try:
                ws.close()
            except Exception:
                log.debug("closing /ws failed", exc_info=True)

    # -- keepalive thread ----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (not self._wanted or self._refused):
                    self._cond.wait()
                if self._stopping:
                    return
            try:
                self._session()
            except Refused as exc:
                self.last_error = str(exc)
                log.error("%s; not retrying until the credentials change", exc)
                with self._cond:
                    self._refused = True
                continue
            except Exception as exc:  # noqa: BLE001 - any socket failure means: reconnect later
                self.last_error = first_line(exc, with_type=True)
                with self._cond:
                    if self._stopping or not self._wanted:
                        continue
                delay = self._backoff.next_delay()
                log.info("/ws: %s; reconnecting in %.1f s", self.last_error, delay)
                self._wait(delay)

    def _wait(self, seconds: float) -> None:
        deadline = self._clock() + seconds
        with self._cond:
            while not self._stopping and self._wanted:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)

    def _session(self) -> None:
        params = self._params()
        try:
            ws = self._connector(params, 10.0)
        except Exception as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status in (401, 403):
                raise Refused(
                    f"the server refused the /ws keepalive ({status}); check the API key, and"
                    " that the account is enabled"
                ) from None
            raise
        self._ws = ws
        self.connects += 1
        self.last_error = None
        log.info("/ws connected")
        from presence_agent.engine import Resync

        self._post(Resync())  # what changed while we had no socket was never pushed
        try:
            self._pump(ws)
        finally:
            self._live = False
            self._ws = None
            try:
                ws.close()
            except Exception:
                log.debug("closing /ws failed", exc_info=True)

    def _pump(self, ws: Any) -> None:
        interval = self.interval
        next_ping = self._clock()
        last_pong = self._clock()
        healthy = False
        while True:
            with self._cond:
                if self._stopping or not self._wanted:
                    return
                pinging = self._pinging
            now = self._clock()
            if pinging and now >= next_ping:
                ws.send("ping")
                self.pings += 1
                next_ping = now + interval
            if not pinging:
                last_pong = now  # nothing owed while we are not pinging
                next_ping = now
            if now - last_pong > 3 * interval:
                raise TimeoutError(f"no pong for {3 * interval:.0f} s")
            try:
                message = ws.recv(timeout=max(0.05, min(next_ping - now, interval)))
            except TimeoutError:
                continue
            if message == "pong":
                last_pong = self._clock()
                if not healthy:
                    healthy = True
                    self._live = True
                    self._backoff.reset()
                continue
            self._on_message(message)

    def _on_message(self, message: str | bytes) -> None:
        try:
            data = json.loads(message)
        except (ValueError, RecursionError):  # junk, or nested past the parser's depth
            return
        if not isinstance(data, dict) or data.get("type") != "agent_availability_update":
            return
        body = data.get("data")
        if not isinstance(body, dict):
            return
        with self._cond:
            mine = self._agent_id
        agent_id = body.get("agent_id")
        word = body.get("availability_status")
        if mine is None or agent_id != mine or not isinstance(word, str):
            return
        try:
            server: ServerStatus = from_wire(word, Dialect.LIBREDESK)
        except UnknownStatusError:
            log.warning("/ws pushed an unknown status %r", word[:40])
            return
        from presence_agent.engine import ServerPush

        self._post(ServerPush(server))


def attach(services: Services, factory: Any) -> Keepalive:
    """Wire the keepalive (real servers) and the polling fallback (documented ones)."""
    from presence_agent.engine import Call

    engine = services.engine
    keepalive = Keepalive(
        factory.ws_params, engine.post, services.cfg.keepalive_interval or DEFAULT_INTERVAL
    )
    polling: list[Dialect | None] = [None]

    def on_snapshot(snap: Snapshot) -> None:
        keepalive.on_snapshot(snap)
        if snap.dialect is not None and snap.dialect is not polling[0]:
            polling[0] = snap.dialect
            every = POLL_INTERVAL if snap.dialect is Dialect.DOCUMENTED else None
            engine.post(Call(lambda: engine.set_refresh_every(every)))

    engine.subscribe(on_snapshot)
    services.reporter.set_push_channel(keepalive.is_live)
    services.extra_stops.append(keepalive.stop)
    services.keepalive = keepalive
    return keepalive
