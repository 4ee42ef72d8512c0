"""A Libredesk-compatible HTTP + WebSocket server with fault injection, for tests and benchmarks.

It speaks one of the two dialects described in docs/libredesk.md:

* ``documented``: the OpenAPI page. Statuses ``available | busy | away | offline``; unknown values
  are refused with ``400``; no ``/ws`` (``404``). Idle changes never overwrite an away that was set
  manually (by ``source: user`` or by :meth:`LibredeskServer.set_status` with ``by_idle=False``).
* ``libredesk``: the real server (v2.7: ``cmd/users.go``, ``cmd/middlewares.go``,
  ``cmd/websocket.go``, ``internal/ws/client.go``, ``internal/user/queries.sql``). Statuses
  ``online | away | away_manual | away_and_reassigning | offline``; an unknown value fails with a
  ``500`` envelope; ``GET /ws`` with ``ping``/``pong``, pushes of ``agent_availability_update``,
  protocol ping frames every 2 s, an offline sweep, the silent offline->online flip of a ping,
  the ``kicked`` close on an admin's edit, the refused-origin ``200`` without upgrade, and the
  real middleware's auth answers (a malformed ``Authorization`` falls back to session auth:
  ``401`` on GET, ``403`` "CSRF token mismatch" on PUT; a disabled account is ``401``).

Every behaviour the agent relies on is described in docs/libredesk.md.

Threads: the aiohttp application runs on its own asyncio loop in one background daemon thread
(the *server thread*). Every public method may be called from any other thread (the test thread,
a benchmark driver); they never block the server thread for long and most only take a lock.
Methods that must act on the loop (``restart``, ``ws_drop_all``...) hand the work over and wait
for it. Do not call the blocking ones from inside an ``on_change`` callback, which runs on
whichever thread made the change (often the server thread).

Run it by hand::

    python tests/libredesk_server.py --dialect libredesk --port 8080 --api-key k --api-secret s

Standard library and aiohttp only, so it can be imported as ``tests.libredesk_server`` or loaded
by path.
"""

import argparse
import asyncio
import base64
import binascii
import concurrent.futures
import contextlib
import dataclasses
import datetime
import json
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from aiohttp import WSMessage, WSMsgType, web
from aiohttp.typedefs import Handler

__all__ = [
    "AVAILABILITY_PATH",
    "DOCUMENTED_STATUSES",
    "LIBREDESK_STATUSES",
    "ME_PATH",
    "WS_PATH",
    "LibredeskServer",
    "Request",
]

Dialect = Literal["documented", "libredesk"]

ME_PATH = "/api/v1/agents/me"
AVAILABILITY_PATH = "/api/v1/agents/me/availability"
WS_PATH = "/ws"

DOCUMENTED_STATUSES = frozenset({"available", "busy", "away", "offline"})
LIBREDESK_STATUSES = frozenset({"online", "away", "away_manual", "away_and_reassigning", "offline"})
#: Statuses the real server's sweep leaves alone.
_SWEEP_EXEMPT = frozenset({"offline", "away_manual", "away_and_reassigning"})
#: Statuses an ``idle`` PUT cannot overwrite on the real server.
_IDLE_PROOF = frozenset({"away_manual", "away_and_reassigning"})
#: Message types the real hub accepts from a client (``internal/ws/models``); others get
#: ``unknown message type``.
_CLIENT_MESSAGE_TYPES = frozenset({"conversation_subscribe", "list_subscribe_replace", "typing"})
#: The real hub's protocol ping period (``internal/ws/client.go``: a 2 s ticker).
PROTOCOL_PING_INTERVAL = 2.0

_T = TypeVar("_T")
_REDACTED = "<redacted>"
#: How long a graceful websocket close may wait for the client's close frame before aborting.
_WS_CLOSE_TIMEOUT = 0.5
#: How long aiohttp may wait for in-flight handlers (e.g. injected delays) when going down.
_SHUTDOWN_TIMEOUT = 0.25
_CALL_TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True)
class Request:
    """One request as the server saw it on arrival (before faults, auth or handling).

    ``headers`` keeps the names as sent; the ``Authorization`` value is replaced by
    ``"<redacted>"``. Use :meth:`header` for a case-insensitive look-up. ``answered`` is
    the HTTP status of the server's answer once it has handled the request (and applied
    what it asked), ``None`` while it is still being handled.
    """

    method: str
    path: str
    json: Any
    authorization_present: bool
    headers: dict[str, str]
    mono: float
    wall: float
    body: bytes = b""
    query: str = ""
    answered: int | None = None

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


FaultKind = Literal["status", "delay", "reset", "body", "redirect", "echo", "trickle"]
#: Where an ``echo`` fault puts what the client sent: the error envelope's ``message`` (with
#: the fault's status code), the agent's ``first_name``, or its ``availability_status``.
EchoField = Literal["message", "first_name", "status"]
#: What a ``trickle`` fault sends slowly: the status line and headers, or the body.
TricklePart = Literal["headers", "body"]
#: Terminal control sequences a hostile server adds to what it echoes: set the window title
#: (OSC 0 ... BEL), clear the screen (CSI 2 J), and a bidi override that reorders text.
TERMINAL_ESCAPES = "\x1b]0;owned-title\x07\x1b[2J\u202e"


@dataclasses.dataclass
class _Fault:
    kind: FaultKind
    prefix: str
    count: int
    status: int = 200
    seconds: float = 0.0
    retry_after: str | None = None
    body: bytes | None = None
    content_type: str = "application/json"
    location: str = ""
    headers: dict[str, str] | None = None
    field: str = "message"


