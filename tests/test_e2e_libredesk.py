"""The real agent against the real server's dialect: its vocabulary, the offline sweep that only
/ws pings hold off, the Origin check, and live pushes from the web app."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.agent_process import KEY, SECRET, AgentProcess, run_cli, signed_in
from tests.desktop import Input
from tests.libredesk_server import LibredeskServer

pytestmark = pytest.mark.desktop


@pytest.fixture
def server() -> Iterator[LibredeskServer]:
    # No sweep until a test starts it (sweep_after_the_first_ping).
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as srv:
        yield srv


def sweep_after_the_first_ping(server: LibredeskServer) -> None:
    """Sweep every second anyone silent for 3 s, from the agent's first ping on.

    The server's last activity is its own start, older than 3 s by the time a loaded
    machine has signed in and started the agent; a sweep in the moment between the
    start-up PUT and the first ping (which a ping cannot precede: it would turn offline
    online by itself) would take the agent offline. That moment is the real server's
    too, but there it is one of a 60 s period; here it would be one of a second.
    """
    assert server.wait_for(lambda: server.ws_pings >= 1, 10), "no ping"
    server.set_sweep(1.0, 3.0)


def start(env: dict[str, str], *args: str) -> AgentProcess:
    return AgentProcess(
        ["run", "--no-tray", "--away-after", "3", "--keepalive-interval", "1", *args], env
    )


def test_real_server_scenario(
    env: dict[str, str], server: LibredeskServer, user_input: Input
) -> None:
    signed_in(env, server)
    with start(env) as agent:
        assert server.wait_for_put("online", "user", timeout=10), agent.output()
        sweep_after_the_first_ping(server)
        # Online through several sweep periods while input comes: only pings hold the sweep off.
        for _ in range(8):
            user_input.touch()
            time.sleep(0.7)
        assert server.status == "online", agent.output()
        assert all(source != "sweep" for _, _, source in server.history)
        assert server.ws_pings >= 4

        # Idle: away (idle) after 3 s, and the sweep leaves it alone while we ping.
        last = user_input.touch()
        away = server.wait_for_put("away", "idle", timeout=8)
        assert away is not None, agent.output()
        assert 3.0 <= away.mono - last < 4.0
        time.sleep(2.5)
        assert server.status == "away"

        # Back within a moment of input.
        count = len(server.puts())
        back_at = user_input.touch()
        back = server.wait_for_put("online", "idle", timeout=5, after=count)
        assert back is not None, agent.output()
        assert back.mono - back_at < 0.5

        # A manual away is sent as away_manual (source user) and survives idleness and input.
        result = run_cli(["set", "away"], env)
        assert result.returncode == 0, result.stderr
        assert server.puts()[-1] == ("away_manual", "user")
        count = len(server.puts())
        time.sleep(4)
        user_input.touch()
        time.sleep(1)
        assert server.puts()[count:] == []
        assert server.status == "away_manual"

        assert agent.terminate() == 0
        assert server.status == "offline"
        assert server.puts()[-1] == ("offline", "user")


def test_web_app_changes_are_followed_at_once(
    env: dict[str, str], server: LibredeskServer, user_input: Input
) -> None:
    signed_in(env, server)
    with start(env) as agent:
        assert server.wait_for_put("online", "user", timeout=10), agent.output()
        assert server.wait_for(lambda: server.ws_connected() == 1, 5)
        server.broadcast_other_agent(99, "away_manual")  # someone else: ignored
        server.set_status("away_manual")
        assert agent.wait_output(lambda line: "Away (set elsewhere)" in line, 3), agent.output()
        status = run_cli(["status"], env)
        assert status.returncode == 0
        assert "agent: running, shows Away (set elsewhere)" in status.stdout
        # ...and idle detection never undoes it.
        count = len(server.puts())
        user_input.touch()
        time.sleep(4)
        user_input.touch()
        time.sleep(0.5)
        assert server.puts()[count:] == []
        # Back to online in the web app: followed, and idle detection owns it again.
        server.set_status("online")
        assert agent.wait_output(lambda line: line.endswith("Available (set elsewhere)"), 3)
        assert server.wait_for_put("away", "idle", timeout=6), agent.output()
        assert agent.terminate() == 0


def test_offline_stops_pinging(env: dict[str, str], server: LibredeskServer) -> None:
    signed_in(env, server)
    with start(env) as agent:
        assert server.wait_for_put("online", "user", timeout=10), agent.output()
        assert run_cli(["set", "offline"], env).returncode == 0
        time.sleep(1.5)
        pings = server.ws_pings
        time.sleep(3)
        assert server.ws_pings == pings, "a ping would turn offline back into online"
        assert server.status == "offline"
        assert agent.terminate() == 0


def test_ws_drops_and_silence_reconnect(env: dict[str, str], server: LibredeskServer) -> None:
    signed_in(env, server)
    with start(env) as agent:
        assert server.wait_for(lambda: server.ws_connected() == 1, 10), agent.output()
        sweep_after_the_first_ping(server)
        for round_ in range(3):
            pings, want = server.ws_pings, round_ + 2
            assert server.wait_for(lambda: server.ws_pings > pings, 5)  # a healthy socket  # noqa: B023
            server.ws_drop_all()
            assert server.wait_for(lambda: server.ws_connections >= want, 10)  # noqa: B023
        # No pong for three intervals: reconnect.
        server.ws_mute(True)
        before = server.ws_connections
        assert server.wait_for(lambda: server.ws_connections > before, 10), agent.output()
        server.ws_mute(False)
        time.sleep(3)
        assert all(source != "sweep" for _, _, source in server.history), server.history
        assert agent.terminate() == 0


def test_refused_upgrade_is_reported_not_looped(
    env: dict[str, str], server: LibredeskServer
) -> None:
    server.ws_refuse(403)
    signed_in(env, server)
    with start(env) as agent:
        assert server.wait_for_put("online", "user", timeout=10), agent.output()
        assert agent.wait_output(lambda line: "refused the /ws keepalive (403)" in line, 5)
        time.sleep(3)
        # (Plain GET /ws probes for the dialect don't count; upgrades do.)
        upgrades = [r for r in server.requests(path="/ws") if r.header("Upgrade")]
        assert len(upgrades) == 1, upgrades
        assert agent.terminate() == 0
