"""The Libredesk REST client, against httpx.MockTransport handlers (and one real socket).

Every error path is also checked for the secret: no ``str``, ``repr`` or
formatted traceback of anything the client raises may hold it.
"""

from __future__ import annotations

import base64
import email.utils
import json
import socket
import time
import traceback
from collections.abc import Callable, Iterator

import httpcore
import httpx
import pytest

from presence_agent import PROJECT_URL, __version__
from presence_agent.client import (
    MAX_BODY,
    MAX_RETRY_AFTER,
    USER_AGENT,
    Budget,
    DeadlineBackend,
    Forbidden,
    LibredeskClient,
    LibredeskError,
    NotLibredesk,
    RateLimited,
    Rejected,
    ServerError,
    Unauthorized,
    UnexpectedStatus,
    Unreachable,
    authorization_header,
    make_auth,
    parse_retry_after,
)
from presence_agent.events import Desired
from presence_agent.urls import InsecureURL, is_loopback_host, normalize_server_url
from presence_agent.vocab import (
    Dialect,
    ServerStatus,
    Source,
    Status,
    UnsupportedStatusError,
)

SERVER = "https://desk.example.com"
KEY = "agent-key"
#: A colon (Basic splits user:pass at the first one) and non-ASCII (sent as UTF-8).
SECRET = "s3cr:et-Пароль-ü€"
SECRET_PIECES = (SECRET, "s3cr:et", "Пароль", base64.b64encode(f"{KEY}:{SECRET}".encode()).decode())


def agent(status: str = "online", **extra) -> dict:
    return {
        "id": 7,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "availability_status": status,
        **extra,
    }


def ok(status: str = "online", **extra) -> httpx.Response:
    return httpx.Response(200, json={"status": "success", "data": agent(status, **extra)})


def envelope(code: int, message: str = "Something", **headers: str) -> httpx.Response:
    body = {"status": "error", "message": message, "data": None, "error_type": "GeneralException"}
    return httpx.Response(code, json=body, headers=headers)


