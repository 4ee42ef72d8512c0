"""The real agent behind a real proxy: REST and /ws both go through Debian's tinyproxy, the only
thing on the machine that can resolve the server's name (tests/tinyproxy.py), so a connection
that skipped the proxy would fail; and loopback never goes through it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent_process import AgentProcess, login, run_cli
from tests.desktop import Input
from tests.libredesk_server import AVAILABILITY_PATH, ME_PATH, LibredeskServer
from tests.tinyproxy import DESK, PROXY_SECRET, PROXY_USER, TinyProxy, server_tls

pytestmark = pytest.mark.desktop

NAME = DESK
KEY = "proxied-key"
SECRET = "proxied-secret-Zq9"
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def with_proxies(env: dict[str, str], **proxies: str) -> dict[str, str]:
    """``env`` with every proxy variable replaced by exactly ``proxies``."""
    clean = {k: v for k, v in env.items() if k.lower() not in _PROXY_VARS}
    return {**clean, **proxies}


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[LibredeskServer, Path]]:
    context, cert = server_tls(tmp_path, NAME)
    with LibredeskServer(
        dialect="libredesk", api_key=KEY, api_secret=SECRET, ssl_context=context
    ) as server:
        yield server, cert


def test_https_and_wss_through_an_authenticating_proxy(
    env: dict[str, str],
    desk_proxy: TinyProxy,
    tls_server: tuple[LibredeskServer, Path],
    user_input: Input,
) -> None:
    server, cert = tls_server
    url = f"https://{NAME}:{server.port}"
    proxied = with_proxies(
        env,
        HTTPS_PROXY=desk_proxy.url(user=PROXY_USER, password=PROXY_SECRET),
        NO_PROXY="localhost",
    )
    result = login(proxied, url, KEY, SECRET, "--ca-bundle", str(cert))
    assert result.returncode == 0, result.stdout + result.stderr
    # Without the proxy the name does not resolve: the agent cannot get there on its own.
    direct = run_cli(["status"], with_proxies(env), timeout=30)
    assert direct.returncode != 0
    user_input.touch()
    with AgentProcess(["run", "--no-tray", "--keepalive-interval", "1"], proxied) as agent:
        assert server.wait_for_put("online", "user", timeout=15), agent.output()
        assert server.wait_for(lambda: server.ws_pings >= 2, timeout=15), agent.output()
        assert server.ws_connected() == 1
        output = agent.output()
    tunnels = [r for r in desk_proxy.requests() if r.method == "CONNECT"]
    assert tunnels, desk_proxy.log()
    assert {r.target for r in tunnels} == {f"{NAME}:{server.port}"}
    # REST (login, the agent's client) and /ws each opened their own tunnels.
    assert len(tunnels) >= 3, desk_proxy.log()
    assert len(server.requests("GET", "/ws")) >= 1
    assert PROXY_SECRET not in output

    doctor = run_cli(["doctor"], proxied, timeout=60)
    shown = f"via proxy http://127.0.0.1:{desk_proxy.port} (HTTPS_PROXY)"
    server_line = next(line for line in doctor.stdout.splitlines() if " server: " in line)
    ws_line = next(line for line in doctor.stdout.splitlines() if " /ws: " in line)
    assert server_line.startswith("ok   server: "), doctor.stdout
    assert shown in server_line
    assert ws_line.startswith("ok   /ws: "), doctor.stdout
    assert shown in ws_line
    assert PROXY_SECRET not in doctor.stdout + doctor.stderr


def test_plain_http_rest_is_forwarded_and_ws_is_tunnelled(
    env: dict[str, str], desk_proxy: TinyProxy, user_input: Input
) -> None:
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as server:
        url = f"http://{NAME}:{server.port}"
        proxied = with_proxies(
            env, http_proxy=desk_proxy.url(user=PROXY_USER, password=PROXY_SECRET)
        )
        result = login(proxied, url, KEY, SECRET, "--allow-insecure-http")
        assert result.returncode == 0, result.stdout + result.stderr
        user_input.touch()
        with AgentProcess(["run", "--no-tray", "--keepalive-interval", "1"], proxied) as agent:
            assert server.wait_for_put("online", "user", timeout=15), agent.output()
            assert server.wait_for(lambda: server.ws_pings >= 1, timeout=15), agent.output()
        seen = desk_proxy.requests()
        assert any(r.method == "GET" and r.target == f"{url}{ME_PATH}" for r in seen), seen
        assert any(r.method == "PUT" and r.target == f"{url}{AVAILABILITY_PATH}" for r in seen)
        # A WebSocket upgrade is not forwarded like a GET: it asks for a tunnel. (The one GET
        # of /ws the proxy forwards is the REST client's probe for the dialect.)
        assert any(r.method == "CONNECT" and r.target == f"{NAME}:{server.port}" for r in seen)
        assert server.ws_connections >= 1


def test_loopback_never_goes_through_the_proxy(
    env: dict[str, str], desk_proxy: TinyProxy, user_input: Input
) -> None:
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as server:
        everywhere = desk_proxy.url(user=PROXY_USER, password=PROXY_SECRET)
        proxied = with_proxies(
            env,
            HTTP_PROXY=everywhere,
            HTTPS_PROXY=everywhere,
            ALL_PROXY=everywhere,
            http_proxy=everywhere,
        )
        assert login(proxied, server.url, KEY, SECRET).returncode == 0
        user_input.touch()
        with AgentProcess(["run", "--no-tray", "--keepalive-interval", "1"], proxied) as agent:
            assert server.wait_for_put("online", "user", timeout=15), agent.output()
            assert server.wait_for(lambda: server.ws_pings >= 1, timeout=15), agent.output()
        for argv in (["status"], ["set", "away"], ["set", "available"]):
            result = run_cli(argv, proxied, timeout=30)
            assert result.returncode == 0, (argv, result.stdout, result.stderr)
        doctor = run_cli(["doctor"], proxied, timeout=60)
        lines = doctor.stdout.splitlines()
        server_line = next(line for line in lines if " server: " in line)
        ws_line = next(line for line in lines if " /ws: " in line)
        assert server_line.startswith("ok   server: "), doctor.stdout
        assert server_line.endswith("(direct)"), server_line
        assert ws_line.startswith("ok   /ws: "), doctor.stdout
        assert "direct" in ws_line, ws_line
    # Not one request reached the proxy, so neither did the Authorization header.
    assert desk_proxy.requests() == [], desk_proxy.log()
    assert SECRET not in desk_proxy.log()
    assert "Authorization" not in desk_proxy.log()
