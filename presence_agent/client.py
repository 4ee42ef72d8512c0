"""The Libredesk REST client, on httpx.

One :class:`LibredeskClient` per set of credentials. It is not thread-safe
by design: only the reporter thread (and the one-shot CLI commands) use it.

Errors come out typed, and their text never holds the secret or the
Authorization header: messages are built here from status codes and the
server's own ``message``, never from the request; and every text that left
the server (a ``message``, a status word, a name) passes the one redaction
point (presence_agent/redaction.py) before it leaves this module, since a
hostile server may echo the credentials or send terminal escapes.
"""

from __future__ import annotations

import email.utils
import json
import math
import ssl
import time
import zlib
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import unquote, urlsplit

import httpcore
import httpx

from presence_agent import PROJECT_URL, __version__
from presence_agent.errortext import first_line
from presence_agent.events import Agent, Desired
from presence_agent.i18n import ENGLISH, M_, Message, Translator, verbatim
from presence_agent.proxy import Proxy, ProxyError, proxy_for
from presence_agent.redaction import Redactor
from presence_agent.vocab import (
    AuthScheme,
    Dialect,
    ServerStatus,
    UnknownStatusError,
    dialect_of,
    from_wire,
    to_wire,
)

USER_AGENT = f"presence-agent/{__version__} (+{PROJECT_URL})"
ME_PATH = "api/v1/agents/me"
AVAILABILITY_PATH = "api/v1/agents/me/availability"
#: No answer of this API is anywhere near this; a larger one is not Libredesk.
MAX_BODY = 1 << 20
#: Retry-After beyond this is treated as this, so a bad header cannot park us for days.
MAX_RETRY_AFTER = 3600.0
#: Every request, connect, headers and body together, ends within this many seconds unless
#: the caller gives its own budget: a server trickling a byte every few seconds would keep
#: each read within its timeout, and a command (or the reporter) waiting for ever.
TOTAL_TIMEOUT = 15.0


# -- errors ------------------------------------------------------------------


class LibredeskError(Exception):
    """Base of every error talking to the server. ``str()`` is fit for a person, in English
    (what logs write); :meth:`render` is the same words in a person's language.

    Both pass the client's redaction (:meth:`LibredeskClient._redacting`): the English when
    raised, the translated text when rendered, since its parameters (a server's message, a
    status word) came from outside.
    """

    retryable = False

    def __init__(self, message: Message | str, *args: object) -> None:
        self.message = message if isinstance(message, Message) else verbatim(message)
        self.clean: Callable[[str], str] = _as_is
        super().__init__(str(self.message), *args)

    def render(self, tr: Translator = ENGLISH) -> str:
        """The error in ``tr``'s language, cleaned like ``str()``."""
        if tr.language == "en":
            return str(self)
        return self.clean(self.message.render(tr))


def _as_is(text: str) -> str:
    return text


class Unauthorized(LibredeskError):
    """401: the API key or secret is wrong (or was revoked)."""


class Forbidden(LibredeskError):
    """403: the account is disabled, or the server refused us."""