class Recorder:
    """A MockTransport handler that records requests and answers from a function."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def auth_values(self) -> list[bytes]:
        return [
            value
            for request in self.requests
            for key, value in request.headers.raw
            if key.lower() == b"authorization"
        ]


def assert_no_secret(*things: object) -> None:
    for thing in things:
        texts = [str(thing), repr(thing)]
        if isinstance(thing, BaseException):
            texts.append("".join(traceback.format_exception(thing)))
            texts.extend(repr(a) for a in thing.args)
        for text in texts:
            for piece in SECRET_PIECES:
                assert piece not in text, f"secret in {type(thing).__name__}: {text[:300]}"


@pytest.fixture
def make() -> Iterator[Callable[..., tuple[LibredeskClient, Recorder]]]:
    clients: list[LibredeskClient] = []

    def make(
        answer: Callable[[httpx.Request], httpx.Response] = lambda r: ok(),
        *,
        server: str = SERVER,
        secret: str = SECRET,
        auth: str = "token",
        dialect: Dialect | None = None,
    ) -> tuple[LibredeskClient, Recorder]:
        recorder = Recorder(answer)
        client = LibredeskClient(
            server,
            KEY,
            secret,
            auth=auth,  # type: ignore[arg-type]
            dialect=dialect,
            transport=httpx.MockTransport(recorder),
        )
        clients.append(client)
        return client, recorder

    yield make
    for client in clients:
        client.close()


def failing(make, response: httpx.Response | Callable[[httpx.Request], httpx.Response]):
    """The error ``me()`` raises for this answer, checked for the secret."""
    answer = response if callable(response) else (lambda r: response)
    client, _ = make(answer)
    with pytest.raises(LibredeskError) as info:
        client.me()
    assert_no_secret(info.value, client)
    return info.value


# -- authentication ----------------------------------------------------------------------------


def test_token_auth_header_exactly(make):
    client, rec = make(auth="token")
    client.me()
    assert rec.auth_values() == [f"token {KEY}:{SECRET}".encode()]


def test_basic_auth_header_exactly(make):
    client, rec = make(auth="basic")
    client.me()
    expected = b"Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode())
    assert rec.auth_values() == [expected]


@pytest.mark.parametrize("auth", ["token", "basic"])
def test_non_ascii_secret_is_sent_as_utf8_on_every_request(make, auth):
    client, rec = make(auth=auth)
    client.me()
    client.dialect = Dialect.LIBREDESK
    client.set_status(Desired(Status.AWAY, Source.USER))
    client.has_ws()
    values = rec.auth_values()
    assert len(values) == 3
    assert len(set(values)) == 1
    if auth == "token":
        assert values[0] == b"token " + f"{KEY}:{SECRET}".encode()
    else:
        assert base64.b64decode(values[0].split(b" ", 1)[1]).decode("utf-8") == f"{KEY}:{SECRET}"


@pytest.mark.parametrize("auth", ["token", "basic"])
def test_authorization_header_for_the_websocket_matches(make, auth):
    client, rec = make(auth=auth)
    client.me()
    assert rec.auth_values() == [authorization_header(auth, KEY, SECRET)]


@pytest.mark.parametrize("auth", ["token", "basic"])
def test_auth_objects_do_not_show_the_secret(auth):
    assert_no_secret(make_auth(auth, KEY, SECRET))


def test_user_agent_and_accept(make):
    client, rec = make()
    client.me()
    headers = rec.requests[0].headers
    assert headers["User-Agent"] == USER_AGENT
    assert f"presence-agent/{__version__} (+{PROJECT_URL})" == USER_AGENT
    assert "abhinavxd" not in USER_AGENT
    assert headers["Accept"] == "application/json"


# -- GET /agents/me ----------------------------------------------------------------------------


def test_me_reads_the_agent(make):
    client, rec = make()
    me = client.me()
    assert (me.id, me.status_word, me.name, me.email) == (
        7,
        "online",
        "Ada Lovelace",
        "ada@example.com",
    )
    assert client.agent_id == 7
    request = rec.requests[0]
    assert request.method == "GET"
    assert str(request.url) == f"{SERVER}/api/v1/agents/me"


def test_server_under_a_path(make):
    client, rec = make(server=SERVER + "/helpdesk/")
    client.me()
    assert str(rec.requests[0].url) == f"{SERVER}/helpdesk/api/v1/agents/me"


def test_me_with_missing_optional_fields(make):
    client, _ = make(
        lambda r: httpx.Response(
            200,
            json={
                "status": "success",
                "data": {"id": 3, "availability_status": "away", "email": None},
            },
        )
    )
    me = client.me()
    assert (me.name, me.email) == ("", None)


# -- PUT /agents/me/availability ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "desired", "body"),
    [
        (Dialect.DOCUMENTED, Desired(Status.AVAILABLE, Source.USER), ("available", "user")),
        (Dialect.DOCUMENTED, Desired(Status.AVAILABLE, Source.IDLE), ("available", "idle")),
        (Dialect.DOCUMENTED, Desired(Status.BUSY, Source.USER), ("busy", "user")),
        (Dialect.DOCUMENTED, Desired(Status.AWAY, Source.USER), ("away", "user")),
        (Dialect.DOCUMENTED, Desired(Status.AWAY, Source.IDLE), ("away", "idle")),
        (Dialect.DOCUMENTED, Desired(Status.OFFLINE, Source.USER), ("offline", "user")),
        (None, Desired(Status.BUSY, Source.USER), ("busy", "user")),
        (Dialect.LIBREDESK, Desired(Status.AVAILABLE, Source.USER), ("online", "user")),
        (Dialect.LIBREDESK, Desired(Status.AVAILABLE, Source.IDLE), ("online", "idle")),
        (Dialect.LIBREDESK, Desired(Status.AWAY, Source.USER), ("away_manual", "user")),
        (Dialect.LIBREDESK, Desired(Status.AWAY, Source.IDLE), ("away", "idle")),
        (
            Dialect.LIBREDESK,
            Desired(Status.REASSIGNING, Source.USER),
            ("away_and_reassigning", "user"),
        ),
        (Dialect.LIBREDESK, Desired(Status.OFFLINE, Source.USER), ("offline", "user")),
    ],
)
def test_put_body_per_dialect(make, dialect, desired, body):
    word, source = body
    client, rec = make(lambda r: ok(json.loads(r.content)["status"]), dialect=dialect)
    held = client.set_status(desired)
    assert held.status is desired.status
    request = rec.requests[0]
    assert request.method == "PUT"
    assert str(request.url) == f"{SERVER}/api/v1/agents/me/availability"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"status": word, "source": source}


def test_busy_on_libredesk_raises_before_any_request(make):
    client, rec = make(dialect=Dialect.LIBREDESK)
    with pytest.raises(UnsupportedStatusError):
        client.set_status(Desired(Status.BUSY, Source.USER))
    assert rec.requests == []


def test_a_200_that_kept_another_status_is_read_not_assumed(make):
    # The real server's idle guard: 200, and away_manual is kept.
    client, _ = make(lambda r: ok("away_manual"), dialect=Dialect.LIBREDESK)
    assert client.set_status(Desired(Status.AVAILABLE, Source.IDLE)) == ServerStatus(
        Status.AWAY, by_idle=False
    )


def test_answer_words_are_read_in_the_servers_dialect(make):
    real, _ = make(lambda r: ok("away"), dialect=Dialect.LIBREDESK)
    documented, _ = make(lambda r: ok("away"), dialect=Dialect.DOCUMENTED)
    asked = Desired(Status.AWAY, Source.IDLE)
    assert real.set_status(asked) == ServerStatus(Status.AWAY, by_idle=True)
    assert documented.set_status(asked) == ServerStatus(Status.AWAY, by_idle=None)


def test_unknown_held_status_is_unexpected(make):
    client, _ = make(lambda r: ok("on_lunch_" + "x" * 300), dialect=Dialect.LIBREDESK)
    with pytest.raises(UnexpectedStatus) as info:
        client.set_status(Desired(Status.AWAY, Source.USER))
    assert len(str(info.value)) < 200
    assert_no_secret(info.value)


# -- errors ------------------------------------------------------------------------------------


def test_401_is_unauthorized_with_the_servers_message(make):
    exc = failing(make, envelope(401, "Invalid API key or secret"))
    assert type(exc) is Unauthorized
    assert "401" in str(exc)
    assert "Invalid API key or secret" in str(exc)
    assert exc.retryable is False


def test_403_is_forbidden(make):
    exc = failing(make, envelope(403, "Account disabled"))
    assert type(exc) is Forbidden
    assert "Account disabled" in str(exc)
    assert exc.retryable is False


def test_429_with_retry_after_seconds(make):
    exc = failing(make, envelope(429, "slow down", **{"Retry-After": "7"}))
    assert type(exc) is RateLimited
    assert exc.retry_after == 7.0
    assert exc.retryable is True


def test_429_with_retry_after_http_date(make):
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    exc = failing(make, envelope(429, **{"Retry-After": when}))
    assert isinstance(exc, RateLimited)
    assert exc.retry_after is not None
    assert 115 <= exc.retry_after <= 121


def test_429_without_retry_after(make):
    exc = failing(make, envelope(429))
    assert isinstance(exc, RateLimited)
    assert exc.retry_after is None


@pytest.mark.parametrize(
    ("code", "headers", "retry_after"),
    [(500, {}, None), (502, {}, None), (503, {"Retry-After": "30"}, 30.0), (503, {}, None)],
)
def test_5xx_is_server_error(make, code, headers, retry_after):
    exc = failing(make, envelope(code, "database down", **headers))
    assert type(exc) is ServerError
    assert exc.status_code == code
    assert exc.retry_after == retry_after
    assert exc.retryable is True
    assert str(code) in str(exc)
    assert "database down" in str(exc)


def test_500_with_an_html_body(make):
    exc = failing(make, httpx.Response(500, text="<html>oops</html>"))
    assert type(exc) is ServerError


@pytest.mark.parametrize("code", [400, 405, 409, 422])
def test_other_4xx_is_rejected(make, code):
    exc = failing(make, envelope(code, "bad status"))
    assert type(exc) is Rejected
    assert exc.retryable is False
    assert "bad status" in str(exc)


def test_server_message_is_cut_and_made_printable(make):
    exc = failing(make, envelope(400, "line1\nline2\x1b[31m" + "y" * 1000))
    text = str(exc)
    assert "\n" not in text
    assert "\x1b" not in text
    # A line break is a space; a control character a visible mark (presence_agent/redaction.py).
    assert "line1 line2\ufffd[31m" in text
    assert len(text) <= 300


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(httpx.Response(404, text="404 page not found"), id="404"),
        pytest.param(envelope(404, "Not found"), id="404-envelope"),
        pytest.param(httpx.Response(200, text="<!doctype html><html></html>"), id="html"),
        pytest.param(httpx.Response(200, content=b"\xff\xfe junk"), id="binary"),
        pytest.param(httpx.Response(200, content=b""), id="empty"),
        pytest.param(httpx.Response(200, json=[1, 2]), id="list"),
        pytest.param(httpx.Response(200, json={"status": "error", "data": agent()}), id="status"),
        pytest.param(httpx.Response(200, json={"data": agent()}), id="no-status"),
        pytest.param(httpx.Response(200, json={"status": "success", "data": None}), id="no-data"),
        pytest.param(
            httpx.Response(200, json={"status": "success", "data": [agent()]}), id="data-list"
        ),
        pytest.param(
            httpx.Response(200, json={"status": "success", "data": {"id": 1}}), id="no-availability"
        ),
        pytest.param(
            httpx.Response(
                200, json={"status": "success", "data": {"id": "1", "availability_status": "x"}}
            ),
            id="id-string",
        ),
        pytest.param(
            httpx.Response(
                200, json={"status": "success", "data": {"id": True, "availability_status": "x"}}
            ),
            id="id-bool",
        ),
        pytest.param(
            httpx.Response(
                200, json={"status": "success", "data": {"id": 1, "availability_status": 5}}
            ),
            id="status-number",
        ),
        pytest.param(httpx.Response(200, content=b"[" * 100_000), id="deep-json"),
    ],
)
def test_answers_libredesk_never_gives(make, response):
    exc = failing(make, response)
    assert type(exc) is NotLibredesk
    assert exc.retryable is True


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed(make, code):
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "desk.example.com":
            return httpx.Response(code, headers={"Location": "https://evil.example.net/steal"})
        return ok()

    client, rec = make(answer)
    with pytest.raises(NotLibredesk) as info:
        client.me()
    assert "evil.example.net" in str(info.value)
    assert_no_secret(info.value)
    # One request, to the server we named: the secret never went elsewhere.
    assert [r.url.host for r in rec.requests] == ["desk.example.com"]
    with pytest.raises(NotLibredesk):
        client.set_status(Desired(Status.AWAY, Source.USER))
    assert {r.url.host for r in rec.requests} == {"desk.example.com"}


# -- huge bodies -------------------------------------------------------------------------------


class Endless(httpx.SyncByteStream):
    """A body with no Content-Length that never ends (unless ``limit``)."""

    def __init__(self, limit: int | None = None, prefix: bytes = b"") -> None:
        self.limit = limit
        self.prefix = prefix
        self.sent = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        chunk = b" " * 65536
        if self.prefix:
            self.sent += len(self.prefix)
            yield self.prefix
        while self.limit is None or self.sent < self.limit:
            piece = chunk if self.limit is None else chunk[: self.limit - self.sent]
            self.sent += len(piece)
            yield piece

    def close(self) -> None:
        self.closed = True


def padded_ok(size: int) -> bytes:
    body = json.dumps({"status": "success", "data": agent()}).encode()
    return body + b" " * (size - len(body))


def test_body_over_a_mebibyte_with_content_length(make):
    exc = failing(make, httpx.Response(200, content=padded_ok(MAX_BODY + 1)))
    assert type(exc) is NotLibredesk


def test_body_of_exactly_the_limit_is_read(make):
    client, _ = make(lambda r: httpx.Response(200, content=padded_ok(MAX_BODY)))
    assert client.me().id == 7


def test_endless_body_without_content_length_is_cut_off(make):
    stream = Endless()
    client, _ = make(lambda r: httpx.Response(200, stream=stream))
    with pytest.raises(NotLibredesk):
        client.me()
    assert MAX_BODY < stream.sent <= MAX_BODY + 65536
    assert stream.closed


def test_streamed_body_just_over_the_limit(make):
    stream = Endless(MAX_BODY + 1, padded_ok(0).rstrip())
    client, _ = make(lambda r: httpx.Response(200, stream=stream))
    with pytest.raises(NotLibredesk):
        client.me()


def test_streamed_body_at_the_limit_is_read(make):
    # The JSON, then spaces up to exactly MAX_BODY bytes, with no Content-Length.
    stream = Endless(MAX_BODY, padded_ok(0).rstrip())
    client, _ = make(lambda r: httpx.Response(200, stream=stream))
    assert client.me().id == 7
    assert stream.closed


def test_declared_huge_error_body_is_refused_too(make):
    exc = failing(make, httpx.Response(500, content=b"x" * (MAX_BODY + 1)))
    assert type(exc) is NotLibredesk


# -- transport failures ------------------------------------------------------------------------


def raising(exc_type: type[httpx.HTTPError], message: str):
    def answer(request: httpx.Request) -> httpx.Response:
        raise exc_type(message, request=request)  # type: ignore[call-arg]

    return answer


@pytest.mark.parametrize(
    ("exc_type", "words"),
    [
        (httpx.ConnectTimeout, "did not answer in time"),
        (httpx.ReadTimeout, "did not answer in time"),
        (httpx.WriteTimeout, "did not answer in time"),
        (httpx.PoolTimeout, "did not answer in time"),
        (httpx.ConnectError, "cannot connect"),
        (httpx.ReadError, "lost the connection"),
        (httpx.RemoteProtocolError, "lost the connection"),
    ],
)
def test_transport_failures_are_unreachable(make, exc_type, words):
    # httpx's own text is not passed on, except a connect error's reason
    # (from the OS, never from the request).
    text = "[Errno 111] refused" if exc_type is httpx.ConnectError else f"boom {SECRET}"
    exc = failing(make, raising(exc_type, text))
    assert type(exc) is Unreachable
    assert exc.retryable is True
    assert words in str(exc)
    assert SERVER in str(exc)


def test_connect_error_reason_is_kept(make):
    exc = failing(make, raising(httpx.ConnectError, "[Errno 111] Connection refused"))
    assert str(exc) == f"cannot connect to {SERVER}: Connection refused"


def test_ws_probe_failure_is_unreachable(make):
    client, _ = make(raising(httpx.ConnectError, "[Errno 111] Connection refused"))
    with pytest.raises(Unreachable) as info:
        client.has_ws()
    assert_no_secret(info.value)


def test_real_refused_port_is_unreachable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = LibredeskClient(f"http://127.0.0.1:{port}", KEY, SECRET, connect_timeout=2)
    with client, pytest.raises(Unreachable) as info:
        client.me()
    assert "cannot connect" in str(info.value)
    assert_no_secret(info.value)


def test_secret_with_a_line_break_is_never_echoed_by_the_http_stack():
    # h11 refuses the header value and quotes it in its own error; ours must not.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        secret = SECRET + "\r\nX-Injected: 1"
        with (
            LibredeskClient(
                f"http://127.0.0.1:{port}", KEY, secret, connect_timeout=2, read_timeout=2
            ) as client,
            pytest.raises(LibredeskError) as info,
        ):
            client.me()
    assert_no_secret(info.value)
    assert "X-Injected" not in "".join(traceback.format_exception(info.value))


def test_timeout_per_call(make):
    seen: list[dict] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return ok()

    client, _ = make(answer)
    client.me(timeout=1.5)
    client.me()
    assert seen[0] == {"connect": 1.5, "read": 1.5, "write": 1.5, "pool": 1.5}
    assert seen[1]["connect"] == 5.0
    assert seen[1]["read"] == 10.0


# -- Retry-After parsing -----------------------------------------------------------------------


NOW = 1_445_412_480.0  # Wed, 21 Oct 2015 07:28:00 GMT


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-5", 0.0),
        ("99999999", MAX_RETRY_AFTER),
        ("inf", MAX_RETRY_AFTER),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:29:00 GMT", 60.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # in the past: now
        ("Thu, 22 Oct 2015 07:28:00 GMT", MAX_RETRY_AFTER),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("Wed, 99 Foo 2015", None),
    ],
)
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value, now=NOW) == seconds


# -- dialect detection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "dialect"),
    [
        ("online", Dialect.LIBREDESK),
        ("away_manual", Dialect.LIBREDESK),
        ("away_and_reassigning", Dialect.LIBREDESK),
        ("available", Dialect.DOCUMENTED),
        ("busy", Dialect.DOCUMENTED),
    ],
)
def test_detect_dialect_from_the_held_word_without_probing(make, word, dialect):
    client, rec = make(lambda r: ok(word))
    assert client.detect_dialect(client.me()) is dialect
    assert client.dialect is dialect
    assert [r.url.path for r in rec.requests] == ["/api/v1/agents/me"]


@pytest.mark.parametrize("word", ["away", "offline"])
@pytest.mark.parametrize(
    ("ws_answer", "dialect"),
    [
        (httpx.Response(404, text="404 page not found"), Dialect.DOCUMENTED),
        (httpx.Response(400, text="Bad Request"), Dialect.LIBREDESK),
        (httpx.Response(426, text="Upgrade Required"), Dialect.LIBREDESK),
        (httpx.Response(403, text="origin not allowed"), Dialect.LIBREDESK),
    ],
)
def test_ambiguous_word_is_settled_by_the_ws_probe(make, word, ws_answer, dialect):
    def answer(request: httpx.Request) -> httpx.Response:
        return ws_answer if request.url.path == "/ws" else ok(word)

    client, rec = make(answer)
    assert client.detect_dialect(client.me()) is dialect
    assert [r.url.path for r in rec.requests] == ["/api/v1/agents/me", "/ws"]
    probe = rec.requests[1]
    assert probe.method == "GET"
    assert "upgrade" not in {k.lower() for k in probe.headers}


def test_ws_probe_under_a_path(make):
    client, rec = make(lambda r: httpx.Response(404), server=SERVER + "/helpdesk")
    assert client.has_ws() is False
    assert str(rec.requests[0].url) == f"{SERVER}/helpdesk/ws"


# -- server URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://desk.example.com", "https://desk.example.com"),
        ("https://desk.example.com/", "https://desk.example.com"),
        ("  https://desk.example.com/helpdesk/  ", "https://desk.example.com/helpdesk"),
        ("https://desk.example.com:8443", "https://desk.example.com:8443"),
        ("http://localhost:9000", "http://localhost:9000"),
        ("http://LOCALHOST", "http://LOCALHOST"),
        ("http://desk.localhost", "http://desk.localhost"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://127.1.2.3", "http://127.1.2.3"),
        ("http://127.255.255.254", "http://127.255.255.254"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_accepted_server_urls(url, normalized):
    assert normalize_server_url(url) == normalized


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("desk.example.com", "https://desk.example.com"),
        (" desk.example.com/ ", "https://desk.example.com"),
        ("desk.example.com:8443/helpdesk", "https://desk.example.com:8443/helpdesk"),
        ("localhost:9000", "https://localhost:9000"),
        ("[::1]:8080", "https://[::1]:8080"),
    ],
)
def test_a_bare_host_means_https(url, normalized):
    assert normalize_server_url(url) == normalized


@pytest.mark.parametrize("url", [f"{KEY}:{SECRET}@desk.example.com", f"{SECRET}@desk.example.com"])
def test_a_bare_host_with_userinfo_is_refused_and_never_quoted(url):
    with pytest.raises(InsecureURL) as info:
        normalize_server_url(url)
    assert_no_secret(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://desk.example.com",
        "http://10.0.0.5:8080",
        "http://128.0.0.1",
        "http://0.0.0.0",
        "http://[::2]",
        "http://localhost.evil.example",
        "http://127.0.0.1.nip.io",
    ],
)
def test_plain_http_only_for_loopback(url):
    with pytest.raises(InsecureURL, match="--allow-insecure-http"):
        normalize_server_url(url)
    assert normalize_server_url(url, allow_insecure_http=True) == url


@pytest.mark.parametrize(
    "url",
    ["", "ftp://desk.example.com", "https://", "https:///path", "file:///etc", "/etc/passwd"],
)
def test_not_server_urls(url):
    with pytest.raises(InsecureURL, match="not a server URL"):
        normalize_server_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://[::1",
        "https://desk.example.com:99999",
        "https://desk.example.com:port",
        "http://[::1]:-1",
    ],
)
def test_malformed_urls_are_insecure_url_errors(url):
    # Not a bare ValueError from urllib, which the CLI would not catch, nor a
    # port httpx refuses later, on the reporter thread.
    with pytest.raises(InsecureURL, match="not a server URL"):
        normalize_server_url(url)


@pytest.mark.parametrize(
    "url",
    [
        f"https://{KEY}:{SECRET}@desk.example.com",
        f"https://{SECRET}@desk.example.com",
        f"http://{KEY}:{SECRET}@localhost",
        # Even when something else is wrong first, the userinfo is not quoted back.
        f"ftp://{KEY}:{SECRET}@desk.example.com",
        f"http://{KEY}:{SECRET}@desk.example.com",
        f"htps://{KEY}:{SECRET}@desk.example.com",
    ],
)
def test_userinfo_is_refused_and_never_quoted(url):
    with pytest.raises(InsecureURL) as info:
        normalize_server_url(url, allow_insecure_http=False)
    assert_no_secret(info.value)


@pytest.mark.parametrize(
    "url",
    [
        f"https://desk.example.com/?api_secret={SECRET}",
        f"https://desk.example.com/#{SECRET}",
        f"https://desk.example.com/x?token={SECRET}#y",
    ],
)
def test_query_and_fragment_are_refused_and_never_quoted(url):
    with pytest.raises(InsecureURL, match="no query or fragment") as info:
        normalize_server_url(url)
    assert_no_secret(info.value)
    assert "desk.example.com" in str(info.value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LocalHost", True),
        ("a.b.localhost", True),
        ("127.0.0.1", True),
        ("127.42.0.9", True),
        ("::1", True),
        ("[::1]", True),
        ("::2", False),
        ("128.0.0.1", False),
        ("localhost.example", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_is_loopback_host(host, loopback):
    assert is_loopback_host(host) is loopback


# -- the secret, everywhere --------------------------------------------------------------------


def test_no_error_or_object_ever_shows_the_secret(make):
    answers: list[Callable[[httpx.Request], httpx.Response]] = [
        lambda r: envelope(401),
        lambda r: envelope(403),
        lambda r: envelope(429, **{"Retry-After": "3"}),
        lambda r: envelope(500),
        lambda r: envelope(503, **{"Retry-After": "3"}),
        lambda r: envelope(400),
        lambda r: httpx.Response(404),
        lambda r: httpx.Response(200, text="<html>"),
        lambda r: httpx.Response(302, headers={"Location": "https://elsewhere.example/"}),
        lambda r: httpx.Response(200, content=b" " * (MAX_BODY + 1)),
        lambda r: httpx.Response(200, stream=Endless()),
        raising(httpx.ConnectError, "refused"),
        raising(httpx.ReadTimeout, "slow"),
    ]
    for auth in ("token", "basic"):
        for answer in answers:
            client, _ = make(answer, auth=auth)
            with pytest.raises(LibredeskError) as info:
                client.me()
            with pytest.raises(LibredeskError) as put_info:
                client.set_status(Desired(Status.AWAY, Source.USER))
            assert_no_secret(info.value, put_info.value, client)


def test_ws_probe_does_not_read_the_body(make):
    # Only the status code matters; a huge or endless answer must not be read.
    stream = Endless(limit=64 * MAX_BODY)
    client, _ = make(lambda r: httpx.Response(200, stream=stream))
    assert client.has_ws() is True
    assert stream.sent <= MAX_BODY
    assert stream.closed


# -- the total deadline (virtual time) -----------------------------------------------------------


class TrickleStream(httpcore.NetworkStream):
    """A socket that gives one byte per read, each after ``every`` seconds of the fake clock."""

    def __init__(self, clock: list[float], every: float, timeouts: list[float | None]) -> None:
        self.clock, self.every, self.timeouts = clock, every, timeouts

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.timeouts.append(timeout)
        if timeout is not None and timeout < self.every:
            self.clock[0] += timeout
            raise httpcore.ReadTimeout("timed out")
        self.clock[0] += self.every
        return b"x"

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.timeouts.append(timeout)

    def close(self) -> None:
        pass


class TrickleBackend(httpcore.NetworkBackend):
    def __init__(self, clock: list[float], every: float) -> None:
        self.clock, self.every = clock, every
        self.timeouts: list[float | None] = []

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.timeouts.append(timeout)
        self.clock[0] += 1.0
        return TrickleStream(self.clock, self.every, self.timeouts)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise NotImplementedError


def test_a_trickle_within_every_read_timeout_still_ends_at_the_total_deadline() -> None:
    clock = [100.0]
    budget = Budget(lambda: clock[0])
    inner = TrickleBackend(clock, every=5.0)
    backend = DeadlineBackend(budget, inner)
    received = b""

    def trickled() -> None:
        nonlocal received
        stream = backend.connect_tcp("desk.example.com", 443, timeout=5.0)
        stream.write(b"GET / HTTP/1.1\r\n\r\n", timeout=10.0)
        while True:
            received += stream.read(65536, timeout=10.0)

    with budget.running(15.0), pytest.raises(httpcore.ReadTimeout):
        trickled()
    # Connect (1 s) and two bytes (5 s each) fit; each read gets at most what is left
    # (14, 9, then 4 s), so the third ends at the deadline, never after it.
    assert received == b"xx"
    assert inner.timeouts == [5.0, 10.0, 10.0, 9.0, 4.0]
    assert clock[0] == 115.0


def test_a_request_out_of_time_fails_at_once_and_the_budget_is_per_request() -> None:
    clock = [0.0]
    budget = Budget(lambda: clock[0])
    backend = DeadlineBackend(budget, TrickleBackend(clock, every=1.0))
    with budget.running(2.0):
        stream = backend.connect_tcp("desk.example.com", 443)
        clock[0] = 2.0
        with pytest.raises(httpcore.WriteTimeout):
            stream.write(b"x")
        with pytest.raises(httpcore.ReadTimeout):
            stream.read(1)
    # Outside a request nothing is cut: the next one starts with its own budget.
    assert stream.read(1, timeout=None) == b"x"


def test_the_client_bounds_real_sockets_by_the_total_deadline() -> None:
    """The wiring: a client without an injected transport reads through DeadlineBackend."""
    with LibredeskClient(SERVER, KEY, SECRET, total_timeout=3.0) as client:
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool._network_backend, DeadlineBackend)
        assert client.total_timeout == 3.0


# -- compressed answers ------------------------------------------------------------------------


def test_a_gzip_bomb_is_refused_without_expanding_it() -> None:
    import gzip
    import tracemalloc

    bomb = gzip.compress(b"\0" * (64 << 20), compresslevel=9)
    assert len(bomb) < (1 << 20)
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            stream=httpx.ByteStream(bomb),
        )

    with LibredeskClient(SERVER, KEY, SECRET, transport=httpx.MockTransport(answer)) as client:
        tracemalloc.start()
        try:
            with pytest.raises(NotLibredesk, match="over"):
                client.me()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert seen[0].headers["Accept-Encoding"] == "identity"
    # The cap (1 MiB) and the compressed bytes, not the 64 MiB it expands to.
    assert peak < 8 << 20, peak


def test_a_small_gzip_answer_is_read_and_an_unasked_encoding_refused() -> None:
    import gzip

    body = json.dumps({"status": "success", "data": agent()}).encode()

    def answer(request: httpx.Request) -> httpx.Response:
        encoding = "gzip" if request.url.path.endswith("me") else "br"
        return httpx.Response(
            200,
            headers={"Content-Encoding": encoding},
            stream=httpx.ByteStream(gzip.compress(body)),
        )

    with LibredeskClient(SERVER, KEY, SECRET, transport=httpx.MockTransport(answer)) as client:
        assert client.me().name == "Ada Lovelace"
        with pytest.raises(NotLibredesk, match="did not ask for"):
            client.set_status(Desired(Status.AWAY, Source.USER))


# -- URLs: one strict check (presence_agent/urls.py) -------------------------------------------

HOSTILE_URLS = [
    "https://desk.example.com/a\x01b",
    "https://desk.example.com/a\r\nb",
    "https://desk.example.com/a\nb",
    "https://desk.example.com/a b",
    "https://desk.example.com/" + "a" * (64 << 10),
    "https://de\x00sk.example.com",
    "https://desk.example.com\x00/",
    "https://desk.example.com/\x7f",
    "https://desk.example.com/\u202e",
    "https://desk.example.com/\udcff",
    "https://-desk.example.com",
    "https://desk..example.com",
    "https://" + "a" * 64 + ".example.com",
    "https://[::g]/",
    "https://exa mple.com",
]


@pytest.mark.parametrize("url", HOSTILE_URLS, ids=range(len(HOSTILE_URLS)))
def test_a_url_httpx_or_dbus_would_refuse_is_refused_with_a_reason(url: str) -> None:
    with pytest.raises(InsecureURL) as info:
        normalize_server_url(url)
    text = str(info.value)
    assert text.startswith("not a server URL")
    assert len(text) < 400
    assert all(ch.isprintable() for ch in text)


ODD_BUT_FINE = [
    "https://desk.example.com",
    "desk.example.com:8443/helpdesk/",
    "https://bücher.example/libredesk",
    "https://desk_1.corp.internal",
    "http://[::1]:8080",
    "http://127.0.0.1:1/x%00y",
    "https://desk.example.com/ünï/path",
    "https://DESK.Example.COM.",
]


@pytest.mark.parametrize("url", ODD_BUT_FINE)
def test_every_url_the_check_accepts_is_one_httpx_and_the_ws_url_take(url: str) -> None:
    from presence_agent.keepalive import origin_for, ws_url

    checked = normalize_server_url(url)
    answered: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        answered.append(request)
        return ok()

    with LibredeskClient(checked, KEY, SECRET, transport=httpx.MockTransport(answer)) as client:
        client.me()
    assert answered
    httpx.URL(ws_url(checked))
    assert origin_for(checked).startswith("https://")


def test_a_redirect_quoting_the_secret_past_a_cut_is_redacted_whole(make):
    # Cut first and the head of the Basic value would stay, too short for redaction to know it.
    # (URL-safe base64: the standard alphabet's '/' would end the host before the cut.)
    basic = base64.urlsafe_b64encode(f"{KEY}:{SECRET}".encode()).decode()
    where = "https://" + "x" * 90 + basic + ".example.net/"
    client, _ = make(lambda request: httpx.Response(302, headers={"Location": where}))
    with pytest.raises(NotLibredesk) as info:
        client.me()
    text = str(info.value)
    assert "redirected the API" in text
    assert not any(basic[i : i + 8] in text for i in range(len(basic) - 8)), text
