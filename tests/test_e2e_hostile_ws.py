"""The real agent against a hostile ``/ws`` hub (tests/libredesk_server.py's ``ws_echo``): a
junk frame and a pushed status word that quote the secret, then a close whose reason holds it
raw, as ``key:secret`` and in base64. The keepalive reconnects, and neither ``run --no-tray``'s
output, ``status`` next to the running agent nor the log files ever show it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.agent_process import AgentProcess, run_cli
from tests.desktop import Input
from tests.libredesk_server import LibredeskServer
from tests.test_e2e_hostile import (
    AUTHS,
    CLI_BOUND,
    KEY,
    SECRET,
    assert_clean,
    log_text,
    shown,
    sign_in,
)

pytestmark = pytest.mark.desktop


@pytest.fixture(params=AUTHS)
def auth(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server() -> Iterator[LibredeskServer]:
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as srv:
        yield srv


def test_a_ws_close_reason_and_frames_that_echo_the_secret_stay_unseen(
    env: dict[str, str], server: LibredeskServer, auth: str, user_input: Input
) -> None:
    sign_in(env, server, auth)
    user_input.touch()
    argv = ["run", "--no-tray", "--keepalive-interval", "1"]
    with AgentProcess(argv, env) as agent:
        assert server.wait_for(lambda: server.ws_connected() == 1, 20), agent.output()
        for round_ in range(1, 3):
            server.ws_echo()
            # The keepalive takes the close as a close and comes back (with backoff).
            came_back = server.wait_for(lambda: server.ws_connections > round_, 30)  # noqa: B023
            assert came_back, agent.output()
            assert server.wait_for(lambda: server.ws_connected() == 1, 20), agent.output()
        status = run_cli(["status"], env, timeout=CLI_BOUND)
        assert status.returncode == 0, shown(status)
        assert_clean(shown(status), f"status next to an agent whose /ws echoed ({auth})")
        pings = server.ws_pings
        # Still keeping the person online on the new socket.
        assert server.wait_for(lambda: server.ws_pings > pings, 10), agent.output()
        assert agent.terminate() == 0
        assert_clean(agent.output(), f"run --no-tray output after a /ws echo ({auth})")
    assert_clean(log_text(env), f"the log files after a /ws echo ({auth})")
