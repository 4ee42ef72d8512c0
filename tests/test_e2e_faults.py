"""The real agent process against a server that misbehaves: each case asserts the final server
status and bounds the number of requests.

The documented dialect is used so that every status change is a PUT we can count (on the real
server's dialect a /ws ping also turns offline into online); test_e2e_libredesk.py covers /ws.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.agent_process import KEY, SECRET, AgentProcess, login, run_cli, signed_in
from tests.desktop import Input, wait_until
from tests.libredesk_server import AVAILABILITY_PATH, ME_PATH, LibredeskServer

pytestmark = pytest.mark.desktop


@pytest.fixture
def server() -> Iterator[LibredeskServer]:
    srv = LibredeskServer(dialect="documented", api_key=KEY, api_secret=SECRET)
    srv.start()
    yield srv
    srv.stop()


def start(env: dict[str, str], *args: str) -> AgentProcess:
    return AgentProcess(["run", "--no-tray", "--keepalive-interval", "1", *args], env)


def test_5xx_burst_is_retried_until_delivered(env: dict[str, str], server: LibredeskServer) -> None:
    signed_in(env, server)
    server.inject_status(AVAILABILITY_PATH, status=500, count=3)
    with start(env) as agent:
        assert server.wait_for(lambda: server.status == "available", 20), agent.output()
        attempts = server.requests("PUT")
        assert len(attempts) == 4, "three failures, then one success; no more"
        assert agent.terminate() == 0


def test_a_503_burst_at_start_loses_no_status(env: dict[str, str], server: LibredeskServer) -> None:
    # Regression: the retries outlasted the away threshold, the idle away replaced the
    # unanswered start-up Available, and its look found the server still offline: the
    # agent stayed "Offline (start)" for good.
    signed_in(env, server)
    server.inject_status(AVAILABILITY_PATH, status=503, count=3, retry_after=1)
    with start(env, "--away-after", "2") as agent:
        assert server.wait_for_put("available", "user", timeout=20), agent.output()
        # And then idleness acts on what the server holds: away, with nobody at the desk.
        assert server.wait_for(lambda: server.status == "away", 10), agent.output()
        assert agent.terminate() == 0


@pytest.mark.parametrize("code", [429, 503])
def test_retry_after_is_honoured(env: dict[str, str], server: LibredeskServer, code: int) -> None:
    signed_in(env, server)
    server.inject_status(AVAILABILITY_PATH, status=code, count=1, retry_after=2)
    with start(env) as agent:
        assert server.wait_for(lambda: server.status == "available", 15), agent.output()
        first, second = server.requests("PUT")[:2]
        assert second.mono - first.mono >= 2.0, "came back sooner than Retry-After"
        assert second.mono - first.mono < 4.0
        assert len(server.requests("PUT")) == 2
        assert agent.terminate() == 0


def test_401_mid_run_stops_then_recovers_after_login(
    env: dict[str, str], server: LibredeskServer, user_input: Input
) -> None:
    signed_in(env, server)
    with start(env, "--away-after", "2") as agent:
        assert server.wait_for_put("available", "user", timeout=10), agent.output()
        server.set_credentials(KEY, "rotated-secret")
        server.clear_requests()
        user_input.touch()
        # Going idle needs the server (a read, then a PUT), which refuses us; then silence.
        assert server.wait_for(lambda: len(server.requests()) >= 1, 6)
        time.sleep(15)
        refused = [r for r in server.requests() if r.path.startswith("/api/")]
        assert len(refused) <= 4, f"hammering after 401: {len(refused)} requests"
        assert agent.proc.poll() is None, "the agent must keep running"
        assert agent.wait_output(lambda line: "Signed out" in line, 1), agent.output()

        # New credentials through `login`: the agent resumes by itself.
        result = login(env, server.url, KEY, "rotated-secret")
        assert result.returncode == 0, result.stderr
        assert server.wait_for(lambda: server.status == "away", 10), agent.output()
        count = len(server.puts())
        user_input.touch()
        assert server.wait_for_put("available", "idle", timeout=5, after=count), agent.output()
        assert agent.terminate() == 0
        assert server.status == "offline"


def test_403_disabled_account_is_not_hammered(env: dict[str, str], server: LibredeskServer) -> None:
    signed_in(env, server)
    server.disable_account(True)
    with start(env) as agent:
        assert agent.wait_output(lambda line: "403" in line, 10), agent.output()
        time.sleep(5)
        assert len([r for r in server.requests() if r.path.startswith("/api/")]) <= 3
        assert agent.proc.poll() is None
        assert agent.terminate() == 0


def test_slow_answers_do_not_block_input_or_quit(
    env: dict[str, str], server: LibredeskServer, user_input: Input
) -> None:
    signed_in(env, server)
    with start(env, "--away-after", "2") as agent:
        assert server.wait_for_put("available", "user", timeout=10), agent.output()
        server.inject_delay(AVAILABILITY_PATH, 30, count=5)
        user_input.touch()
        assert server.wait_for(lambda: len(server.requests("PUT")) >= 2, 6)  # the hanging away
        user_input.touch()  # back while the away hangs
        began = time.monotonic()
        code = agent.terminate()
        assert code == 0, agent.output()
        assert time.monotonic() - began < 3.0, "quit must stay bounded with a hanging server"


def test_server_down_at_start_then_up(env: dict[str, str], server: LibredeskServer) -> None:
    signed_in(env, server)
    server.restart(down_for=4, block=False)
    with start(env) as agent:
        assert server.wait_for_put("available", "user", timeout=30), agent.output()
        assert server.status == "available"
        assert agent.terminate() == 0


def test_set_before_the_first_connect_is_queued_then_sent_instead_of_the_start(
    env: dict[str, str], server: LibredeskServer
) -> None:
    signed_in(env, server)
    server.down()
    with start(env) as agent:
        wait_until(
            lambda: "agent: running" in run_cli(["status"], env).stdout,
            timeout=15,
            what="the agent's control channel",
        )
        result = run_cli(["set", "away"], env)
        assert result.returncode == 0, (result.stderr, agent.output())
        assert result.stdout.startswith("Queued, will be sent when connected to the server ("), (
            result.stdout
        )
        status = run_cli(["status"], env)
        assert "  asked for: Away, to be sent when connected to the server" in status.stdout, (
            status.stdout
        )
        server.up()
        assert server.wait_for_put("away", "user", timeout=30), agent.output()
        # The person's choice, once: the start's Available never went over it.
        assert server.puts() == [("away", "user")]
        assert "asked for" not in run_cli(["status"], env).stdout
        assert agent.terminate() == 0
        assert server.puts() == [("away", "user"), ("offline", "user")]


def test_connection_reset_is_retried(env: dict[str, str], server: LibredeskServer) -> None:
    signed_in(env, server)
    server.inject_reset(ME_PATH, count=2)
    with start(env) as agent:
        assert server.wait_for_put("available", "user", timeout=20), agent.output()
        assert agent.terminate() == 0
