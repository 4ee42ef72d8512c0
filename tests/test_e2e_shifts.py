"""End to end: timed statuses and working hours with the real agent, CLI and server.

Against our Libredesk-compatible server on 127.0.0.1 in both dialects, with a real
Secret Service and private XDG dirs (tests/desktop.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent_process import AgentProcess, login, run_cli
from tests.desktop import Input
from tests.libredesk_server import LibredeskServer
from tests.notification_daemon import Dunst, notification_daemon

pytestmark = pytest.mark.desktop

KEY = "agent-key"
SECRET = "shift-s3cret"
__all__ = ["notification_daemon"]

MANUAL_AWAY = {"documented": "away", "libredesk": "away_manual"}


@pytest.fixture(params=["documented", "libredesk"])
def server(request: pytest.FixtureRequest) -> Iterator[LibredeskServer]:
    with LibredeskServer(dialect=request.param, api_key=KEY, api_secret=SECRET) as srv:
        yield srv


def signed_in(env: dict[str, str], server: LibredeskServer) -> None:
    result = login(env, server.url, KEY, SECRET)
    assert result.returncode == 0, result.stderr


def timer_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_STATE_HOME"]) / "presence-agent" / "agenda.json"


def test_a_timed_status_without_a_running_agent_is_kept_for_it(
    env: dict[str, str], server: LibredeskServer
) -> None:
    signed_in(env, server)
    before = time.time()
    result = run_cli(["set", "away", "--for", "30m"], env)
    assert result.returncode == 0, result.stderr
    assert server.puts() == [(MANUAL_AWAY[server.dialect], "user")]
    assert "Now Away, until " in result.stdout
    assert "(in 30 min)" in result.stdout
    assert "not running" in result.stdout
    kept = json.loads(timer_file(env).read_text())["timer"]
    assert kept["status"] == "away"
    assert before + 1800 <= kept["until"] <= time.time() + 1800
    assert kept["set_by"] == "cli"
    # A plain choice replaces it.
    assert run_cli(["set", "offline"], env).returncode == 0
    assert not timer_file(env).exists()


def test_a_bad_duration_contacts_nobody(env: dict[str, str], server: LibredeskServer) -> None:
    signed_in(env, server)
    server.clear_requests()
    result = run_cli(["set", "busy", "--for", "90"], env)
    assert result.returncode == 2
    assert "--for: '90' has no unit" in result.stderr
    assert server.requests() == []
    assert not timer_file(env).exists()


# -- the running agent ------------------------------------------------------------------------

AVAILABLE = {"documented": "available", "libredesk": "online"}


def start_agent(env: dict[str, str], *args: str) -> AgentProcess:
    return AgentProcess(["run", "--no-tray", "--keepalive-interval", "1", *args], env)


def keep_typing(user_input: Input, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        user_input.touch()
        time.sleep(0.4)


def test_a_short_timer_ends_in_available_with_input_and_in_away_without(
    env: dict[str, str], server: LibredeskServer, user_input: Input
) -> None:
    signed_in(env, server)
    user_input.touch()
    with start_agent(env, "--away-after", "2") as agent:
        assert server.wait_for_put(AVAILABLE[server.dialect], "user", timeout=10), agent.output()

        # Timed away, ended while the person is at the keyboard: Available again.
        count = len(server.puts())
        result = run_cli(["set", "away", "--for", "3s"], env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("Away until "), result.stdout
        assert server.puts()[count] == (MANUAL_AWAY[server.dialect], "user")
        status = run_cli(["status"], env)
        assert "timer: Away · back at " in status.stdout, status.stdout
        keep_typing(user_input, 3.5)
        back = server.wait_for_put(AVAILABLE[server.dialect], "user", timeout=5, after=count)
        assert back is not None, agent.output()
        assert agent.wait_output(lambda line: "Your Away has ended: Available" in line, 5)

        # Timed busy (documented) or away (real), ended with nobody there: an away
        # the agent owns, and the first input brings Available back.
        timed = "busy" if server.dialect == "documented" else "reassign"
        count = len(server.puts())
        assert run_cli(["set", timed, "--for", "3s"], env).returncode == 0
        time.sleep(4.5)  # no input: longer than away_after before the end
        away = server.wait_for_put(MANUAL_AWAY[server.dialect], "user", timeout=5, after=count)
        assert away is not None, f"{server.puts()}\n{agent.output()}"
        assert run_cli(["status"], env).stdout.count("timer:") == 0
        count = len(server.puts())
        user_input.touch()
        assert server.wait_for_put(AVAILABLE[server.dialect], "user", timeout=5, after=count), (
            agent.output()
        )
        assert agent.terminate() == 0


def test_a_timer_survives_a_restart(
    env: dict[str, str], server: LibredeskServer, user_input: Input
) -> None:
    signed_in(env, server)
    user_input.touch()
    with start_agent(env, "--away-after", "30") as agent:
        assert server.wait_for_put(AVAILABLE[server.dialect], "user", timeout=10), agent.output()
        assert run_cli(["set", "away", "--for", "6s"], env).returncode == 0
        assert agent.terminate() == 0  # quitting says offline, as always
    assert server.status == "offline"
    assert json.loads(timer_file(env).read_text())["timer"]["status"] == "away"
    count = len(server.puts())
    with start_agent(env, "--away-after", "30") as agent:
        # The timed away comes back, not the start's Available...
        again = server.wait_for_put(MANUAL_AWAY[server.dialect], "user", timeout=10, after=count)
        assert again is not None, agent.output()
        assert server.puts()[count] == (MANUAL_AWAY[server.dialect], "user")
        # ...and ends on time, with the person there.
        keep_typing(user_input, 4)
        assert server.wait_for_put(AVAILABLE[server.dialect], "user", timeout=6, after=count)
        assert agent.terminate() == 0


def write_config(env: dict[str, str], text: str) -> None:
    path = Path(env["XDG_CONFIG_HOME"]) / "presence-agent" / "config.toml"
    path.write_text(path.read_text() + text)


@pytest.mark.slow
def test_the_end_of_a_shift_is_applied_once_with_a_reminder_on_the_desktop(
    env: dict[str, str], server: LibredeskServer, user_input: Input, notification_daemon: Dunst
) -> None:
    from datetime import datetime, timedelta, timezone

    signed_in(env, server)
    # A range that ends at the next whole minute at least 12 s away (schedules are in
    # minutes), in UTC so the test does not depend on the machine's zone.
    now = datetime.now(timezone.utc)
    end = (now + timedelta(seconds=72)).replace(second=0, microsecond=0)
    if (end - now).total_seconds() > 72 - 12 + 60:
        end -= timedelta(minutes=1)
    start = end - timedelta(minutes=30)
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[start.weekday()]
    stop = "24:00" if end.hour == 0 and end.minute == 0 else f"{end:%H:%M}"
    write_config(
        env,
        f'\n[schedule]\n{day} = "{start:%H:%M}-{stop}"\ntimezone = "UTC"\n'
        'end_of_shift = "offline"\n',
    )
    user_input.touch()
    with start_agent(env, "--away-after", "600") as agent:
        # On shift: the usual start, and the five-minute reminder at once (less is left).
        assert server.wait_for_put(AVAILABLE[server.dialect], "user", timeout=10), agent.output()
        reminder = agent.wait_output(lambda line: "Your shift ends at" in line, 5)
        assert reminder is not None, agent.output()
        assert f"{end:%H:%M}" in reminder
        notification_daemon.wait_displayed()
        assert [n["summary"] for n in notification_daemon.received()] == [
            f"Your shift ends at {end:%H:%M}"
        ]
        count = len(server.puts())
        wait = (end - datetime.now(timezone.utc)).total_seconds()
        keep_typing(user_input, max(0.0, wait - 1))
        # The end: offline (user) once, with the person still typing.
        off = server.wait_for_put("offline", "user", timeout=8, after=count)
        assert off is not None, f"{server.puts()}\n{agent.output()}"
        keep_typing(user_input, 3)  # off shift, input brings nobody online
        assert server.puts()[count:] == [("offline", "user")]
        assert agent.wait_output(lambda line: "Your shift has ended: Offline" in line, 5)
        notification_daemon.wait_displayed()
        received = [n["summary"] for n in notification_daemon.received()]
        assert sorted(received) == [
            f"Your shift ends at {end:%H:%M}",
            "Your shift has ended: Offline",
        ]
        status = run_cli(["status"], env)
        assert "working hours: Off shift" in status.stdout, status.stdout
        assert agent.terminate() == 0
    # Quitting sent nothing more: it was offline already.
    assert server.puts()[count:] == [("offline", "user")]
