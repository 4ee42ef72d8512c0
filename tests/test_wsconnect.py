"""Opening /ws (presence_agent/wsconnect.py) against the test server, directly and through a
real tinyproxy that alone can resolve the server's name (tests/tinyproxy.py)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus

from presence_agent.keepalive import WsParams, origin_for, ws_url
from presence_agent.proxy import ProxyError
from presence_agent.wsconnect import (
    ORIGIN_REFUSED,
    OriginRefused,
    ProxyConnectError,
    connect,
    describe_route,
)
from tests.libredesk_server import LibredeskServer
from tests.tinyproxy import DESK, PROXY_SECRET, PROXY_USER, TinyProxy, server_tls

NAME = DESK


def params(server_url: str, cafile: Path | None = None, auth: str = "token key:secret") -> WsParams:
    return WsParams(
        url=ws_url(server_url),
        origin=origin_for(server_url),
        authorization=auth.encode(),
        ssl=ssl.create_default_context(cafile=str(cafile) if cafile else None),
        user_agent="presence-agent-test",
    )


def ping(ws: object) -> str:
    ws.send("ping")  # type: ignore[attr-defined]
    answer: str = ws.recv(timeout=3)  # type: ignore[attr-defined]
    ws.close()  # type: ignore[attr-defined]
    return answer


@pytest.fixture
def real() -> Iterator[LibredeskServer]:
    with LibredeskServer(dialect="libredesk", initial_status="online") as server:
        yield server


# -- direct --------------------------------------------------------------------------------


def test_direct_to_loopback(real: LibredeskServer) -> None:
    assert ping(connect(params(real.url), 5, environ={})) == "pong"
    assert real.ws_pings == 1


def test_a_refused_origin_is_named_not_retried_as_a_network_error(real: LibredeskServer) -> None:
    real.rewrite_host("backend:8080")  # a reverse proxy that rewrites Host
    with pytest.raises(OriginRefused) as info:
        connect(params(real.url), 5, environ={})
    assert str(info.value) == ORIGIN_REFUSED
    assert real.ws_refused_origins == 1
    assert real.ws_connections == 0


def test_auth_refusal_keeps_its_status(real: LibredeskServer) -> None:
    with pytest.raises(InvalidStatus) as info:
        connect(params(real.url, auth="token key:wrong"), 5, environ={})
    assert info.value.response.status_code == 401


def test_no_redirect_is_followed(real: LibredeskServer) -> None:
    with LibredeskServer(dialect="libredesk") as elsewhere:
        real.inject_redirect("/ws", elsewhere.ws_url, status=307)
        with pytest.raises(Exception) as info:
            connect(params(real.url), 5, environ={})
        assert not isinstance(info.value, OriginRefused)
        assert elsewhere.requests() == []
    assert len(real.requests("GET", "/ws")) == 1


def test_describe_route() -> None:
    assert describe_route("wss://desk.example/ws", {}) == "direct"
    assert describe_route("wss://127.0.0.1/ws", {"HTTPS_PROXY": "http://p:1"}) == "direct"
    shown = describe_route("wss://desk.example/ws", {"HTTPS_PROXY": "http://u:hunter22@p:1"})
    assert shown == "via proxy http://p:1 (HTTPS_PROXY)"
    bad = describe_route("wss://desk.example/ws", {"ALL_PROXY": "socks5://u:hunter22@p:1"})
    assert bad.startswith("unusable proxy setting: ALL_PROXY")
    assert "hunter22" not in bad


def test_an_unusable_proxy_setting_is_a_clear_error() -> None:
    with pytest.raises(ProxyError, match="ALL_PROXY") as info:
        connect(params("https://desk.example"), 5, environ={"ALL_PROXY": "socks5://u:hunter22@p"})
    assert "hunter22" not in str(info.value)


# -- through tinyproxy -----------------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[LibredeskServer, Path]]:
    context, cert = server_tls(tmp_path, NAME)
    with LibredeskServer(dialect="libredesk", ssl_context=context, initial_status="online") as srv:
        yield srv, cert


def test_the_name_resolves_only_through_the_proxy(desk_proxy: TinyProxy) -> None:
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo(NAME, 443)


def test_wss_through_an_http_proxy_with_credentials(
    desk_proxy: TinyProxy, tls_server: tuple[LibredeskServer, Path]
) -> None:
    server, cert = tls_server
    url = f"https://{NAME}:{server.port}"
    environ = {"HTTPS_PROXY": desk_proxy.url(user=PROXY_USER, password=PROXY_SECRET)}
    assert ping(connect(params(url, cert), 10, environ=environ)) == "pong"
    assert desk_proxy.wait_for_request("CONNECT", f"{NAME}:{server.port}") is not None
    assert server.ws_pings == 1
    # Without a proxy the name does not even resolve: the tunnel was the only way.
    with pytest.raises(OSError):
        connect(params(url, cert), 5, environ={})
    # NO_PROXY sends it direct, and so it fails the same way.
    with pytest.raises(OSError):
        connect(params(url, cert), 5, environ={**environ, "NO_PROXY": NAME})
    assert len([r for r in desk_proxy.requests() if r.method == "CONNECT"]) == 1


def test_plain_ws_goes_through_an_http_proxy_as_connect(desk_proxy: TinyProxy) -> None:
    with LibredeskServer(dialect="libredesk", initial_status="online") as server:
        url = f"http://{NAME}:{server.port}"
        environ = {"http_proxy": desk_proxy.url(user=PROXY_USER, password=PROXY_SECRET)}
        assert ping(connect(params(url), 10, environ=environ)) == "pong"
        assert desk_proxy.wait_for_request("CONNECT", f"{NAME}:{server.port}") is not None
        # ALL_PROXY serves as well when the scheme's own is unset.
        environ = {"ALL_PROXY": desk_proxy.url(user=PROXY_USER, password=PROXY_SECRET)}
        assert ping(connect(params(url), 10, environ=environ)) == "pong"
        assert server.ws_pings == 2


def test_proxy_credentials_wrong_or_missing_are_said_without_the_secret(
    desk_proxy: TinyProxy, tls_server: tuple[LibredeskServer, Path]
) -> None:
    server, cert = tls_server
    url = f"https://{NAME}:{server.port}"
    wrong = {"HTTPS_PROXY": desk_proxy.url(user=PROXY_USER, password="Not" + PROXY_SECRET)}
    with pytest.raises(ProxyConnectError) as info:
        connect(params(url, cert), 10, environ=wrong)
    # tinyproxy answers wrong credentials with 401, missing ones with 407.
    where = f"proxy http://127.0.0.1:{desk_proxy.port}"
    assert str(info.value) == f"{where} refused the credentials in HTTPS_PROXY (HTTP 401)"
    with pytest.raises(ProxyConnectError) as info:
        connect(params(url, cert), 10, environ={"HTTPS_PROXY": desk_proxy.url()})
    assert "asks for credentials (HTTP 407): put user:password@ in HTTPS_PROXY" in str(info.value)
    assert server.ws_connections == 0


def test_a_proxy_that_is_not_there(tls_server: tuple[LibredeskServer, Path]) -> None:
    server, cert = tls_server
    # Bound but not listening, and held while the test runs: connecting is refused, and
    # nothing can take the port meanwhile (another test's server, or this very connect's
    # own ephemeral source port, which would connect the socket to itself).
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        environ = {"HTTPS_PROXY": f"http://{PROXY_USER}:{PROXY_SECRET}@127.0.0.1:{port}"}
        with pytest.raises(ProxyConnectError) as info:
            connect(params(f"https://{NAME}:{server.port}", cert), 5, environ=environ)
    assert f"cannot reach proxy http://127.0.0.1:{port} (HTTPS_PROXY)" in str(info.value)
    assert PROXY_SECRET not in str(info.value)