class RateLimited(LibredeskError):
    """429: too many requests; come back after ``retry_after`` seconds."""

    retryable = True

    def __init__(self, message: Message | str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerError(LibredeskError):
    """5xx: the server failed. ``retry_after`` is set when it said when to come back (503)."""

    retryable = True

    def __init__(
        self, message: Message | str, status_code: int, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after


class Unreachable(LibredeskError):
    """No answer: refused, reset, DNS, TLS or a timeout."""

    retryable = True


class NotLibredesk(LibredeskError):
    """An answer came, but not one Libredesk gives (404, HTML, a redirect, junk).

    Retryable, because a captive portal or a proxy's error page looks like
    this too and goes away by itself.
    """

    retryable = True


class Rejected(LibredeskError):
    """Another 4xx: the server understood and said no. Trying again will not help."""


class UnexpectedStatus(LibredeskError):
    """The server holds a status word neither dialect knows."""


# -- auth ------------------------------------------------------------------------


class TokenAuth(httpx.Auth):
    """``Authorization: token key:secret`` (Libredesk's own scheme)."""

    def __init__(self, api_key: str, secret: str) -> None:
        self._value = f"token {api_key}:{secret}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # Item assignment encodes as UTF-8 (the constructor would insist on
        # ASCII and quote the value back in its error), so a non-ASCII secret
        # is sent as UTF-8 bytes, as the server reads it.
        request.headers["Authorization"] = self._value
        yield request

    def __repr__(self) -> str:
        return "TokenAuth(<redacted>)"


def make_auth(scheme: AuthScheme, api_key: str, secret: str) -> httpx.Auth:
    if scheme == "basic":
        return httpx.BasicAuth(api_key, secret)
    return TokenAuth(api_key, secret)


def authorization_header(scheme: AuthScheme, api_key: str, secret: str) -> bytes:
    """The raw header value, for the WebSocket handshake which is not made by httpx."""
    if scheme == "basic":
        import base64

        return b"Basic " + base64.b64encode(f"{api_key}:{secret}".encode())
    return b"token " + f"{api_key}:{secret}".encode()


class BadCABundle(LibredeskError):
    """The configured CA bundle cannot be used (it changed after the config was read)."""


def make_ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """TLS always verified; ``ca_bundle`` adds a company CA instead of the system store.

    The config loader has checked the file (presence_agent/urls.py ca_bundle_problem);
    one that broke since is a :class:`BadCABundle` naming it, like any server error."""
    if ca_bundle:
        try:
            return ssl.create_default_context(cafile=ca_bundle)
        except OSError:  # ssl.SSLError is one
            from presence_agent.urls import ca_bundle_problem

            problem = str(ca_bundle_problem(ca_bundle) or f"{ca_bundle[:300]!r} cannot be used")
            raise BadCABundle(f"the CA bundle (ca_bundle) {problem}") from None
    return ssl.create_default_context()


# -- the total deadline ----------------------------------------------------------------


class Budget:
    """The deadline of the request in flight, read by :class:`DeadlineBackend`.

    httpx's timeouts bound each read, connect and write on its own; this bounds
    them together. Thread use: the client's one thread.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.deadline: float | None = None

    @contextmanager
    def running(self, seconds: float) -> Iterator[None]:
        self.deadline = self._clock() + seconds
        try:
            yield
        finally:
            self.deadline = None

    def clamp(self, timeout: float | None, expired: type[Exception]) -> float | None:
        """``timeout`` cut to what is left; ``expired`` raised when nothing is."""
        if self.deadline is None:
            return timeout
        left = self.deadline - self._clock()
        if left <= 0:
            raise expired("the request ran out of time")
        return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, budget: Budget) -> None:
        self._inner = inner
        self._budget = budget

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._budget.clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._budget.clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = self._budget.clamp(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, left), self._budget
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network, with every socket operation cut to the :class:`Budget`."""

    def __init__(self, budget: Budget, inner: httpcore.NetworkBackend | None = None) -> None:
        self._budget = budget
        self._inner = inner if inner is not None else httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        left = self._budget.clamp(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, left, local_address, socket_options)
        return _DeadlineStream(stream, self._budget)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        left = self._budget.clamp(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._inner.connect_unix_socket(path, left, socket_options), self._budget
        )

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _transport(
    verify: ssl.SSLContext | bool, proxy: Proxy | None, budget: Budget
) -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(
        verify=verify, proxy=proxy.url if proxy is not None else None, trust_env=False
    )
    # httpx takes no network backend; its pool (a ConnectionPool, or an HTTPProxy for a
    # proxy) reads this attribute for every new connection (httpcore 1.0, pinned in
    # requirements/). tests/test_client.py fails if that ever changes.
    pool = transport._pool
    if not hasattr(pool, "_network_backend"):
        raise RuntimeError("httpcore changed: no network backend to bound requests with")
    pool._network_backend = DeadlineBackend(budget)
    return transport


# -- the client ------------------------------------------------------------------


class LibredeskClient:
    """Talks to one Libredesk server as one agent.

    Thread use: one thread at a time (the reporter, or a CLI command).
    """

    def __init__(
        self,
        server: str,
        api_key: str,
        secret: str,
        *,
        auth: AuthScheme = "token",
        dialect: Dialect | None = None,
        transport: httpx.BaseTransport | None = None,
        verify: ssl.SSLContext | bool = True,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        total_timeout: float = TOTAL_TIMEOUT,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``environ`` replaces the process environment for the proxy choice (tests).

        ``total_timeout`` bounds each request whole (:data:`TOTAL_TIMEOUT`); a method's
        ``timeout`` replaces it for that request. An injected ``transport`` is not bounded
        by it (it has no sockets); ``clock`` is what the bound is measured with."""
        self.total_timeout = total_timeout
        self._budget = Budget(clock)
        self.server = server.rstrip("/")
        self.dialect = dialect
        self.agent_id: int | None = None
        #: Every text from the server or the network goes through it (module docstring).
        self.redactor = Redactor.for_credentials(api_key, secret)
        #: The proxy every request goes through (None: direct); the same rule as /ws
        #: (presence_agent/proxy.py). An injected transport is the whole network: no proxy.
        self.proxy: Proxy | None = None
        self._proxy_problem: str | None = None
        if transport is None:
            try:
                self.proxy = proxy_for(self.server, environ)
            except ProxyError as exc:
                self._proxy_problem = str(exc)
        if self.proxy is not None and self.proxy.has_credentials:
            proxy_parts = urlsplit(self.proxy.url)
            self.redactor.add(
                unquote(proxy_parts.password or ""), unquote(proxy_parts.username or "")
            )
        self._http = httpx.Client(
            base_url=self.server + "/",
            auth=make_auth(auth, api_key, secret),
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                # Answers are small JSON; a compressed one could expand a thousandfold
                # before any cap saw it (a "gzip bomb"). One sent anyway is decoded
                # under the cap, in _read_limited.
                "Accept-Encoding": "identity",
            },
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            # A redirect could carry the Authorization header to another
            # host; Libredesk never redirects its API, so neither do we.
            follow_redirects=False,
            # The proxy is chosen above, by the rule /ws follows too; httpx's own reading
            # of the environment would send loopback through a proxy.
            transport=transport or _transport(verify, self.proxy, self._budget),
            trust_env=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LibredeskClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- API ------------------------------------------------------------------

    def me(self, timeout: float | None = None) -> Agent:
        """``GET /api/v1/agents/me``: who we are and what the server holds."""
        data = self._call("GET", ME_PATH, timeout=timeout)
        agent = self._cleaned(_parse_agent(data))
        self.agent_id = agent.id
        return agent

    def set_status(self, desired: Desired, timeout: float | None = None) -> ServerStatus:
        """``PUT /api/v1/agents/me/availability``; returns what the server holds afterwards.

        A 200 does not mean the change happened (the real server's idle
        guard answers 200 and keeps a manual away), so the answer is read,
        not assumed.
        """
        dialect = self.dialect or Dialect.DOCUMENTED
        word = to_wire(
            desired.status, desired.source, dialect, no_assignments=desired.no_assignments
        )
        body = {"status": word, "source": desired.source.value}
        data = self._call("PUT", AVAILABILITY_PATH, json_body=body, timeout=timeout)
        return self.read_status(self._cleaned(_parse_agent(data)).status_word)

    def read_status(self, word: str) -> ServerStatus:
        try:
            return from_wire(word, self.dialect or Dialect.DOCUMENTED)
        except UnknownStatusError as exc:
            raise UnexpectedStatus(self._shown(str(exc), 300)) from None

    def _shown(self, text: str, limit: int) -> str:
        """``text`` cleaned, then cut to ``limit``: cut first, and a secret's head could stay."""
        text = self.redactor.clean(text)
        return text if len(text) <= limit else text[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"

    def _cleaned(self, agent: Agent) -> Agent:
        return replace(
            agent,
            status_word=self._shown(agent.status_word, 64),
            name=self._shown(agent.name, 200),
            email=self._shown(agent.email, 200) if agent.email is not None else None,
        )

    @contextmanager
    def _redacting(self) -> Iterator[None]:
        """Every :class:`LibredeskError` raised inside leaves with its text cleaned."""
        try:
            yield
        except LibredeskError as exc:
            exc.args = (self._shown(str(exc), 300), *exc.args[1:])
            exc.clean = lambda text: self._shown(text, 300)
            raise

    def detect_dialect(self, agent: Agent, timeout: float | None = None) -> Dialect:
        """Learn which vocabulary the server speaks.

        The held status usually tells. ``away`` and ``offline`` exist in
        both, and then ``/ws`` decides: only the real server has it.
        """
        dialect = dialect_of(agent.status_word)
        if dialect is None:
            dialect = Dialect.LIBREDESK if self.has_ws(timeout) else Dialect.DOCUMENTED
        self.dialect = dialect
        return dialect

    def has_ws(self, timeout: float | None = None) -> bool:
        """Whether ``GET /ws`` exists (any answer but 404, without upgrading)."""
        if self._proxy_problem is not None:
            raise Unreachable(
                M_(
                    "cannot connect to {server}: {problem}",
                    server=self.server,
                    problem=self._proxy_problem,
                )
            )
        request = self._http.build_request("GET", "ws", timeout=timeout or httpx.USE_CLIENT_DEFAULT)
        with self._redacting(), self._budget.running(timeout or self.total_timeout):
            try:
                # Streamed and closed unread: only the status code matters, and
                # the body may be anything (an endless one must not be read).
                response = self._http.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise Unreachable(_describe_transport_error(exc, self.server)) from None
        response.close()
        return response.status_code != 404

    # -- plumbing -------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        if self._proxy_problem is not None:
            raise Unreachable(
                M_(
                    "cannot connect to {server}: {problem}",
                    server=self.server,
                    problem=self._proxy_problem,
                )
            )
        request = self._http.build_request(
            method,
            path,
            json=json_body,
            timeout=httpx.Timeout(timeout) if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
        with self._redacting(), self._budget.running(timeout or self.total_timeout):
            try:
                response = self._http.send(request, stream=True)
                try:
                    body = _read_limited(response)
                finally:
                    response.close()
            except httpx.HTTPError as exc:
                raise Unreachable(_describe_transport_error(exc, self.server, self.proxy)) from None
            return _interpret(response, body, self.server)


def _read_limited(response: httpx.Response) -> bytes:
    """The body, never more than :data:`MAX_BODY` bytes in memory, decoded or not.

    Read raw and decoded here, not by httpx: its decoder expands a whole network
    chunk at once, and 64 KiB of a gzip bomb is 64 MiB.
    """
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise NotLibredesk(f"the server sent a {int(declared)} byte answer; Libredesk never does")
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    decoder: Any = None
    if encoding in ("gzip", "x-gzip"):
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        decoder = zlib.decompressobj()
    elif encoding not in ("", "identity"):
        raise NotLibredesk(
            f"the server answered in an encoding the agent did not ask for ({encoding!r})"
        )
    body = bytearray()
    received = 0
    too_big = f"the server sent over {MAX_BODY} bytes; Libredesk never does"
    # An answer built in memory (an injected transport's) is whole already.
    chunks = [response.content] if response.is_stream_consumed else response.iter_raw()
    for chunk in chunks:
        received += len(chunk)
        if received > MAX_BODY:
            raise NotLibredesk(too_big)
        if decoder is None:
            body += chunk
        else:
            try:
                # Never 0 (zlib's "no limit"): the loop ends once the body is over the cap.
                body += decoder.decompress(chunk, MAX_BODY + 1 - len(body))
            except zlib.error:
                raise NotLibredesk(f"the server sent a broken {encoding} answer") from None
        if len(body) > MAX_BODY:
            raise NotLibredesk(too_big)
    return bytes(body)


def _describe_transport_error(
    exc: httpx.HTTPError, server: str, proxy: Proxy | None = None
) -> Message:
    # httpx messages hold URLs at most (credentials go in headers), but keep
    # our own wording so nothing from a request can leak; a proxy is named
    # without its credentials.
    if isinstance(exc, httpx.ProxyError) and proxy is not None:
        reason = first_line(exc)
        return M_(
            "proxy {proxy} ({source}) refused the way to {server}: {reason}",
            proxy=proxy.shown,
            source=proxy.source,
            server=server,
            reason=reason,
        )
    if isinstance(exc, httpx.ConnectError) and proxy is not None:
        reason = str(exc).split("]")[-1].strip() or "connection failed"
        return M_(
            "cannot connect to {server} via proxy {proxy}: {reason}",
            server=server,
            proxy=proxy.shown,
            reason=reason,
        )
    if isinstance(exc, httpx.TimeoutException):
        return M_("{server} did not answer in time", server=server)
    if isinstance(exc, httpx.ConnectError):
        reason = str(exc).split("]")[-1].strip() or "connection failed"
        return M_("cannot connect to {server}: {problem}", server=server, problem=reason)
    return M_(
        "lost the connection to {server}: {problem}", server=server, problem=type(exc).__name__
    )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


def _interpret(response: httpx.Response, body: bytes, server: str) -> dict[str, Any]:
    code = response.status_code
    payload = _json_or_none(body)
    message = _server_message(payload)
    if 300 <= code < 400:
        where = urlsplit(response.headers.get("Location", "")).netloc or "somewhere else"
        raise NotLibredesk(
            f"{server} redirected the API to {where}; check the server URL"
            " (the agent does not follow redirects, so the secret stays with the server you named)"
        )
    if code == 401:
        raise Unauthorized(
            M_(
                "the server refused the API key or secret ({code}{message})",
                code=401,
                message=message,
            )
        )
    if code == 403:
        raise Forbidden(
            M_(
                "the server refused access: the account may be disabled ({code}{message})",
                code=403,
                message=message,
            )
        )
    if code == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise RateLimited(
            M_("the server is rate-limiting us ({code}{message})", code=429, message=message),
            retry_after,
        )
    if code >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise ServerError(
            M_("the server failed (HTTP {code}{message})", code=code, message=message),
            code,
            retry_after,
        )
    if code == 404:
        raise NotLibredesk(
            M_("{server} has no Libredesk API here (404); check the server URL", server=server)
        )
    if code >= 400:
        raise Rejected(
            M_("the server rejected the request (HTTP {code}{message})", code=code, message=message)
        )
    if payload is None:
        raise NotLibredesk(
            M_("{server} did not answer with JSON; is this a Libredesk server?", server=server)
        )
    if not isinstance(payload, dict) or payload.get("status") != "success":
        raise NotLibredesk(M_("{server} answered in a shape Libredesk does not use", server=server))
    data = payload.get("data")
    if not isinstance(data, dict):
        raise NotLibredesk(M_("{server} answered without the agent's data", server=server))
    return data


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _server_message(payload: Any) -> str:
    if isinstance(payload, dict) and isinstance(payload.get("message"), str):
        # Short: it is shown to a person and written to the log (cleaned by the caller,
        # LibredeskClient._redacting, which knows the secret).
        text = payload["message"][:4000].strip()
        if text:
            return f": {text}"
    return ""


def _parse_agent(data: dict[str, Any]) -> Agent:
    word = data.get("availability_status")
    agent_id = data.get("id")
    if not isinstance(word, str) or not isinstance(agent_id, int) or isinstance(agent_id, bool):
        raise NotLibredesk("the server's answer has no agent id or availability status")
    first, last = data.get("first_name"), data.get("last_name")
    name = " ".join(p for p in (first, last) if isinstance(p, str) and p)
    email_addr = data.get("email")
    # Not cut here: LibredeskClient._cleaned cuts after redacting.
    return Agent(
        id=agent_id,
        status_word=word,
        name=name,
        email=email_addr if isinstance(email_addr, str) else None,
    )
