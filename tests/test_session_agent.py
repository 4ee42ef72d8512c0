"""The real agent process on the test desktop: X11 idle source, screen lock over D-Bus.

``presence-agent login --api-secret-stdin`` then ``presence-agent run --no-tray`` under
Xvfb, a private session bus and gnome-keyring, against tests/libredesk_server.py (the
real server's dialect, where an idle away and a manual one are different words).
The lock is the desktop's own signal, ``ActiveChanged`` sent with ``dbus-send``.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from presence_agent import control
from tests.agent_process import AgentProcess, login, run_cli
from tests.desktop import SecretServiceInfo, move_mouse, wait_until
from tests.libredesk_server import LibredeskServer

pytestmark = [pytest.mark.desktop, pytest.mark.slow]

KEY = "lock-key"
SECRET = "lock-secret"
POLL_HOOK = "XSync IDLETIME alarm"


@pytest.fixture
def server() -> Iterator[LibredeskServer]:
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as srv:
        yield srv


@pytest.fixture
def env(desktop_env: dict[str, str], secret_service: SecretServiceInfo) -> dict[str, str]:
    env = dict(desktop_env)
    env.pop("PRESENCE_AGENT_IDLE_SOURCE", None)
    env.pop("PRESENCE_AGENT_SESSION", None)
    return env


class Desk:
    """The person at the test desktop: the pointer, and the screen locker's signal."""

    def __init__(self, env: dict[str, str]) -> None:
        self.display = env["DISPLAY"]
        self.bus = env["DBUS_SESSION_BUS_ADDRESS"]
        self._x = 100

    def touch(self) -> float:
        """Move the pointer; the monotonic time just before the move."""
        self._x = 100 if self._x > 500 else self._x + 37
        before = time.monotonic()
        move_mouse(self.display, self._x, 200)
        return before

    def lock(self, locked: bool) -> float:
        """The screensaver says it is active (locked) or not; the time just before."""
        before = time.monotonic()
        subprocess.run(
            [
                "dbus-send",
                f"--bus={self.bus}",
                "--type=signal",
                "/org/freedesktop/ScreenSaver",
                "org.freedesktop.ScreenSaver.ActiveChanged",
                f"boolean:{'true' if locked else 'false'}",
            ],
            check=True,
            timeout=10,
        )
        return before


def agent_status(env: dict[str, str]) -> dict[str, Any]:
    """The running agent's snapshot, from its control socket (as ``presence-agent status``)."""
    runtime = Path(env["XDG_RUNTIME_DIR"]) / "presence-agent"
    return control.request(runtime, {"cmd": "status"}, timeout=5)


def x_connections(display: str, pid: int) -> int:
    """How many connections process ``pid`` holds to the X server (X-Resource extension).

    pynput's listeners each hold two (XRecord's data and control connections), so
    this sees an input hook from outside the process, whatever its threads are named.
    """
    from Xlib import display as xdisplay
    from Xlib.ext import res

    connection = xdisplay.Display(display)
    try:
        reply = connection.res_query_client_ids([{"client": 0, "mask": res.LocalClientPIDMask}])
        return sum(1 for client in reply.ids if list(client.value) == [pid])
    finally:
        connection.close()


def signed_in(env: dict[str, str], server: LibredeskServer) -> None:
    result = login(env, server.url, KEY, SECRET)
    assert result.returncode == 0, result.stderr


def test_lock_means_idle_away_and_input_after_unlock_brings_it_back(
    env: dict[str, str], server: LibredeskServer
) -> None:
    desk = Desk(env)
    signed_in(env, server)
    desk.touch()
    with AgentProcess(["run", "--no-tray", "--away-after", "60"], env) as agent:
        assert server.wait_for_put("online", "user", timeout=15) is not None, agent.output()

        # Active: the X server's idle counter, read at the deadline. No hook at all.
        status = wait_until(lambda: agent_status(env), timeout=10, what="the control socket")
        assert status["idle_source"] == "x11"
        assert status["hooks"] == []
        # Two X connections: the idle counter's and the XSync alarm's (neither records input).
        assert x_connections(desk.display, agent.proc.pid) == 2
        for _ in range(3):
            desk.touch()
        assert agent_status(env)["hooks"] == []

        # Lock: away (idle) within 1 s.
        count = len(server.puts())
        locked_at = desk.lock(True)
        away = server.wait_for_put("away", "idle", timeout=5, after=count)
        assert away is not None, agent.output()
        assert away.mono - locked_at < 1.0, away.mono - locked_at

        # Typing the password on the lock screen is not being back...
        count = len(server.puts())
        desk.touch()
        time.sleep(0.2)  # the lock screen checks the password
        # ...nor is the unlock itself: the agent waits for input (and only now polls).
        desk.lock(False)
        wait_until(
            lambda: agent_status(env)["hooks"] == [POLL_HOOK], timeout=5, what="the armed poll"
        )
        assert server.puts()[count:] == []
        assert server.status == "away"

        # The first input after unlock: available within 100 ms.
        touched_at = desk.touch()
        back = server.wait_for_put("online", "idle", timeout=5, after=count)
        assert back is not None, agent.output()
        assert back.mono - touched_at < 0.1, back.mono - touched_at
        wait_until(lambda: agent_status(env)["hooks"] == [], timeout=5, what="the poll to stop")


def test_a_manual_away_is_untouched_by_lock_and_unlock(
    env: dict[str, str], server: LibredeskServer
) -> None:
    desk = Desk(env)
    signed_in(env, server)
    desk.touch()
    with AgentProcess(["run", "--no-tray", "--away-after", "60"], env) as agent:
        assert server.wait_for_put("online", "user", timeout=15) is not None, agent.output()
        result = run_cli(["set", "away"], env)
        assert result.returncode == 0, result.stderr
        assert server.status == "away_manual"
        count = len(server.puts())
        desk.lock(True)
        desk.lock(False)
        desk.touch()
        # The agent heard all of it (the status goes through its engine after the signals).
        wait_until(lambda: agent_status(env)["status"] == "away", timeout=5, what="status")
        time.sleep(0.3)  # room for a wrong request to arrive; none may
        assert server.puts()[count:] == []
        assert server.status == "away_manual"
        assert agent_status(env)["by_idle"] is False


def test_the_pynput_fallback_does_hook_input(env: dict[str, str], server: LibredeskServer) -> None:
    # The other side of "no hook with a native counter": the same probes see
    # pynput's keyboard listener when it is asked for.
    desk = Desk(env)
    signed_in(env, server)
    with AgentProcess(
        ["run", "--no-tray", "--away-after", "60"], {**env, "PRESENCE_AGENT_IDLE_SOURCE": "pynput"}
    ) as agent:
        assert server.wait_for_put("online", "user", timeout=15) is not None, agent.output()
        status = wait_until(lambda: agent_status(env), timeout=10, what="the control socket")
        assert status["idle_source"] == "pynput"
        assert status["hooks"] == ["pynput mouse listener", "pynput keyboard listener"]
        assert x_connections(desk.display, agent.proc.pid) > 2  # pynput's RECORD connections
