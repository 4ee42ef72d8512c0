"""The agent on real Wayland compositors, with no X display at all.

- KWin 5.27 (``kwin_wayland --virtual``): ``org.freedesktop.ScreenSaver``'s
  GetSessionIdleTime is not supported there, so before ``ext-idle-notify`` the agent
  exited with "no idle source works here". Now it uses the compositor's idle events.
- GNOME's Mutter 43 (``mutter --headless``): no ext-idle-notify; its D-Bus IdleMonitor.

Each: away after the threshold, and back within 100 ms of real injected input.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from tests.agent_process import AgentProcess, login, run_cli
from tests.desktop import make_desktop_env, running_secret_service, running_session_bus
from tests.libredesk_server import LibredeskServer
from tests.wayland import Compositor, compositor_env, running_kwin, running_mutter

pytestmark = pytest.mark.desktop

KEY = "wayland-key"
SECRET = "wayland-secret-9f"


@pytest.fixture
def wayland_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A Wayland session's environment: a private bus with an unlocked keyring, no DISPLAY."""
    with running_session_bus(tmp_path) as bus, running_secret_service(bus, tmp_path / "keyring"):
        yield compositor_env(make_desktop_env("", bus, tmp_path / "desktop"), bus)


def away_and_back(
    env: dict[str, str], desk: Compositor, expected_source: str, tmp_path: Path
) -> None:
    env = {**env, "WAYLAND_DISPLAY": desk.socket}
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as server:
        assert login(env, server.url, KEY, SECRET).returncode == 0
        desk.input.touch()
        with AgentProcess(["run", "--no-tray", "--away-after", "2"], env) as agent:
            assert server.wait_for_put("online", "user", timeout=10), agent.output()
            last = desk.input.touch()
            away = server.wait_for_put("away", "idle", timeout=10)
            assert away is not None, agent.output()
            # KWin's idle timers are Qt's coarse ones (5 % early or late: 25 ms of the
            # 0.5 s notification), so the idle time is known to within that.
            assert 1.95 <= away.mono - last < 3.2, away.mono - last
            doctor = run_cli(["doctor"], env)
            assert f"{expected_source} -" in doctor.stdout, doctor.stdout
            count = len(server.puts())
            back_at = desk.input.touch()
            back = server.wait_for_put("online", "idle", timeout=5, after=count)
            assert back is not None, agent.output()
            assert back.mono - back_at < 0.1, back.mono - back_at
            assert agent.terminate(signal.SIGTERM) == 0, agent.output()
            assert server.puts()[-1] == ("offline", "user")


Starter = Callable[[dict[str, str], Path], AbstractContextManager[Compositor]]


@pytest.mark.parametrize(
    ("start", "source"),
    [(running_kwin, "ext-idle-notify"), (running_mutter, "mutter")],
    ids=["kwin", "mutter"],
)
def test_away_and_back_on_a_real_compositor(
    wayland_env: dict[str, str], tmp_path: Path, start: Starter, source: str
) -> None:
    with start(wayland_env, tmp_path) as desk:
        away_and_back(wayland_env, desk, source, tmp_path)


def test_kwin_doctor_explains_the_choice(wayland_env: dict[str, str], tmp_path: Path) -> None:
    with running_kwin(wayland_env, tmp_path) as desk:
        env: dict[str, Any] = {**wayland_env, "WAYLAND_DISPLAY": desk.socket}
        out = run_cli(["doctor"], env).stdout
        assert "ext-idle-notify - ext-idle-notify v1 idle notification" in out, out
        assert "no polling" in out


def test_a_compositor_that_goes_away_is_reported_once(
    wayland_env: dict[str, str], tmp_path: Path
) -> None:
    from presence_agent.idle._wayland import ExtIdleNotifySource
    from tests.desktop import wait_until

    with running_kwin(wayland_env, tmp_path) as desk:
        # libwayland reads XDG_RUNTIME_DIR from the process: name the socket by its path.
        socket = str(Path(wayland_env["XDG_RUNTIME_DIR"]) / desk.socket)
        source = ExtIdleNotifySource({"WAYLAND_DISPLAY": socket})
        lost: list[str] = []
        source.start(lambda: None, lost.append)
        try:
            wait_until(lambda: source.idle_seconds() > 0, timeout=10, what="the idled event")
            source.arm()
            assert source.hooks(), "armed, it waits for the resumed event"
            desk.daemon.stop()  # KWin quits (or crashes) under the agent
            wait_until(lambda: lost, timeout=10, what="the loss to be reported")
            assert len(lost) == 1
            assert "closed the connection" in lost[0]
        finally:
            source.stop()
