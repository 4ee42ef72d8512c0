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

from tests.agent_process import login, run_cli
from tests.libredesk_server import LibredeskServer

pytestmark = pytest.mark.desktop

KEY = "agent-key"
SECRET = "shift-s3cret"
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