def _iso(wall: float | None) -> str | None:
    if wall is None:
        return None
    moment = datetime.datetime.fromtimestamp(wall, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _envelope_error(status: int, message: str, error_type: str) -> web.Response:
    return web.json_response(
        {"status": "error", "message": message, "data": None, "error_type": error_type},
        status=status,
    )


def _error_type_for(status: int) -> str:
    if status in (401, 403):
        return "PermissionException"
    if 400 <= status < 500 and status != 429:
        return "InputException"
    return "GeneralException"


def _parse_credentials(header: str) -> tuple[str, str] | None:
    """``Basic base64(key:secret)`` or ``token key:secret``; split at the first ``:``."""
    # aiohttp hands header values over as str decoded from UTF-8 with surrogateescape; undo
    # that only to be sure non-ASCII secrets compare as the text the client meant.
    with contextlib.suppress(UnicodeError):
        header = header.encode("utf-8", "surrogateescape").decode("utf-8")
    scheme, _, rest = header.strip().partition(" ")
    rest = rest.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(rest, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
    elif scheme.lower() == "token":
        decoded = rest
    else:
        return None
    key, sep, secret = decoded.partition(":")
    if not sep or not key or not secret:
        return None
    return key, secret


def _parse_go_credentials(header: str) -> tuple[str, str] | None:
    """fastglue's ``ParseAuthHeader(AuthBasic|AuthToken)`` as Libredesk calls it.

    Prefixes are byte prefixes, case-sensitive and with no space required (``tokenk:s``
    parses); the rest is trimmed of spaces; Basic is strict standard base64; the pair splits at
    the first ``:``; both halves must be non-empty (``authenticateUser``).
    """
    with contextlib.suppress(UnicodeError):
        header = header.encode("utf-8", "surrogateescape").decode("utf-8")
    if header.startswith("Basic"):
        try:
            decoded = base64.b64decode(header[len("Basic") :].strip(" "), validate=True)
            text = decoded.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
    elif header.startswith("token"):
        text = header[len("token") :].strip(" ")
    else:
        return None
    key, sep, secret = text.partition(":")
    if not sep or not key or not secret:
        return None
    return key, secret


def _split_host(netloc: str) -> tuple[str, str]:
    """Go's ``url.URL.Host`` (no userinfo) and ``Hostname()`` (no port, no brackets), with the
    case kept: Go lower-cases only the scheme."""
    host = netloc.rpartition("@")[2]
    if host.startswith("["):
        end = host.find("]")
        return host, host[1:end] if end != -1 else host[1:]
    name, _, _ = host.partition(":")
    return host, name


def _check_sweep(period: float | None, threshold: float) -> None:
    if period is not None and not period > 0:
        raise ValueError("sweep_period must be positive or None")
    if not threshold >= 0:
        raise ValueError("sweep_threshold must be >= 0")


class LibredeskServer:
    """A fake Libredesk server on ``127.0.0.1`` in a background thread.

    Threads: ``start``/``stop``/``restart`` and every other public method are for any thread
    except the server thread itself (they would deadlock there: ``restart``, ``stop``,
    ``ws_drop_all``). Request handlers, the sweep and the websocket broadcaster run on the
    server thread. Shared state sits behind one lock; waiting helpers use a condition on it.
    """

    def __init__(
        self,
        *,
        dialect: Dialect = "documented",
        api_key: str = "key",
        api_secret: str = "secret",
        agent_id: int = 7,
        initial_status: str = "offline",
        sweep_period: float | None = None,
        sweep_threshold: float = 300.0,
        port: int = 0,
        host: str = "127.0.0.1",
        on_change: Callable[[str, str], None] | None = None,
        protocol_ping_interval: float | None = PROTOCOL_PING_INTERVAL,
        last_active_ago: float | None = 0.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``sweep_period``/``sweep_threshold``: the sweep's period (None: no sweep; the real
        server's is 60 s) and the age past which ``last_active_at`` counts as inactive (the real
        one's is 300 s); both can be changed later with :meth:`set_sweep`.

        ``protocol_ping_interval``: protocol ping frames to every socket (None: none).

        ``last_active_ago``: how long before the start the agent was last active (``0``: at
        the start); None means ``last_active_at`` is null, which the sweep takes as inactive.

        ``ssl_context``: serve HTTPS and ``wss://`` with it (``url`` says ``https://``).
        """
        if dialect not in ("documented", "libredesk"):
            raise ValueError(f"unknown dialect {dialect!r}")
        self.dialect: Dialect = dialect
        self._vocabulary = DOCUMENTED_STATUSES if dialect == "documented" else LIBREDESK_STATUSES
        if initial_status not in self._vocabulary:
            raise ValueError(f"{initial_status!r} is not a {dialect} status")
        _check_sweep(sweep_period, sweep_threshold)
        if protocol_ping_interval is not None and protocol_ping_interval <= 0:
            raise ValueError("protocol_ping_interval must be positive or None")
        self.agent_id = agent_id
        self._host = host
        self._port = port
        self._sweep_period = sweep_period if dialect == "libredesk" else None
        self._sweep_threshold = sweep_threshold
        self._on_change = on_change
        self._protocol_ping_interval = protocol_ping_interval
        self._ssl_context = ssl_context
        self._last_active_ago = last_active_ago

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._version = 0  # bumped on every recorded event, for wait_for

        # Agent state (under _lock).
        self._api_key = api_key
        self._api_secret = api_secret
        self._disabled = False
        self._status = initial_status
        self._away_by_idle = False  # documented dialect: was the current away set by idle?
        self._history: list[tuple[float, str, str]] = []
        self._broadcasts: list[tuple[int, str]] = []
        self._last_active_mono: float | None = None
        self._last_active_wall: float | None = None
        self._api_key_last_used_wall: float | None = None
        self._created_wall = time.time()
        self._start_mono: float | None = None

        # Recording and faults (under _lock).
        self._requests: list[Request] = []
        self._faults: list[_Fault] = []

        # WebSocket controls and counters (under _lock).
        self._ws_muted = False
        self._rewritten_host: str | None = None
        self._ws_refuse: int | None = None
        self._ws_connections = 0
        self._ws_pings = 0
        self._ws_refused_origins = 0
        self._ws_protocol_pings = 0
        self._ws_protocol_pongs = 0
        self._ws_kicks = 0
        self._ws_errors: list[str] = []
        self._clients: dict[web.WebSocketResponse, web.BaseRequest] = {}

        # Server thread machinery.
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None
        self._queue: asyncio.Queue[str] | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._up = False
        self._background: set[asyncio.Task[None]] = set()
        self._sweep_changed: asyncio.Event | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "LibredeskServer":
        """Start serving; returns once the port is bound. Raises if it cannot bind."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("server already started")
            if self._start_mono is None:
                self._start_mono = time.monotonic()
                if self._last_active_ago is not None:
                    self._last_active_mono = self._start_mono - self._last_active_ago
                    self._last_active_wall = time.time() - self._last_active_ago
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        thread = threading.Thread(
            target=self._thread_main, args=(ready,), name="libredesk-server", daemon=True
        )
        self._thread = thread
        thread.start()
        try:
            ready.result(timeout=_CALL_TIMEOUT)
        except BaseException:
            thread.join(timeout=_CALL_TIMEOUT)
            self._thread = None
            raise
        return self

    def stop(self) -> None:
        """Close every websocket (code 1001), stop listening and end the server thread."""
        thread = self._thread
        if thread is None:
            return
        with self._lock:
            loop, stop_event = self._loop, self._stop_requested
        if loop is not None and stop_event is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(stop_event.set)
        thread.join(timeout=_CALL_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError("libredesk test server thread did not stop")
        self._thread = None

    def restart(self, down_for: float = 0.0, *, block: bool = True) -> None:
        """Go down (websockets closed with 1012, connections refused), then up on the same port.

        With ``block=False`` this returns as soon as the server is down and it comes back up
        by itself ``down_for`` seconds later (see :meth:`is_up`). State and recordings survive.
        """
        self._call(self._go_down(1012))
        if block:
            if down_for > 0:
                time.sleep(down_for)
            self._call(self._go_up())
            return
        loop = self._require_loop()
        loop.call_soon_threadsafe(lambda: self._spawn(self._delayed_up(down_for)))

    def down(self) -> None:
        """Go down (websockets closed with 1012, connections refused) until :meth:`up`."""
        self._call(self._go_down(1012))

    def up(self) -> None:
        """Listen again on the same port (after :meth:`down` or a non-blocking restart)."""
        self._call(self._go_up())

    def __enter__(self) -> "LibredeskServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{self._host}:{self._port}"

    @property
    def ws_url(self) -> str:
        scheme = "wss" if self._ssl_context is not None else "ws"
        return f"{scheme}://{self._host}:{self._port}{WS_PATH}"

    def is_up(self) -> bool:
        """Whether it is listening now (False while a restart holds it down)."""
        with self._lock:
            return self._up

    def auth_header(self, scheme: Literal["basic", "token"] = "token") -> str:
        """A valid ``Authorization`` value for the current credentials."""
        with self._lock:
            pair = f"{self._api_key}:{self._api_secret}"
        if scheme == "basic":
            return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        return f"token {pair}"

    # ------------------------------------------------------------------ agent state

    @property
    def status(self) -> str:
        """The status word the server holds now."""
        with self._lock:
            return self._status

    @property
    def history(self) -> list[tuple[float, str, str]]:
        """Every actual change: ``(monotonic time, status, source)``.

        Source is the PUT's ``source`` (``user``/``idle``), or ``web`` (:meth:`set_status`),
        ``sweep``, ``ping`` (the silent flip) or ``admin`` (:meth:`admin_edit`).
        """
        with self._lock:
            return list(self._history)

    @property
    def last_active_at(self) -> float | None:
        """Wall-clock time of ``last_active_at``: the last text ``ping`` (or the start, see
        ``last_active_ago``), or None. Only a text ``ping`` sets it, never a PUT."""
        with self._lock:
            return self._last_active_wall

    def broadcasts(self, agent_id: int | None = None) -> list[str]:
        """The statuses pushed as ``agent_availability_update`` for ``agent_id`` (default: ours),
        in order, whether or not a socket was open to receive them."""
        wanted = self.agent_id if agent_id is None else agent_id
        with self._lock:
            return [status for who, status in self._broadcasts if who == wanted]

    def set_status(self, word: str, by_idle: bool | None = None) -> bool:
        """A change made elsewhere (the web app): recorded with source ``web`` and broadcast.

        ``by_idle`` matters only to the documented dialect's idle guard (None means manual).
        Returns whether anything changed.
        """
        if word not in self._vocabulary:
            raise ValueError(f"{word!r} is not a {self.dialect} status")
        return self._change(word, "web", by_idle=bool(by_idle))

    def set_credentials(self, api_key: str, api_secret: str) -> None:
        with self._lock:
            self._api_key = api_key
            self._api_secret = api_secret

    def disable_account(self, disabled: bool = True) -> None:
        """Disable (or enable) the account.

        Real dialect: the API-key look-up only finds enabled users, so every request with the
        key is ``401`` "Invalid credential", exactly like a wrong key (``cmd/middlewares.go``;
        ``403`` "disabled" exists only for browser sessions). Documented dialect, which says
        nothing about it: ``403``, so the agent's Forbidden path has a real server to meet.
        """
        with self._lock:
            self._disabled = disabled

    def sweep_now(self) -> bool:
        """Run one offline-sweep check at once (any dialect). Returns whether it changed."""
        return self._sweep_once()

    def set_sweep(self, period: float | None, threshold: float | None = None) -> None:
        """Change the sweep's period (None: stop sweeping) and, if given, its age threshold.

        A new period starts counting now. Real dialect only (the documented one never sweeps).
        """
        with self._lock:
            new_threshold = self._sweep_threshold if threshold is None else threshold
            _check_sweep(period, new_threshold)
            if self.dialect != "libredesk":
                raise RuntimeError("only the libredesk dialect has an offline sweep")
            self._sweep_period = period
            self._sweep_threshold = new_threshold
            loop, event = self._loop, self._sweep_changed
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    def admin_edit(self, *, status: str | None = None, enabled: bool | None = None) -> None:
        """An admin saves the agent in the admin pages (``cmd/users.go``: update agent).

        The status (if given) changes **without** a push, and every one of the agent's sockets
        is closed with code 1000, reason ``kicked`` (``internal/ws/ws.go``: ``KickUser``);
        waits until they are gone. ``enabled=False`` disables the account as well.
        """
        if status is not None and status not in self._vocabulary:
            raise ValueError(f"{status!r} is not a {self.dialect} status")
        changed = False
        with self._lock:
            if enabled is not None:
                self._disabled = not enabled
            if status is not None:
                changed = self._change_locked(status, "admin", by_idle=False, broadcast=False)
        if changed and status is not None:
            self._notify_change(status, "admin")
        self.kick()

    def kick(self) -> None:
        """Close every socket of the agent with (1000, ``kicked``), as the hub's ``KickUser``
        does after an admin's edit, a delete or a role change; waits until they are gone."""
        if self.dialect == "libredesk" and self.is_up():
            self._call(self._kick_all())

    # ------------------------------------------------------------------ recording

    def requests(self, method: str | None = None, path: str | None = None) -> list[Request]:
        with self._lock:
            return [
                r
                for r in self._requests
                if (method is None or r.method == method.upper())
                and (path is None or r.path == path)
            ]

    def _put_requests(self) -> list[Request]:
        return self.requests("PUT", AVAILABILITY_PATH)

    @staticmethod
    def _put_fields(request: Request) -> tuple[str, str]:
        body = request.json
        if not isinstance(body, dict):
            return ("", "")
        status = body.get("status")
        source = body.get("source")
        return (
            status if isinstance(status, str) else "",
            source if isinstance(source, str) and source else "user",
        )

    def puts(self) -> list[tuple[str, str]]:
        """``(status, source)`` of every availability PUT, in order (faulted ones included)."""
        return [self._put_fields(r) for r in self._put_requests()]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self._bump()

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` is true (re-checked on every event and every 50 ms)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                seen = self._version
            if predicate():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._cond:
                if self._version == seen:
                    self._cond.wait(min(remaining, 0.05))

    def wait_for_put(
        self, status: str, source: str | None = None, timeout: float = 5.0, after: int = 0
    ) -> Request | None:
        """The first availability PUT with index >= ``after`` asking for ``status`` (and
        ``source``, if given), waiting up to ``timeout`` for the server to have answered it
        (so :attr:`status` already says what it did). Index as in :meth:`puts`."""
        found: list[Request] = []

        def match() -> bool:
            for request in self._put_requests()[after:]:
                if request.answered is None:
                    continue
                got_status, got_source = self._put_fields(request)
                if got_status == status and (source is None or got_source == source):
                    found.append(request)
                    return True
            return False

        return found[0] if self.wait_for(match, timeout) else None

    # ------------------------------------------------------------------ websocket controls

    @property
    def ws_connections(self) -> int:
        """Upgrades accepted so far (all time)."""
        with self._lock:
            return self._ws_connections

    @property
    def ws_pings(self) -> int:
        """Text ``ping`` messages received so far (all time, muted ones included)."""
        with self._lock:
            return self._ws_pings

    @property
    def ws_refused_origins(self) -> int:
        """Upgrades refused for their ``Origin`` (answered ``200``, empty, no upgrade)."""
        with self._lock:
            return self._ws_refused_origins

    @property
    def ws_protocol_pings(self) -> int:
        """Protocol ping frames sent so far, to all sockets."""
        with self._lock:
            return self._ws_protocol_pings

    @property
    def ws_protocol_pongs(self) -> int:
        """Protocol pong frames received so far (they never count as activity)."""
        with self._lock:
            return self._ws_protocol_pongs

    @property
    def ws_kicks(self) -> int:
        """Sockets closed with (1000, ``kicked``) so far."""
        with self._lock:
            return self._ws_kicks

    def ws_errors(self) -> list[str]:
        """The ``data`` of every ``{"type": "error"}`` message sent to a client, in order."""
        with self._lock:
            return list(self._ws_errors)

    def ws_connected(self) -> int:
        """Websockets open now."""
        with self._lock:
            return len(self._clients)

    def ws_mute(self, muted: bool = True) -> None:
        """While muted, pings are still counted and processed but get no ``pong``."""
        with self._lock:
            self._ws_muted = muted

    def rewrite_host(self, host: str | None) -> None:
        """Act as if a reverse proxy in front rewrote every ``Host`` header to ``host`` (None:
        pass it through). The Origin check then compares with that, as behind such a proxy."""
        with self._lock:
            self._rewritten_host = host

    def ws_refuse(self, status_code: int | None) -> None:
        """Make websocket upgrades fail with ``status_code`` (None: accept again)."""
        with self._lock:
            self._ws_refuse = status_code

    def ws_echo(self, close_code: int = 4001) -> None:
        """A hostile hub on every websocket: a junk frame and a push whose status word quote
        what the client sent (see :meth:`inject_echo`), then a close with ``close_code`` whose
        reason quotes the ``Authorization`` value as received, its decoded ``key:secret`` and
        the secret (cut to the 123 bytes a close reason may hold)."""
        self._call(self._echo_all(close_code))

    def ws_drop_all(self) -> None:
        """Abort every websocket's TCP connection (no close frame); waits until they are gone."""
        self._call(self._drop_all())

    def broadcast_other_agent(self, agent_id: int, status: str) -> None:
        """Push an ``agent_availability_update`` for another agent (clients must ignore it)."""
        with self._lock:
            self._broadcasts.append((agent_id, status))
            self._emit(self._update_message(agent_id, status))

    def ws_send_raw(self, text: str) -> None:
        """Push an arbitrary text frame to every connected websocket."""
        self._emit(text)

    # ------------------------------------------------------------------ faults

    def inject_status(
        self,
        prefix: str,
        status: int = 503,
        count: int = 1,
        retry_after: float | str | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> None:
        """Answer the next ``count`` requests under ``prefix`` with ``status`` (error envelope
        unless ``body`` is given), with ``Retry-After`` if given."""
        if isinstance(retry_after, float) and retry_after.is_integer():
            retry_after = int(retry_after)
        self._add_fault(
            _Fault(
                "status",
                prefix,
                count,
                status=status,
                retry_after=None if retry_after is None else str(retry_after),
                body=body,
                content_type=content_type,
            )
        )

    def inject_delay(self, prefix: str, seconds: float, count: int = 1) -> None:
        """Sleep ``seconds`` before handling the next ``count`` requests under ``prefix``."""
        self._add_fault(_Fault("delay", prefix, count, seconds=seconds))

    def inject_reset(self, prefix: str, count: int = 1) -> None:
        """Reset (RST) the connection of the next ``count`` requests, without any answer."""
        self._add_fault(_Fault("reset", prefix, count))

    def inject_body(
        self,
        prefix: str,
        body: bytes,
        status: int = 200,
        content_type: str = "application/json",
        count: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``count`` requests under ``prefix`` with exactly ``body`` (and
        ``headers``, e.g. a ``Content-Encoding`` it is not in)."""
        self._add_fault(
            _Fault(
                "body",
                prefix,
                count,
                status=status,
                body=body,
                content_type=content_type,
                headers=headers,
            )
        )

    def inject_echo(
        self, prefix: str, field: EchoField = "message", status: int = 500, count: int = 1
    ) -> None:
        """Answer the next ``count`` requests under ``prefix`` with what the client sent, the
        way a hostile (or debugging) server might: the ``Authorization`` value as received,
        its decoded ``key:secret``, the secret this server expects (raw and URL-encoded),
        and :data:`TERMINAL_ESCAPES`, all in ``field``. ``message`` answers ``status``
        (an error envelope); ``first_name`` and ``status`` answer 200 with the agent."""
        if field != "message":
            status = 200
        self._add_fault(_Fault("echo", prefix, count, status=status, field=field))

    def inject_trickle(
        self,
        prefix: str,
        part: TricklePart = "body",
        interval: float = 2.0,
        count: int = 1,
    ) -> None:
        """Answer the next ``count`` requests under ``prefix`` one byte every ``interval``
        seconds: the status line and headers (``part="headers"``), or after prompt headers
        the body. It goes on until the client hangs up (or the server stops)."""
        self._add_fault(_Fault("trickle", prefix, count, seconds=interval, location=part))

    def inject_redirect(
        self, prefix: str, location: str, status: int = 302, count: int = 1
    ) -> None:
        self._add_fault(_Fault("redirect", prefix, count, status=status, location=location))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending_faults(self) -> int:
        """How many faulted answers are still to come."""
        with self._lock:
            return sum(f.count for f in self._faults)

    def _add_fault(self, fault: _Fault) -> None:
        if fault.count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if path.startswith(fault.prefix):
                    fault.count -= 1
                    if fault.count <= 0:
                        del self._faults[index]
                    return dataclasses.replace(fault)
        return None

    # ------------------------------------------------------------------ internals: state

    def _bump(self) -> None:
        """Caller holds the lock."""
        self._version += 1
        self._cond.notify_all()

    def _change(self, new: str, source: str, *, by_idle: bool) -> bool:
        """Set the status; record, broadcast and notify if it changed."""
        with self._lock:
            changed = self._change_locked(new, source, by_idle=by_idle)
        if changed:
            self._notify_change(new, source)
        return changed

    def _change_locked(
        self, new: str, source: str, *, by_idle: bool, broadcast: bool = True
    ) -> bool:
        """Caller holds the lock, and calls :meth:`_notify_change` after releasing it."""
        if new == self._status:
            if new == "away" and source == "web":
                self._away_by_idle = by_idle
            return False
        self._status = new
        self._away_by_idle = by_idle
        self._history.append((time.monotonic(), new, source))
        if broadcast:
            self._broadcasts.append((self.agent_id, new))
            self._emit(self._update_message(self.agent_id, new))
        self._bump()
        return True

    def _notify_change(self, new: str, source: str) -> None:
        if self._on_change is not None:
            self._on_change(new, source)

    @staticmethod
    def _update_message(agent_id: int, status: str) -> str:
        return json.dumps(
            {
                "type": "agent_availability_update",
                "data": {"agent_id": agent_id, "availability_status": status},
            }
        )

    def _emit(self, text: str) -> None:
        """Queue a text frame for every websocket. Under the lock, so pushes keep change order."""
        with self._lock:
            loop = self._loop
            if loop is None:
                return
            with contextlib.suppress(RuntimeError):  # loop closing
                loop.call_soon_threadsafe(self._enqueue, text)

    def _enqueue(self, text: str) -> None:
        if self._queue is not None:
            self._queue.put_nowait(text)

    def _sweep_once(self) -> bool:
        with self._lock:
            if self._status in _SWEEP_EXEMPT:
                return False
            # queries.sql, update-inactive-offline: a null last_active_at is inactive too.
            last = self._last_active_mono
            if last is not None and time.monotonic() - last <= self._sweep_threshold:
                return False
            changed = self._change_locked("offline", "sweep", by_idle=False)
        if changed:
            self._notify_change("offline", "sweep")
        return changed

    def _agent(self) -> dict[str, Any]:
        with self._lock:
            status = self._status
            last_active = self._last_active_wall
            key = self._api_key
            key_used = self._api_key_last_used_wall
            enabled = not self._disabled
        created = _iso(self._created_wall)
        return {
            "id": self.agent_id,
            "created_at": created,
            "updated_at": created,
            "first_name": "Test",
            "last_name": "Agent",
            "email": "test.agent@example.com",
            "type": "agent",
            "availability_status": status,
            "phone_number_country_code": None,
            "phone_number": None,
            "avatar_url": None,
            "enabled": enabled,
            "last_active_at": _iso(last_active),
            "last_login_at": None,
            "roles": ["Agent"],
            "permissions": ["conversations:read", "conversations:write"],
            "custom_attributes": {},
            "teams": [{"id": 1, "name": "Support Team", "emoji": None}],
            "api_key": key,
            "api_key_last_used_at": _iso(key_used),
        }

    # ------------------------------------------------------------------ internals: threading

    def _thread_main(self, ready: "concurrent.futures.Future[None]") -> None:
        asyncio.run(self._main(ready))

    async def _main(self, ready: "concurrent.futures.Future[None]") -> None:
        stop_event = asyncio.Event()
        self._queue = asyncio.Queue()
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._stop_requested = stop_event
        try:
            try:
                await self._go_up()
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                ready.set_exception(exc)
                return
            self._spawn(self._broadcaster())
            if self.dialect == "libredesk":
                self._sweep_changed = asyncio.Event()
                self._spawn(self._sweeper(self._sweep_changed))
            ready.set_result(None)
            await stop_event.wait()
        finally:
            for task in list(self._background):
                task.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)
            await self._go_down(1001)
            with self._lock:
                self._loop = None
                self._stop_requested = None
            self._queue = None

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Server thread: run ``coro`` as a task that stop() cancels."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _require_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            loop = self._loop
        if loop is None:
            raise RuntimeError("server is not running")
        if self._thread is threading.current_thread():
            raise RuntimeError("this method cannot be called from the server thread")
        return loop

    def _call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        try:
            loop = self._require_loop()
        except RuntimeError:
            coro.close()
            raise
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=_CALL_TIMEOUT)

    async def _delayed_up(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._go_up()

    async def _go_up(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(middlewares=[self._mw_record, self._mw_faults, self._mw_auth])
        app.router.add_get(ME_PATH, self._handle_me)
        app.router.add_put(AVAILABILITY_PATH, self._handle_availability)
        if self.dialect == "libredesk":
            app.router.add_get(WS_PATH, self._handle_ws)
        runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT
        )
        await runner.setup()
        site = web.TCPSite(
            runner, self._host, self._port, reuse_address=True, ssl_context=self._ssl_context
        )
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner, self._site = runner, site
        self._port = int(runner.addresses[0][1])
        with self._lock:
            self._up = True
            self._bump()

    async def _go_down(self, close_code: int) -> None:
        runner, site = self._runner, self._site
        if runner is None:
            return
        self._runner = self._site = None
        with self._lock:
            self._up = False
            clients = list(self._clients)
            self._bump()
        if site is not None:
            await site.stop()  # refuse new connections first
        await asyncio.gather(*(self._close_ws(ws, close_code) for ws in clients))
        await runner.cleanup()

    async def _close_ws(self, ws: web.WebSocketResponse, code: int) -> None:
        try:
            await asyncio.wait_for(
                ws.close(code=code, message=b"server going down"), _WS_CLOSE_TIMEOUT
            )
        except (asyncio.TimeoutError, ConnectionError, RuntimeError):
            with self._lock:
                request = self._clients.get(ws)
            if request is not None and request.transport is not None:
                request.transport.abort()

    async def _drop_all(self) -> None:
        with self._lock:
            transports = [r.transport for r in self._clients.values()]
        for transport in transports:
            if transport is not None:
                transport.abort()
        deadline = time.monotonic() + 2.0
        while self.ws_connected() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def _echo_all(self, close_code: int) -> None:
        with self._lock:
            clients = list(self._clients.items())
        agent_id = self._agent()["id"]
        for ws, request in clients:
            text = self._echo_text(request)
            push = {"agent_id": agent_id, "availability_status": text}
            await self._send(ws, f"junk {text}")
            await self._send(ws, json.dumps({"type": "agent_availability_update", "data": push}))
            header = request.headers.get("Authorization", "")
            _, _, value = header.partition(" ")
            with self._lock:
                pair = f"{self._api_key}:{self._api_secret}"
                secret = self._api_secret
            reason = f"{value} {pair} {secret}".encode()[:123].decode("utf-8", "ignore")
            with contextlib.suppress(ConnectionError, RuntimeError, asyncio.TimeoutError):
                await asyncio.wait_for(
                    ws.close(code=close_code, message=reason.encode()), _WS_CLOSE_TIMEOUT
                )

    async def _kick_all(self) -> None:
        with self._lock:
            clients = list(self._clients)
        await asyncio.gather(*(self._kick(ws) for ws in clients))
        deadline = time.monotonic() + 2.0
        while self.ws_connected() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def _kick(self, ws: web.WebSocketResponse) -> None:
        """The hub writes the close frame and drops the connection at once, without waiting
        for the client's close frame (``KickUser``: ``WriteControl`` then ``Close``)."""
        with self._lock:
            request = self._clients.get(ws)
            self._ws_kicks += 1
            self._bump()
        with contextlib.suppress(ConnectionError, RuntimeError, asyncio.TimeoutError):
            await asyncio.wait_for(ws.close(code=1000, message=b"kicked"), _WS_CLOSE_TIMEOUT)
        if request is not None and request.transport is not None:
            request.transport.close()

    async def _protocol_pinger(self, ws: web.WebSocketResponse, period: float) -> None:
        """Server thread: a ping frame every ``period`` (``Client.Serve``'s heartbeat); a
        failed write ends the socket, as there."""
        while True:
            await asyncio.sleep(period)
            if ws.closed:
                return
            try:
                await ws.ping()
            except (ConnectionError, RuntimeError):
                return
            with self._lock:
                self._ws_protocol_pings += 1
                self._bump()

    async def _broadcaster(self) -> None:
        queue = self._queue
        assert queue is not None
        while True:
            text = await queue.get()
            with self._lock:
                clients = list(self._clients)
            await asyncio.gather(*(self._send(ws, text) for ws in clients))

    @staticmethod
    async def _send(ws: web.WebSocketResponse, text: str) -> None:
        if ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(text)

    async def _sweeper(self, changed: asyncio.Event) -> None:
        """Server thread: a ticker like ``MonitorUserAvailability``; a new period restarts it."""
        while True:
            with self._lock:
                period = self._sweep_period
            changed.clear()
            if period is None:
                await changed.wait()
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(changed.wait(), period)
                continue  # the period changed: start counting again
            if self.is_up():
                self._sweep_once()

    # ------------------------------------------------------------------ internals: HTTP

    @web.middleware
    async def _mw_record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        mono, wall = time.monotonic(), time.time()
        body = b""
        if request.body_exists:
            try:
                body = await request.read()
            except web.HTTPException:  # e.g. too large: record what we know
                body = b""
        parsed: Any = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            headers[name] = _REDACTED if name.lower() == "authorization" else value
        recorded = Request(
            method=request.method,
            path=request.path,
            json=parsed,
            authorization_present="Authorization" in request.headers,
            headers=headers,
            mono=mono,
            wall=wall,
            body=body,
            query=request.query_string,
        )
        with self._lock:
            self._requests.append(recorded)
            self._bump()
        status = 0  # no answer: the connection went first
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            # Marked answered only now, after the handler changed the state: whoever waits
            # for this request (wait_for_put) then sees what it did, not the state before.
            with self._lock:
                for index in range(len(self._requests) - 1, -1, -1):
                    if self._requests[index] is recorded:
                        self._requests[index] = dataclasses.replace(recorded, answered=status)
                        break
                self._bump()

    @web.middleware
    async def _mw_faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        fault = self._take_fault(request.path)
        if fault is None:
            return await handler(request)
        if fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            return await handler(request)
        if fault.kind == "reset":
            transport = request.transport
            if transport is not None:
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                transport.abort()
            return web.Response(status=500)  # never reaches the client
        if fault.kind == "redirect":
            return web.Response(status=fault.status, headers={"Location": fault.location})
        if fault.kind == "echo":
            return self._echo(request, fault)
        if fault.kind == "trickle":
            return await self._trickle(request, fault)
        if fault.kind == "status" and fault.body is None:
            response = _envelope_error(
                fault.status, f"injected fault: HTTP {fault.status}", _error_type_for(fault.status)
            )
        else:
            response = web.Response(
                status=fault.status,
                body=fault.body or b"",
                headers={"Content-Type": fault.content_type, **(fault.headers or {})},
            )
        if fault.retry_after is not None:
            response.headers["Retry-After"] = fault.retry_after
        return response

    def _echo_text(self, request: web.BaseRequest) -> str:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        decoded = value
        if scheme.lower() == "basic":
            with contextlib.suppress(binascii.Error, ValueError):
                decoded = base64.b64decode(value, validate=True).decode("utf-8", "replace")
        with self._lock:
            secret = self._api_secret
        from urllib.parse import quote

        return (
            f"denied for {header} (credentials {decoded}; secret {secret},"
            f" {quote(secret, safe='')}){TERMINAL_ESCAPES}"
        )

    def _echo(self, request: web.Request, fault: _Fault) -> web.Response:
        text = self._echo_text(request)
        if fault.field == "message":
            return _envelope_error(fault.status, text, _error_type_for(fault.status))
        agent = self._agent()
        if fault.field == "first_name":
            agent["first_name"] = text
        else:
            agent["availability_status"] = text
        return web.json_response({"status": "success", "data": agent})

    async def _trickle(self, request: web.Request, fault: _Fault) -> web.StreamResponse:
        """One byte every ``fault.seconds`` until the client hangs up."""
        body = json.dumps({"status": "success", "data": self._agent()}).encode()
        if fault.location == "body":
            response = web.StreamResponse(
                status=200,
                headers={"Content-Type": "application/json", "Content-Length": str(len(body))},
            )
            await response.prepare(request)
            with contextlib.suppress(ConnectionError, RuntimeError):
                for index in range(len(body)):
                    await response.write(body[index : index + 1])
                    await asyncio.sleep(fault.seconds)
            return response
        transport = request.transport
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + b"X-Slow: " + b"." * 4096
        for index in range(len(head)):
            if transport is None or transport.is_closing():
                break
            transport.write(head[index : index + 1])
            await asyncio.sleep(fault.seconds)
        if transport is not None:
            transport.abort()
        return web.Response(status=500)  # never reaches the client

    @web.middleware
    async def _mw_auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        guarded = request.path.startswith("/api/") or request.path == WS_PATH
        if not guarded or request.match_info.http_exception is not None:
            return await handler(request)
        header = request.headers.get("Authorization")
        if self.dialect == "libredesk":
            refused = self._libredesk_auth(request.method, header)
            if refused is not None:
                return refused
            return await handler(request)
        credentials = _parse_credentials(header) if header is not None else None
        with self._lock:
            valid = credentials == (self._api_key, self._api_secret)
            disabled = self._disabled
            if valid:
                self._api_key_last_used_wall = time.time()
        if not valid:
            message = "Invalid API key or secret" if header else "Missing Authorization header"
            return _envelope_error(401, message, "PermissionException")
        if disabled:
            return _envelope_error(403, "Account is disabled", "PermissionException")
        return await handler(request)

    def _libredesk_auth(self, method: str, header: str | None) -> web.Response | None:
        """``cmd/middlewares.go`` ``authenticateUser`` + ``auth``: the answer, or None to go on.

        A header that parses as an API key pair is checked against the key (only enabled users
        are found): ``401`` "Invalid credential", error type GeneralException (``auth`` sends
        every non-permission error as 401 General). Anything else (no header, another or
        lower-case scheme, bad base64, no ``:``, an empty half) falls back to session auth,
        which this client never has: a state-changing method fails the CSRF check first
        (``403`` PermissionException), a GET fails the session (``401``).
        """
        credentials = _parse_go_credentials(header) if header is not None else None
        if credentials is None:
            if method in ("POST", "PUT", "DELETE"):
                return _envelope_error(403, "CSRF token mismatch", "PermissionException")
            return _envelope_error(401, "Invalid or expired session", "GeneralException")
        with self._lock:
            valid = credentials == (self._api_key, self._api_secret) and not self._disabled
            if valid:
                self._api_key_last_used_wall = time.time()
        if not valid:
            return _envelope_error(401, "Invalid credential", "GeneralException")
        return None

    async def _handle_me(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "success", "data": self._agent()})

    async def _handle_availability(self, request: web.Request) -> web.StreamResponse:
        try:
            payload = json.loads(await request.read())
        except ValueError:
            return _envelope_error(400, "Error parsing request JSON.", "InputException")
        if not isinstance(payload, dict):
            return _envelope_error(400, "Error parsing request JSON.", "InputException")
        status = payload.get("status")
        source = payload.get("source")
        if status is None:
            status = ""
        if source is None or source == "":
            source = "user"
        if not isinstance(status, str) or not isinstance(source, str):
            return _envelope_error(400, "Error parsing request JSON.", "InputException")
        if self.dialect == "documented" and (
            status not in DOCUMENTED_STATUSES or source not in ("user", "idle")
        ):
            return _envelope_error(400, f"Invalid status {status!r}", "InputException")
        with self._lock:
            current = self._status
            if status == current:
                return self._agent_response()
            if source == "idle" and self._idle_blocked(current):
                return self._agent_response()
            if status not in self._vocabulary:  # libredesk: the enum cast fails in Postgres
                return _envelope_error(500, "Error updating user availability.", "GeneralException")
            # Same lock: nothing can slip in between the checks and the change.
            changed = self._change_locked(status, source, by_idle=source == "idle")
            response = self._agent_response()
        if changed:
            self._notify_change(status, source)
        return response

    def _idle_blocked(self, current: str) -> bool:
        if self.dialect == "libredesk":
            return current in _IDLE_PROOF
        return current == "away" and not self._away_by_idle

    def _agent_response(self) -> web.Response:
        return web.json_response({"status": "success", "data": self._agent()})

    # ------------------------------------------------------------------ internals: websocket

    def _origin_allowed(self, request: web.Request) -> bool:
        """``cmd/websocket.go`` ``agentUpgrader.CheckOrigin``, rule for rule.

        An ``Origin`` is required and must parse with a host; its host name exactly
        ``localhost`` lets it in whatever the scheme or port; otherwise the scheme must be
        ``https`` and its host, port included, equal the request's ``Host`` (case-insensitive).
        ``127.0.0.1`` is not ``localhost``.
        """
        origin = request.headers.get("Origin", "")
        if not origin:
            return False
        try:
            parts = urlsplit(origin)
        except ValueError:
            return False
        host, hostname = _split_host(parts.netloc)
        if not host:
            return False
        is_localhost = hostname == "localhost"
        if parts.scheme != "https" and not is_localhost:
            return False
        with self._lock:
            seen_host = self._rewritten_host or request.host
        return host.lower() == seen_host.lower() or is_localhost

    async def _handle_ws(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            refuse = self._ws_refuse
        if refuse is not None:
            return _envelope_error(refuse, "websocket refused (injected)", _error_type_for(refuse))
        # Every failed handshake (not an upgrade, a bad version, a refused origin) goes to the
        # upgrader's Error hook, which only prints: the answer stays a 200 with no body and
        # the connection is never upgraded.
        ws = web.WebSocketResponse(autoping=False, heartbeat=None, timeout=_WS_CLOSE_TIMEOUT)
        if not ws.can_prepare(request).ok:
            return web.Response(status=200)
        if not self._origin_allowed(request):
            with self._lock:
                self._ws_refused_origins += 1
                self._bump()
            return web.Response(status=200)
        await ws.prepare(request)
        with self._lock:
            self._clients[ws] = request
            self._ws_connections += 1
            period = self._protocol_ping_interval
            self._bump()
        pinger: asyncio.Task[None] | None = None
        if period is not None:
            pinger = asyncio.get_running_loop().create_task(self._protocol_pinger(ws, period))
        try:
            async for message in ws:
                if not await self._on_ws_message(ws, request, message):
                    break
        finally:
            if pinger is not None:
                pinger.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pinger
            with self._lock:
                self._clients.pop(ws, None)
                self._bump()
        return ws

    async def _on_ws_message(
        self, ws: web.WebSocketResponse, request: web.Request, message: WSMessage
    ) -> bool:
        """``internal/ws/client.go`` ``Listen``: handle one frame; False ends the socket."""
        if message.type == WSMsgType.PING:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.pong(message.data)
            return True
        if message.type == WSMsgType.PONG:
            with self._lock:
                self._ws_protocol_pongs += 1
                self._bump()
            return True
        if message.type != WSMsgType.TEXT:
            # A binary frame: the hub removes the client and drops the connection, no close
            # frame.
            if request.transport is not None:
                request.transport.abort()
            return False
        if message.data == "ping":
            if not self._on_ping():
                return True
            return await self._send_text(ws, "pong")
        error = _client_message_error(message.data)
        if error is None:
            return True
        with self._lock:
            self._ws_errors.append(error)
            self._bump()
        return await self._send_text(ws, json.dumps({"type": "error", "data": error}))

    @staticmethod
    async def _send_text(ws: web.WebSocketResponse, text: str) -> bool:
        try:
            await ws.send_str(text)
        except (ConnectionError, RuntimeError):
            return False
        return True

    def _on_ping(self) -> bool:
        """Record a ping; returns whether to answer it."""
        with self._lock:
            self._ws_pings += 1
            self._last_active_mono = time.monotonic()
            self._last_active_wall = time.time()
            muted = self._ws_muted
            self._bump()
            # queries.sql, update-last-active-at: offline becomes online in the same UPDATE,
            # and nothing broadcasts it (the hub only answers pong).
            changed = self._status == "offline" and self._change_locked(
                "online", "ping", by_idle=False, broadcast=False
            )
        if changed:
            self._notify_change("online", "ping")
        return not muted

    # ------------------------------------------------------------------ debugging

    def __repr__(self) -> str:
        return f"<LibredeskServer {self.dialect} {self.url} status={self.status!r}>"


def _client_message_error(text: str) -> str | None:
    """What the hub answers a text frame other than ``ping`` (None: accepted, no answer).

    Go unmarshals it into ``{type string, data any}``: anything but a JSON object (or
    ``null``) with a string ``type`` is ``invalid message format``; a type the hub does not
    handle is ``unknown message type``.
    """
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return "invalid message format"
    if data is None:
        return "unknown message type"
    if not isinstance(data, dict):
        return "invalid message format"
    kind = data.get("type", "")
    if kind is None:
        kind = ""
    if not isinstance(kind, str):
        return "invalid message format"
    return None if kind in _CLIENT_MESSAGE_TYPES else "unknown message type"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a fake Libredesk until Ctrl-C.")
    parser.add_argument("--dialect", choices=["documented", "libredesk"], default="libredesk")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--api-key", default="key")
    parser.add_argument("--api-secret", default="secret")
    parser.add_argument("--agent-id", type=int, default=7)
    parser.add_argument("--initial-status", default="offline")
    parser.add_argument("--sweep-period", type=float, default=None)
    parser.add_argument("--sweep-threshold", type=float, default=300.0)
    args = parser.parse_args(argv)

    def report(status: str, source: str) -> None:
        stamp = datetime.datetime.now().strftime("%H:%M:%S")
        print(f"{stamp} status -> {status} ({source})", flush=True)

    server = LibredeskServer(
        dialect=args.dialect,
        api_key=args.api_key,
        api_secret=args.api_secret,
        agent_id=args.agent_id,
        initial_status=args.initial_status,
        sweep_period=args.sweep_period,
        sweep_threshold=args.sweep_threshold,
        port=args.port,
        host=args.host,
        on_change=report,
    )
    with server:
        print(f"Libredesk test server ({args.dialect}) at {server.url}", flush=True)
        print(f"status: {server.status}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
