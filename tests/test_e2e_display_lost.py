"""The X server goes away under the running agent (a real Xvfb, killed): the agent lives on.

Before X error handlers, libX11's default I/O-error handler called ``exit(1)``
the moment the XSync watch read from the dead connection: no offline was sent,
and the person stayed "available" until the server swept them.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.agent_process import AgentProcess, login, run_cli
from tests.desktop import Input, kill_xvfb, running_xvfb, wait_until
from tests.libredesk_server import LibredeskServer

pytestmark = pytest.mark.desktop

KEY = "agent-key"
SECRET = "display-lost-secret-7Q"


def test_a_killed_x_server_is_survived_and_idle_time_runs_on(
    env: dict[str, str], tmp_path: Path
) -> None:
    with (
        LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as server,
        running_xvfb(tmp_path, size=(640, 480)) as display,
    ):
        env = {**env, "DISPLAY": display}
        assert login(env, server.url, KEY, SECRET).returncode == 0
        Input(display).touch()
        log = Path(env["XDG_STATE_HOME"]) / "presence-agent" / "log" / "presence-agent.log"

        def logged(text: str) -> bool:
            return log.exists() and text in log.read_text(errors="replace")

        with AgentProcess(["run", "--no-tray", "--away-after", "4"], env) as agent:
            assert server.wait_for_put("online", "user", timeout=10), agent.output()
            assert logged("idle source x11"), agent.output()
            kill_xvfb(display)
            wait_until(lambda: logged("idle source x11 lost"), timeout=10, what="the loss logged")
            assert agent.proc.poll() is None, agent.output()
            # Nothing else can see input here (no compositor on this bus, pynput needs the
            # display too): the idle time runs on, so the person goes away in time.
            assert server.wait_for_put("away", "idle", timeout=10), agent.output()
            assert run_cli(["status"], env).returncode == 0
            assert agent.terminate(signal.SIGTERM) == 0, agent.output()
            assert server.puts()[-1] == ("offline", "user")
