"""Tests of the fake Libredesk server (tests/libredesk_server.py) itself."""

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.libredesk_server import AVAILABILITY_PATH, ME_PATH, LibredeskServer

TOKEN = {"Authorization": "token key:secret"}
TOKEN_LINE = "Authorization: token key:secret"
BASIC = {"Authorization": "Basic " + base64.b64encode(b"key:secret").decode()}


@pytest.fixture
def documented() -> Iterator[LibredeskServer]:
    with LibredeskServer(dialect="documented", initial_status="available") as server:
        yield server


@pytest.fixture
def real() -> Iterator[LibredeskServer]:
    with LibredeskServer(dialect="libredesk", initial_status="online") as server:
        yield server


@pytest.fixture
def client(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    server: LibredeskServer = request.getfixturevalue(request.param)
    with httpx.Client(base_url=server.url, headers=TOKEN, timeout=5) as c:
        yield c


def put(c: httpx.Client, status: str, source: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"status": status}
    if source is not None:
        body["source"] = source
    return c.put(AVAILABILITY_PATH, json=body)


_SAME = "same"


def ws_connect(
    server: LibredeskServer,
    origin: str | None = _SAME,
    headers: dict[str, str] | None = None,
) -> ClientConnection:
    """A websocket with the Origin a real client of this server sends (https + Host)."""
    if origin == _SAME:
        origin = f"https://127.0.0.1:{server.port}"
    return connect(
        server.ws_url,
        origin=origin,  # type: ignore[arg-type]
        additional_headers=TOKEN if headers is None else headers,
        open_timeout=3,
        close_timeout=1,
    )


def raw_upgrade(
    server: LibredeskServer, origin: str | None, host: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Send one upgrade request by hand (any Host and Origin); (status, headers, body)."""
    lines = [
        "GET /ws HTTP/1.1",
        f"Host: {host or f'127.0.0.1:{server.port}'}",
        "Connection: Upgrade",
        "Upgrade: websocket",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        TOKEN_LINE,
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(status_line.split()[1])
        length = int(headers.get("content-length", "0") or 0)
        while status != 101 and len(body) < length:
            chunk = sock.recv(4096)
            if not chunk:
                break
            body += chunk
    return status, headers, body


def recv_json(ws: ClientConnection, timeout: float = 2.0) -> Any:
    return json.loads(ws.recv(timeout=timeout))


def update(agent_id: int, status: str) -> dict[str, Any]:
    return {
        "type": "agent_availability_update",
        "data": {"agent_id": agent_id, "availability_status": status},
    }


# ---------------------------------------------------------------- auth


@pytest.mark.parametrize("client", ["documented"], indirect=True)
@pytest.mark.parametrize("headers", [TOKEN, BASIC], ids=["token", "basic"])
def test_both_auth_schemes_accepted(
    documented: LibredeskServer, client: httpx.Client, headers: dict[str, str]
) -> None:
    response = client.get(ME_PATH, headers=headers)
    assert response.status_code == 200
    assert response.json()["status"] == "success"


@pytest.mark.parametrize(
    "value",
    [
        None,
        "token key:wrong",
        "token key",
        "Bearer key:secret",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"key:wrong").decode(),
    ],
)
def test_bad_or_missing_credentials_are_401(documented: LibredeskServer, value: str | None) -> None:
    headers = {} if value is None else {"Authorization": value}
    with httpx.Client(base_url=documented.url, timeout=5) as c:
        for response in (c.get(ME_PATH, headers=headers), put(c, "away")):
            assert response.status_code == 401
            body = response.json()
            assert body["status"] == "error"
            assert body["data"] is None
            assert body["error_type"] == "PermissionException"
            assert body["message"]
    assert documented.status == "available"


def test_secret_with_colons_and_non_ascii() -> None:
    secret = "pa:ss:wörd☃"
    with (
        LibredeskServer(api_key="k", api_secret=secret) as server,
        httpx.Client(base_url=server.url, timeout=5) as c,
    ):
        token = f"token k:{secret}".encode()
        basic = b"Basic " + base64.b64encode(f"k:{secret}".encode())
        assert c.get(ME_PATH, headers={b"Authorization": token}).status_code == 200
        assert c.get(ME_PATH, headers={b"Authorization": basic}).status_code == 200
        assert c.get(ME_PATH, headers={"Authorization": "token k:pa:ss"}).status_code == 401
        assert server.auth_header("basic").encode() == basic


@pytest.mark.parametrize("client", ["documented"], indirect=True)
def test_set_credentials_and_disable_account(
    documented: LibredeskServer, client: httpx.Client
) -> None:
    documented.set_credentials("new", "pair")
    assert client.get(ME_PATH).status_code == 401
    assert client.get(ME_PATH, headers={"Authorization": "token new:pair"}).status_code == 200
    documented.set_credentials("key", "secret")
    documented.disable_account(True)
    response = put(client, "away")
    assert response.status_code == 403
    assert response.json()["error_type"] == "PermissionException"
    assert documented.status == "available"
    # Bad credentials still say 401 on a disabled account.
    assert client.get(ME_PATH, headers={"Authorization": "token key:no"}).status_code == 401
    documented.disable_account(False)
    assert put(client, "away").status_code == 200


MALFORMED = [
    None,
    "basic " + base64.b64encode(b"key:secret").decode(),  # scheme prefixes are case-sensitive
    "TOKEN key:secret",
    "Token key:secret",
    "Bearer key:secret",
    "token key",
    "token key:",
    "token :secret",
    "Basic !!!notbase64",
    "Basic " + base64.b64encode(b"key:secret").decode().rstrip("="),
    "Basic " + base64.b64encode(b"keysecret").decode(),
    "",
]


@pytest.mark.parametrize("value", MALFORMED)
def test_libredesk_malformed_authorization_falls_back_to_session_auth(
    real: LibredeskServer, value: str | None
) -> None:
    headers = {} if value is None else {"Authorization": value}
    with httpx.Client(base_url=real.url, headers=headers, timeout=5) as c:
        got = c.get(ME_PATH)
        assert got.status_code == 401
        assert got.json() == {
            "status": "error",
            "message": "Invalid or expired session",
            "data": None,
            "error_type": "GeneralException",
        }
        # PUT meets the CSRF check of session auth before anything else.
        response = put(c, "away_manual")
        assert response.status_code == 403
        assert response.json()["message"] == "CSRF token mismatch"
        assert response.json()["error_type"] == "PermissionException"
        assert c.get("/ws").status_code == 401
    assert real.status == "online"


@pytest.mark.parametrize(
    "value", ["token key:wrong", "token nokey:secret", "Basic " + base64.b64encode(b"k:s").decode()]
)
def test_libredesk_wrong_key_is_401_invalid_credential(real: LibredeskServer, value: str) -> None:
    with httpx.Client(base_url=real.url, headers={"Authorization": value}, timeout=5) as c:
        for response in (c.get(ME_PATH), put(c, "away_manual")):
            assert response.status_code == 401
            assert response.json()["message"] == "Invalid credential"
            assert response.json()["error_type"] == "GeneralException"
    assert real.status == "online"


@pytest.mark.parametrize(
    "value",
    [
        "token key:secret",
        "tokenkey:secret",  # a byte prefix: no space needed
        "token   key:secret",
        "Basic " + base64.b64encode(b"key:secret").decode(),
        "Basic" + base64.b64encode(b"key:secret").decode(),
    ],
)
def test_libredesk_api_key_forms_accepted(real: LibredeskServer, value: str) -> None:
    with httpx.Client(base_url=real.url, headers={"Authorization": value}, timeout=5) as c:
        assert c.get(ME_PATH).status_code == 200
        assert put(c, "away").status_code == 200


@pytest.mark.parametrize("client", ["real"], indirect=True)
def test_libredesk_disabled_account_is_401_with_an_api_key(
    real: LibredeskServer, client: httpx.Client
) -> None:
    real.disable_account(True)
    for response in (client.get(ME_PATH), put(client, "away_manual")):
        assert response.status_code == 401
        assert response.json()["message"] == "Invalid credential"
    with pytest.raises(InvalidStatus) as info:
        ws_connect(real)
    assert info.value.response.status_code == 401
    # A malformed header still meets the CSRF check first.
    assert put(client, "away", None).status_code == 401
    assert (
        client.put(
            AVAILABILITY_PATH, json={"status": "away"}, headers={"Authorization": "Bearer x"}
        ).status_code
        == 403
    )
    assert real.status == "online"
    real.disable_account(False)
    assert put(client, "away").status_code == 200


# ---------------------------------------------------------------- agent and documented dialect


@pytest.mark.parametrize("client", ["documented"], indirect=True)
def test_me_returns_the_agent(documented: LibredeskServer, client: httpx.Client) -> None:
    body = client.get(ME_PATH).json()
    assert body["status"] == "success"
    agent = body["data"]
    assert agent["id"] == 7
    assert (agent["first_name"], agent["last_name"], agent["type"]) == ("Test", "Agent", "agent")
    assert agent["availability_status"] == "available"
    assert agent["enabled"] is True
    assert agent["last_active_at"].endswith("Z")  # active at the start, by default
    assert agent["created_at"].endswith("Z")
    for field in ("email", "roles", "permissions", "teams", "custom_attributes", "avatar_url"):
        assert field in agent


@pytest.mark.parametrize("client", ["documented"], indirect=True)
def test_documented_vocabulary(documented: LibredeskServer, client: httpx.Client) -> None:
    for word in ("busy", "away", "offline", "available"):
        response = put(client, word)
        assert response.status_code == 200
        assert response.json()["data"]["availability_status"] == word
    for word in ("online", "away_manual", "", "AWAY"):
        response = put(client, word)
        assert response.status_code == 400
        assert response.json()["error_type"] == "InputException"
    assert put(client, "away", "robot").status_code == 400
    assert [s for _, s, _ in documented.history] == ["busy", "away", "offline", "available"]
    assert documented.status == "available"


@pytest.mark.parametrize("client", ["documented"], indirect=True)
def test_documented_idle_guard(documented: LibredeskServer, client: httpx.Client) -> None:
    # Idle away can be undone by idle.
    assert put(client, "away", "idle").json()["data"]["availability_status"] == "away"
    assert put(client, "available", "idle").json()["data"]["availability_status"] == "available"
    # Manual away cannot.
    assert put(client, "away", "user").json()["data"]["availability_status"] == "away"
    response = put(client, "available", "idle")
    assert response.status_code == 200
    assert response.json()["data"]["availability_status"] == "away"
    # ... nor can a manual away made in the web app.
    assert put(client, "available").json()["data"]["availability_status"] == "available"
    documented.set_status("away", by_idle=False)
    assert put(client, "available", "idle").json()["data"]["availability_status"] == "away"
    documented.set_status("available")
    documented.set_status("away", by_idle=True)
    assert put(client, "available", "idle").json()["data"]["availability_status"] == "available"
    # Same status: 200, no change recorded.
    before = len(documented.history)
    assert put(client, "available").status_code == 200
    assert len(documented.history) == before


@pytest.mark.parametrize("client", ["documented"], indirect=True)
def test_malformed_json_is_400(documented: LibredeskServer, client: httpx.Client) -> None:
    for content in (b"{not json", b"[1, 2]", b"", b'{"status": 5}'):
        response = client.put(
            AVAILABILITY_PATH, content=content, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert response.json()["error_type"] == "InputException"
    assert documented.history == []


# ---------------------------------------------------------------- libredesk dialect


@pytest.mark.parametrize("client", ["real"], indirect=True)
def test_libredesk_vocabulary_and_500_on_unknown(
    real: LibredeskServer, client: httpx.Client
) -> None:
    for word in ("available", "busy", "AWAY", ""):
        response = put(client, word)
        assert response.status_code == 500
        body = response.json()
        assert (body["status"], body["error_type"], body["data"]) == (
            "error",
            "GeneralException",
            None,
        )
    assert real.status == "online"
    assert real.history == []
    for word in ("away", "away_manual", "away_and_reassigning", "offline", "online"):
        response = put(client, word)
        assert response.status_code == 200
        assert response.json()["data"]["availability_status"] == word
    assert put(client, "online").status_code == 200  # same status: unchanged
    assert [s for _, s, _ in real.history] == [
        "away",
        "away_manual",
        "away_and_reassigning",
        "offline",
        "online",
    ]
    assert client.put(AVAILABILITY_PATH, content=b"{").status_code == 400


@pytest.mark.parametrize("client", ["real"], indirect=True)
def test_libredesk_idle_guard(real: LibredeskServer, client: httpx.Client) -> None:
    for manual in ("away_manual", "away_and_reassigning"):
        assert put(client, manual, "user").status_code == 200
        for word in ("online", "away", "available"):  # unknown words too: the guard comes first
            response = put(client, word, "idle")
            assert response.status_code == 200
            assert response.json()["data"]["availability_status"] == manual
    assert put(client, "online", "user").json()["data"]["availability_status"] == "online"
    assert put(client, "away", "idle").json()["data"]["availability_status"] == "away"
    assert put(client, "online", "idle").json()["data"]["availability_status"] == "online"
    real.set_status("away_manual")
    assert put(client, "online", "idle").json()["data"]["availability_status"] == "away_manual"
    with pytest.raises(ValueError, match="not a libredesk status"):
        real.set_status("available")


@pytest.mark.parametrize("client", ["real"], indirect=True)
def test_recording(real: LibredeskServer, client: httpx.Client) -> None:
    put(client, "away", "idle")
    put(client, "away_manual")
    client.get(ME_PATH)
    puts = real.requests("PUT", AVAILABILITY_PATH)
    assert real.puts() == [("away", "idle"), ("away_manual", "user")]
    assert puts[0].json == {"status": "away", "source": "idle"}
    assert puts[0].authorization_present
    assert puts[0].header("authorization") == "<redacted>"
    assert "secret" not in repr(puts[0])
    assert puts[0].mono <= puts[1].mono
    assert abs(puts[0].wall - time.time()) < 5
    assert len(real.requests(path=ME_PATH)) == 1
    assert [src for _, _, src in real.history] == ["idle", "user"]
    assert real.wait_for_put("away_manual", timeout=0.1) is puts[1]
    assert real.wait_for_put("away_manual", "idle", timeout=0.1) is None
    assert real.wait_for_put("away", after=1, timeout=0.1) is None
    real.clear_requests()
    assert real.requests() == []
    assert real.puts() == []


def test_wait_for_put_waits_and_measures(real: LibredeskServer) -> None:
    with httpx.Client(base_url=real.url, headers=TOKEN, timeout=5) as c:
        sent_at = time.monotonic()
        real.inject_delay("/api", 0.2)
        put(c, "offline")  # recorded on arrival, before the delay
        found = real.wait_for_put("offline", "user", timeout=1)
        assert found is not None
        assert 0 <= found.mono - sent_at < 0.2
        assert real.wait_for(lambda: real.status == "offline", timeout=1)
        assert not real.wait_for(lambda: False, timeout=0.1)


# ---------------------------------------------------------------- websocket


def test_ws_absent_in_documented_dialect(documented: LibredeskServer) -> None:
    with httpx.Client(base_url=documented.url, headers=TOKEN) as c:
        assert c.get("/ws").status_code == 404
    with pytest.raises(InvalidStatus) as info:
        ws_connect(documented)
    assert info.value.response.status_code == 404


def test_ws_plain_get_is_an_empty_200_and_auth_comes_first(real: LibredeskServer) -> None:
    with httpx.Client(base_url=real.url) as c:
        # Not an upgrade: the upgrader's error hook only logs, so 200, empty.
        plain = c.get("/ws", headers=TOKEN)
        assert (plain.status_code, plain.content) == (200, b"")
        assert c.get("/ws").status_code == 401
        assert c.get("/ws", headers={"Authorization": "token key:bad"}).status_code == 401
    with pytest.raises(InvalidStatus) as info:
        ws_connect(real, headers={"Authorization": "token key:bad"})
    assert info.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as info:
        ws_connect(real, headers={})
    assert info.value.response.status_code == 401
    assert real.ws_connections == 0


ORIGINS = [
    ("https://127.0.0.1:{port}", True),
    ("HTTPS://127.0.0.1:{port}", True),  # Go lower-cases the scheme
    ("https://user@127.0.0.1:{port}", True),  # url.URL.Host has no userinfo
    ("http://localhost:5173", True),  # any localhost origin
    ("https://localhost", True),
    ("ws://localhost:1", True),
    ("https://127.0.0.1", False),  # the port is part of the Host
    ("http://127.0.0.1:{port}", False),  # https only
    ("wss://127.0.0.1:{port}", False),
    ("https://127.0.0.1:{port}.evil.example", False),
    ("https://LOCALHOST", False),  # Hostname() keeps the case: not "localhost"
    ("https://localhost.evil.example", False),
    ("http://127.0.0.1", False),  # 127.0.0.1 is not localhost
    ("https://evil.example", False),
    ("null", False),
    ("", False),
    (None, False),
]


@pytest.mark.parametrize(("origin", "allowed"), ORIGINS)
def test_ws_origin_check_like_cmd_websocket_go(
    real: LibredeskServer, origin: str | None, allowed: bool
) -> None:
    if origin is not None:
        origin = origin.format(port=real.port)
    if allowed:
        with ws_connect(real, origin=origin) as ws:
            ws.send("ping")
            assert ws.recv(timeout=2) == "pong"
        assert (real.ws_connections, real.ws_refused_origins) == (1, 0)
        return
    with pytest.raises(InvalidStatus) as info:
        ws_connect(real, origin=origin or None)
    # Refused: not a 403. The upgrade just does not happen, and the answer is an empty 200.
    assert info.value.response.status_code == 200
    assert info.value.response.body == b""
    status, headers, body = raw_upgrade(real, origin or None)
    assert (status, body) == (200, b"")
    assert "upgrade" not in headers
    assert "sec-websocket-accept" not in headers
    assert real.ws_connections == 0
    assert real.ws_refused_origins == 2


def test_ws_origin_compares_with_the_host_header_case_insensitively(
    real: LibredeskServer,
) -> None:
    # A reverse proxy that rewrites Host breaks the check: the origin no longer matches.
    host = f"Desk.Example:{real.port}"
    assert raw_upgrade(real, f"https://desk.example:{real.port}", host=host)[0] == 101
    assert raw_upgrade(real, "https://desk.example", host=host)[0] == 200
    assert raw_upgrade(real, f"https://desk.example:{real.port}", host="internal:8080")[0] == 200
    assert real.ws_refused_origins == 2
    real.rewrite_host("backend:8080")
    with pytest.raises(InvalidStatus) as info:
        ws_connect(real)
    assert info.value.response.status_code == 200
    assert raw_upgrade(real, "https://backend:8080")[0] == 101
    real.rewrite_host(None)
    with ws_connect(real):
        pass


def test_ping_flips_offline_to_online_silently() -> None:
    with (
        LibredeskServer(dialect="libredesk") as server,
        ws_connect(server) as ws,
        ws_connect(server, origin="http://localhost:5173") as web_app,
        httpx.Client(base_url=server.url, headers=TOKEN) as c,
    ):
        assert server.status == "offline"
        ws.send("ping")
        assert ws.recv(timeout=2) == "pong"
        assert server.status == "online"
        assert server.history[-1][1:] == ("online", "ping")
        assert server.ws_pings == 1
        assert server.last_active_at is not None
        # Nobody is told: neither this socket nor the web app's.
        for socket_ in (ws, web_app):
            with pytest.raises(TimeoutError):
                socket_.recv(timeout=0.3)
        assert server.broadcasts() == []
        # A later PUT online is "equal": 200, unchanged, still nothing pushed.
        response = put(c, "online")
        assert response.json()["data"]["availability_status"] == "online"
        assert len(server.history) == 1
        with pytest.raises(TimeoutError):
            web_app.recv(timeout=0.3)
        assert server.broadcasts() == []


def test_put_online_first_then_ping_is_seen_by_everyone() -> None:
    with (
        LibredeskServer(dialect="libredesk") as server,
        ws_connect(server) as ws,
        ws_connect(server, origin="http://localhost:5173") as web_app,
        httpx.Client(base_url=server.url, headers=TOKEN) as c,
    ):
        assert put(c, "online").status_code == 200
        for socket_ in (ws, web_app):
            assert recv_json(socket_) == update(7, "online")
        ws.send("ping")
        assert ws.recv(timeout=2) == "pong"
        assert server.broadcasts() == ["online"]
        assert [src for _, _, src in server.history] == ["user"]


def test_equal_status_put_is_200_and_pushes_nothing(real: LibredeskServer) -> None:
    with ws_connect(real) as ws, httpx.Client(base_url=real.url, headers=TOKEN) as c:
        for source in ("user", "idle", None):
            response = put(c, "online", source)
            assert response.status_code == 200
            assert response.json()["data"]["availability_status"] == "online"
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)
    assert real.history == []
    assert real.broadcasts() == []


def test_idle_put_over_a_manual_away_is_200_unchanged_and_pushes_nothing(
    real: LibredeskServer,
) -> None:
    with ws_connect(real) as ws, httpx.Client(base_url=real.url, headers=TOKEN) as c:
        for manual in ("away_manual", "away_and_reassigning"):
            put(c, manual, "user")
            assert recv_json(ws) == update(7, manual)
            for word in ("online", "away", "offline"):
                response = put(c, word, "idle")
                assert response.status_code == 200
                assert response.json()["data"]["availability_status"] == manual
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.2)
        # source=user (or any other word, or none) counts as manual and goes through.
        for source, word in (("user", "online"), ("robot", "away_manual"), (None, "online")):
            assert put(c, word, source).json()["data"]["availability_status"] == word
            assert recv_json(ws) == update(7, word)


def test_broadcasts_reach_all_clients(real: LibredeskServer) -> None:
    with (
        ws_connect(real) as first,
        ws_connect(real, origin="http://localhost:5173") as second,
        httpx.Client(base_url=real.url, headers=TOKEN) as c,
    ):
        assert real.wait_for(lambda: real.ws_connected() == 2, timeout=2)
        put(c, "away_manual")
        real.set_status("online")
        real.broadcast_other_agent(99, "offline")
        put(c, "online")  # no change: no push
        real.ws_send_raw("not json")
        for ws in (first, second):
            assert recv_json(ws) == update(7, "away_manual")
            assert recv_json(ws) == update(7, "online")
            assert recv_json(ws) == update(99, "offline")
            assert ws.recv(timeout=2) == "not json"
        assert real.history[-1][1:] == ("online", "web")
        assert real.ws_connections == 2
        assert real.broadcasts() == ["away_manual", "online"]
        assert real.broadcasts(99) == ["offline"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("hello", "invalid message format"),
        ("PING", "invalid message format"),
        (" ping", "invalid message format"),
        ("[1, 2]", "invalid message format"),
        ('"ping"', "invalid message format"),
        ('{"type": 5}', "invalid message format"),
        ("{", "invalid message format"),
        ("{}", "unknown message type"),
        ("null", "unknown message type"),
        ('{"type": "pong"}', "unknown message type"),
        ('{"type": "typing", "data": {"conversation_uuid": "x"}}', None),
        ('{"type": "list_subscribe_replace", "data": {"uuids": []}}', None),
    ],
)
def test_client_text_other_than_ping(real: LibredeskServer, text: str, error: str | None) -> None:
    with ws_connect(real) as ws:
        ws.send(text)
        if error is not None:
            assert recv_json(ws) == {"type": "error", "data": error}
        ws.send("ping")
        assert ws.recv(timeout=2) == "pong"  # the socket stays open either way
        assert real.ws_errors() == ([] if error is None else [error])
        assert real.ws_pings == 1


def test_a_binary_frame_drops_the_socket(real: LibredeskServer) -> None:
    with ws_connect(real) as ws:
        ws.send(b"ping")
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=2)
        assert info.value.rcvd is None  # no close frame: the connection is just gone
    assert real.wait_for(lambda: real.ws_connected() == 0, timeout=2)
    assert real.ws_pings == 0


def test_protocol_pings_every_two_seconds_do_not_count_as_activity() -> None:
    with (
        LibredeskServer(dialect="libredesk", initial_status="online", last_active_ago=None) as srv,
        ws_connect(srv) as ws,
    ):
        started = time.monotonic()
        # The client library answers each ping frame with a pong frame (while it reads).
        with pytest.raises(TimeoutError):
            ws.recv(timeout=4.6)
        elapsed = time.monotonic() - started
        assert srv.ws_protocol_pings == 2, elapsed
        assert srv.wait_for(lambda: srv.ws_protocol_pongs == 2, timeout=1)
        assert srv.last_active_at is None
        assert srv.sweep_now()  # pongs kept nobody online
        assert recv_json(ws) == update(7, "offline")


def test_protocol_ping_interval_is_settable() -> None:
    with (
        LibredeskServer(dialect="libredesk", protocol_ping_interval=0.1) as fast,
        ws_connect(fast) as ws,
    ):
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.55)
        assert 3 <= fast.ws_protocol_pings <= 6
    with (
        LibredeskServer(dialect="libredesk", protocol_ping_interval=None) as quiet,
        ws_connect(quiet) as ws,
    ):
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)
        assert quiet.ws_protocol_pings == 0


def test_admin_edit_kicks_without_a_push() -> None:
    with (
        LibredeskServer(dialect="libredesk", initial_status="online") as server,
        ws_connect(server) as first,
        ws_connect(server, origin="http://localhost:5173") as second,
    ):
        assert server.wait_for(lambda: server.ws_connected() == 2, timeout=2)
        server.admin_edit(status="offline")
        for ws in (first, second):
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=2)  # the close comes first: no offline push before it
            assert info.value.rcvd is not None
            assert (info.value.rcvd.code, info.value.rcvd.reason) == (1000, "kicked")
        assert server.ws_connected() == 0
        assert server.ws_kicks == 2
        assert server.status == "offline"
        assert server.history[-1][1:] == ("offline", "admin")
        assert server.broadcasts() == []
        # The agent may come back at once.
        with ws_connect(server) as again:
            again.send("ping")
            assert again.recv(timeout=2) == "pong"
        # An edit that only touches the name kicks too; disabling makes the key 401.
        with ws_connect(server) as ws:
            server.admin_edit(enabled=False)
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=2)
        with pytest.raises(InvalidStatus) as refused:
            ws_connect(server)
        assert refused.value.response.status_code == 401
        with pytest.raises(ValueError, match="not a libredesk status"):
            server.admin_edit(status="available")


def test_ws_mute_refuse_and_drop(real: LibredeskServer) -> None:
    real.ws_refuse(503)
    with pytest.raises(InvalidStatus) as info:
        ws_connect(real)
    assert info.value.response.status_code == 503
    real.ws_refuse(None)
    with ws_connect(real) as ws:
        real.ws_mute(True)
        ws.send("ping")
        assert real.wait_for(lambda: real.ws_pings == 1, timeout=2)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.2)
        real.ws_mute(False)
        ws.send("ping")
        assert ws.recv(timeout=2) == "pong"
        real.ws_drop_all()
        assert real.ws_connected() == 0
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=2)
    assert real.ws_connections == 1


# ---------------------------------------------------------------- sweep


def test_offline_sweep() -> None:
    with LibredeskServer(
        dialect="libredesk", initial_status="online", sweep_period=0.2, sweep_threshold=0.5
    ) as server:
        # Never pinged: active at the start by default, so swept once the threshold passed.
        assert server.wait_for(lambda: server.status == "offline", timeout=3)
        assert server.history[-1][1:] == ("offline", "sweep")
        assert server.broadcasts() == ["offline"]
        swept_at = server.history[-1][0]
        with ws_connect(server) as ws, httpx.Client(base_url=server.url, headers=TOKEN) as c:
            put(c, "online")
            assert recv_json(ws) == update(7, "online")
            # Pinging keeps the agent online past the threshold.
            deadline = time.monotonic() + 0.8
            while time.monotonic() < deadline:
                ws.send("ping")
                assert ws.recv(timeout=2) == "pong"
                time.sleep(0.1)
            assert server.status == "online"
            # Stop pinging: swept, and the push says so.
            assert recv_json(ws, timeout=3) == update(7, "offline")
        assert server.history[-1][0] > swept_at
        # Manual away is never swept; an idle away is.
        server.set_status("away_manual")
        time.sleep(0.7)
        assert server.status == "away_manual"
        assert not server.sweep_now()
        server.set_status("away_and_reassigning")
        assert not server.sweep_now()
        server.set_status("away")
        assert server.sweep_now()
        assert server.status == "offline"
        assert not server.sweep_now()  # offline stays offline, nothing pushed twice
        assert server.broadcasts().count("offline") == 3


def test_put_does_not_refresh_last_active_at() -> None:
    with (
        LibredeskServer(dialect="libredesk", initial_status="online", sweep_threshold=0.3) as srv,
        httpx.Client(base_url=srv.url, headers=TOKEN) as c,
    ):
        started = srv.last_active_at
        time.sleep(0.35)
        for word in ("away", "online"):
            assert put(c, word).status_code == 200
        assert c.get(ME_PATH).status_code == 200
        assert srv.last_active_at == started
        assert srv.sweep_now()  # the PUT online just before did not save it
        assert srv.status == "offline"


def test_a_null_last_active_at_is_swept_at_the_first_sweep() -> None:
    with (
        LibredeskServer(dialect="libredesk", initial_status="online", last_active_ago=None) as srv,
        httpx.Client(base_url=srv.url, headers=TOKEN) as c,
    ):
        assert c.get(ME_PATH).json()["data"]["last_active_at"] is None
        assert srv.sweep_now()
    with LibredeskServer(dialect="libredesk", initial_status="online", last_active_ago=400) as old:
        assert old.sweep_now()  # last active before the server's start counts too
    with LibredeskServer(dialect="libredesk", initial_status="online", last_active_ago=60) as new:
        assert not new.sweep_now()


def test_sweep_period_and_age_can_change_while_running() -> None:
    with LibredeskServer(dialect="libredesk", initial_status="online") as server:
        # No sweep by default; turn it on with a short age.
        assert not server.wait_for(lambda: server.status == "offline", timeout=0.4)
        server.set_sweep(0.1, threshold=0.2)
        assert server.wait_for(lambda: server.status == "offline", timeout=2)
        server.set_status("online")
        with ws_connect(server) as ws:
            ws.send("ping")
            assert ws.recv(timeout=2) == "pong"
            # A long age: pinged a moment ago, nothing happens.
            server.set_sweep(0.05, threshold=60)
            assert not server.wait_for(lambda: server.status == "offline", timeout=0.3)
            # Stopped: even an old last_active_at stays.
            server.set_sweep(None, threshold=0)
            time.sleep(0.3)
            assert server.status == "online"
            # The period starts counting when set.
            server.set_sweep(0.5)
            set_at = time.monotonic()
            assert server.wait_for(lambda: server.status == "offline", timeout=2)
            assert time.monotonic() - set_at >= 0.45
        with pytest.raises(ValueError):
            server.set_sweep(0)
        with pytest.raises(ValueError):
            server.set_sweep(1, threshold=-1)
    with LibredeskServer(dialect="documented") as documented, pytest.raises(RuntimeError):
        documented.set_sweep(1)


# ---------------------------------------------------------------- faults


@pytest.mark.parametrize("client", ["real"], indirect=True)
def test_inject_status(real: LibredeskServer, client: httpx.Client) -> None:
    real.inject_status("/api/v1/agents/me/availability", 429, count=2, retry_after=1.5)
    real.inject_status("/api", 503, retry_after="Wed, 21 Oct 2099 07:28:00 GMT")
    for _ in range(2):
        response = put(client, "away")
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "1.5"
        assert response.json()["status"] == "error"
    response = client.get(ME_PATH)
    assert response.status_code == 503
    assert response.headers["Retry-After"].startswith("Wed")
    assert response.json()["error_type"] == "GeneralException"
    assert put(client, "away").status_code == 200
    assert real.puts() == [("away", "user")] * 3  # faulted requests are recorded too
    real.inject_status("/api", 502, retry_after=2.0, body=b"<html>bad gateway</html>", count=1)
    response = client.get(ME_PATH)
    assert (response.status_code, response.text) == (502, "<html>bad gateway</html>")
    assert response.headers["Retry-After"] == "2"
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("client", ["real"], indirect=True)
def test_inject_delay(real: LibredeskServer, client: httpx.Client) -> None:
    real.inject_delay("/api", 0.3)
    start = time.monotonic()
    assert client.get(ME_PATH).status_code == 200
    assert time.monotonic() - start >= 0.3
    real.inject_delay("/api", 2.0)
    with pytest.raises(httpx.ReadTimeout):
        client.get(ME_PATH, timeout=0.2)
    start = time.monotonic()
    assert client.get(ME_PATH).status_code == 200
    assert time.monotonic() - start < 0.3


@pytest.mark.parametrize("client", ["real"], indirect=True)
def test_inject_reset(real: LibredeskServer, client: httpx.Client) -> None:
    real.inject_reset(AVAILABILITY_PATH, count=2)
    for _ in range(2):
        with pytest.raises(httpx.TransportError):
            put(client, "away")
    assert real.status == "online"
    assert put(client, "away").status_code == 200
    assert len(real.puts()) == 3
    real.inject_reset("/ws")
    with pytest.raises((InvalidHandshake, OSError)):
        ws_connect(real)


@pytest.mark.parametrize("client", ["real"], indirect=True)
def test_inject_body_and_redirect(real: LibredeskServer, client: httpx.Client) -> None:
    real.inject_body("/api", b'{"status": "succ', count=1)
    response = client.get(ME_PATH)
    assert (response.status_code, response.content) == (200, b'{"status": "succ')
    real.inject_body("/api", b"<html>login</html>", content_type="text/html; charset=utf-8")
    response = client.get(ME_PATH)
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    real.inject_body("/api", b"x" * 3_000_000)
    assert len(client.get(ME_PATH).content) == 3_000_000
    real.inject_redirect("/api", "https://sso.example/login", status=307)
    response = client.get(ME_PATH)
    assert response.status_code == 307
    assert response.headers["Location"] == "https://sso.example/login"
    real.inject_status("/api", 500, count=5)
    real.inject_delay("/nothing", 1)
    assert real.pending_faults() == 6
    real.clear_faults()
    assert real.pending_faults() == 0
    assert client.get(ME_PATH).status_code == 200


# ---------------------------------------------------------------- lifecycle


def refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def test_restart_on_the_same_port(real: LibredeskServer) -> None:
    port = real.port
    with ws_connect(real) as ws:
        real.restart(0.1)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=2)
    assert real.port == port
    assert real.is_up()
    with ws_connect(real) as ws:
        ws.send("ping")
        assert ws.recv(timeout=2) == "pong"
    # Non-blocking: refused while down, then back by itself.
    real.restart(0.3, block=False)
    assert not real.is_up()
    assert refused(port)
    assert real.wait_for(real.is_up, timeout=3)
    with httpx.Client(base_url=real.url, headers=TOKEN) as c:
        assert c.get(ME_PATH).json()["data"]["availability_status"] == "online"
    assert real.ws_connections == 2


def test_stop_closes_websockets_promptly() -> None:
    server = LibredeskServer(dialect="libredesk").start()
    port = server.port
    try:
        with ws_connect(server) as ws:
            start = time.monotonic()
            server.stop()
            assert time.monotonic() - start < 1.5
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=2)
    finally:
        server.stop()
    assert refused(port)
    server.stop()  # idempotent


def test_fixed_port_and_start_errors() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with LibredeskServer(port=port) as server:
        assert server.url == f"http://127.0.0.1:{port}"
        with pytest.raises(OSError):
            LibredeskServer(port=port).start()
        with pytest.raises(RuntimeError):
            server.start()
    with pytest.raises(ValueError):
        LibredeskServer(dialect="documented", initial_status="online")


def test_runs_as_a_script() -> None:
    script = Path(__file__).with_name("libredesk_server.py")
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    with subprocess.Popen(
        [sys.executable, str(script), "--port", "0", "--api-key", "k", "--api-secret", "s"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()
            url = banner.strip().rsplit(" ", 1)[-1]
            assert url.startswith("http://127.0.0.1:")
            assert process.stdout.readline().strip() == "status: offline"
            with httpx.Client(base_url=url, headers={"Authorization": "token k:s"}) as c:
                assert put(c, "away_manual").status_code == 200
            assert "status -> away_manual (user)" in process.stdout.readline()
        finally:
            process.send_signal(signal.SIGINT)  # Ctrl-C
            assert process.wait(timeout=5) == 0
