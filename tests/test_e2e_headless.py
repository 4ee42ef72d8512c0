"""End to end, as a user does it: `login`, then `run --no-tray`, on a real X server with real
input from xdotool, a real Secret Service, against our Libredesk-compatible server on 127.0.0.1.

Each scenario runs against both dialects (documented and real Libredesk).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent_process import KEY, SECRET, AgentProcess, login, run_cli, signed_in
from tests.desktop import Input
from tests.libredesk_server import LibredeskServer

pytestmark = pytest.mark.desktop

WORDS = {
    "documented": {"available": "available", "away": "away", "manual_away": "away"},
    "libredesk": {"available": "online", "away": "away", "manual_away": "away_manual"},
}


@pytest.fixture(params=["documented", "libredesk"])
def server(request: pytest.FixtureRequest) -> Iterator[LibredeskServer]:
    with LibredeskServer(dialect=request.param, api_key=KEY, api_secret=SECRET) as srv:
        yield srv


def words(server: LibredeskServer) -> dict[str, str]:
    return WORDS[server.dialect]


def start_agent(env: dict[str, str], *args: str) -> AgentProcess:
    return AgentProcess(["run", "--no-tray", *args], env)


def test_presence_follows_input_end_to_end(
    env: dict[str, str], server: LibredeskServer, user_input: Input
) -> None:
    w = words(server)
    signed_in(env, server)
    user_input.touch()
    with start_agent(env, "--away-after", "3", "--keepalive-interval", "1") as agent:
        # Started while input is coming: available (source user: starting is the user's act).
        first = server.wait_for_put(w["available"], "user", timeout=10)
        assert first is not None, agent.output()
        assert first.mono - agent.started < 3.0, "available must come promptly after start"

        # Keep busy for a while: no away while input comes.
        for _ in range(4):
            user_input.touch()
            time.sleep(0.8)
        assert server.puts() == [(w["available"], "user")]

        # Stop touching: away (idle) 3 s after the last input.
        last = user_input.touch()
        away = server.wait_for_put(w["away"], "idle", timeout=8)
        assert away is not None, agent.output()
        assert 3.0 <= away.mono - last < 4.0, away.mono - last

        # First input after the idle away: available (idle), at once.
        count = len(server.puts())
        back_at = user_input.touch()
        back = server.wait_for_put(w["available"], "idle", timeout=5, after=count)
        assert back is not None, agent.output()
        assert back.mono - back_at < 0.5, back.mono - back_at

        # A manual away from the CLI reaches the running agent and survives idleness and input.
        result = run_cli(["set", "away"], env)
        assert result.returncode == 0, result.stderr
        assert server.status == w["manual_away"]
        assert server.puts()[-1] == (w["manual_away"], "user")
        count = len(server.puts())
        time.sleep(4.0)  # longer than the threshold
        user_input.touch()
        time.sleep(0.8)
        assert server.puts()[count:] == []
        assert server.status == w["manual_away"]

        # SIGTERM: offline (user) and exit 0.
        code = agent.terminate(signal.SIGTERM)
        assert code == 0, agent.output()
        assert server.puts()[-1] == ("offline", "user")
        assert server.status == "offline"


def test_manual_away_set_elsewhere_survives(
    env: dict[str, str], server: LibredeskServer, user_input: Input
) -> None:
    w = words(server)
    signed_in(env, server)
    with start_agent(env, "--away-after", "2", "--keepalive-interval", "1") as agent:
        assert server.wait_for_put(w["available"], "user", timeout=10), agent.output()
        # The web app sets a manual away.
        server.set_status(w["manual_away"], by_idle=False)
        if server.dialect == "documented":
            # No push on a documented server: the agent learns it on return from idle or by
            # its periodic re-read; either way it must never undo it.
            pass
        count = len(server.puts())
        user_input.touch()
        time.sleep(3.0)  # idle past the threshold
        user_input.touch()
        time.sleep(1.0)
        assert server.puts()[count:] == [], agent.output()
        assert server.status == w["manual_away"]
        assert agent.terminate() == 0


def test_busy_and_offline_untouched_by_idle(env: dict[str, str], user_input: Input) -> None:
    with LibredeskServer(
        dialect="documented", api_key=KEY, api_secret=SECRET, initial_status="busy"
    ) as server:
        signed_in(env, server)
        with start_agent(env, "--away-after", "2") as agent:
            assert agent.wait_output(lambda line: "Busy" in line, 10), agent.output()
            time.sleep(3)
            user_input.touch()
            time.sleep(1)
            assert server.puts() == [], "busy is the person's choice; idle must not touch it"
            assert agent.terminate() == 0
            assert server.puts() == [("offline", "user")]


def test_secret_never_leaves_the_keyring(
    env: dict[str, str], server: LibredeskServer, user_input: Input
) -> None:
    signed_in(env, server)
    with start_agent(env, "--away-after", "2") as agent:
        assert server.wait_for_put(words(server)["available"], "user", timeout=10)
        cmdline = Path(f"/proc/{agent.proc.pid}/cmdline").read_bytes()
        environ = Path(f"/proc/{agent.proc.pid}/environ").read_bytes()
        server.set_credentials(KEY, "rotated")  # a 401 mid-run gets logged
        user_input.touch()
        time.sleep(2.5)
        assert agent.terminate() == 0
    assert SECRET.encode() not in cmdline
    assert SECRET.encode() not in environ
    assert SECRET not in agent.output()
    home_files = [p for p in Path(env["HOME"]).parent.rglob("*") if p.is_file()]
    assert any(p.name == "presence-agent.log" for p in home_files)
    assert any(p.name == "config.toml" for p in home_files)
    for path in home_files:
        data = path.read_bytes()
        assert SECRET.encode() not in data, path
        assert SECRET.encode("utf-16-le") not in data, path


ROTATED_SECRET = "r0tated-s3cr:et-ß"


def test_the_running_agent_leaves_the_keyring_to_a_helper(
    env: dict[str, str], server: LibredeskServer
) -> None:
    """The agent reads its secret through a short-lived child (credentials.KeyringHelper), so
    it carries none of the keyring's compiled libraries, and no helper outlives its read."""
    w = words(server)
    signed_in(env, server)
    with start_agent(env) as agent:
        assert server.wait_for_put(w["available"], "user", timeout=10), agent.output()

        def mapped() -> str:
            return Path(f"/proc/{agent.proc.pid}/maps").read_text()

        def children() -> list[str]:
            tasks = Path(f"/proc/{agent.proc.pid}/task").iterdir()
            return [pid for task in tasks for pid in (task / "children").read_text().split()]

        assert "cryptography" not in mapped()
        assert "_cffi_backend" not in mapped()
        assert children() == []

        # The secret changes: login stores the new one and tells the agent, whose next
        # request goes out with it (read by a new helper).
        server.set_credentials(KEY, ROTATED_SECRET)
        result = login(env, server.url, KEY, ROTATED_SECRET)
        assert result.returncode == 0, result.stderr
        assert run_cli(["set", "away"], env).returncode == 0, agent.output()
        assert server.status == w["manual_away"]
        assert "cryptography" not in mapped()
        assert children() == []
        assert agent.terminate() == 0
    assert server.status == "offline"


def test_set_without_running_agent_and_status(env: dict[str, str], server: LibredeskServer) -> None:
    w = words(server)
    signed_in(env, server)
    result = run_cli(["set", "away"], env)
    assert result.returncode == 0, result.stderr
    assert server.puts() == [(w["manual_away"], "user")]
    status = run_cli(["status"], env)
    assert status.returncode == 0, status.stderr
    # On a real server it says what the away means for customers (docs/libredesk.md).
    real = w["manual_away"] == "away_manual"
    expected = "Away (manual) · no new conversations" if real else "Away"
    assert status.stdout.splitlines()[0] == expected
    assert "not running" in status.stdout


def test_unknown_status_is_refused_before_any_request(
    env: dict[str, str], server: LibredeskServer
) -> None:
    signed_in(env, server)
    server.clear_requests()
    result = run_cli(["set", "lunch"], env)
    assert result.returncode == 2
    assert "unknown status" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert server.requests() == []


def test_busy_on_real_libredesk_is_a_clear_error(env: dict[str, str]) -> None:
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as server:
        signed_in(env, server)
        result = run_cli(["set", "busy"], env)
        assert result.returncode != 0
        assert "no 'Busy' status" in result.stderr
        assert server.puts() == [], "never let the real server answer 500 for busy"


# -- bad input at login: one line, non-zero, nothing stored -------------------------------


def _nothing_stored(env: dict[str, str]) -> None:
    config = Path(env["XDG_CONFIG_HOME"]) / "presence-agent" / "config.toml"
    assert not config.exists()


def test_login_wrong_credentials(env: dict[str, str], server: LibredeskServer) -> None:
    result = login(env, server.url, KEY, "wrong")
    assert result.returncode == 1
    assert "401" in result.stderr
    assert "nothing stored" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "wrong" not in result.stderr
    _nothing_stored(env)


def test_login_unreachable_server(env: dict[str, str]) -> None:
    with LibredeskServer() as gone:
        url = gone.url
    result = login(env, url, KEY, SECRET)
    assert result.returncode == 1
    assert "cannot connect" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    _nothing_stored(env)


@pytest.mark.parametrize(
    ("status", "body", "content_type", "expect"),
    [
        (404, b"404 page not found", "text/plain", "no Libredesk API"),
        (200, b"<html>welcome</html>", "text/html", "did not answer with JSON"),
        (200, b'{"hello": "world"}', "application/json", "shape Libredesk does not use"),
    ],
)
def test_login_not_a_libredesk_server(
    env: dict[str, str],
    server: LibredeskServer,
    status: int,
    body: bytes,
    content_type: str,
    expect: str,
) -> None:
    server.inject_body("/api/", body, status=status, content_type=content_type)
    result = login(env, server.url, KEY, SECRET)
    assert result.returncode == 1
    assert expect in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    _nothing_stored(env)


def test_login_refuses_plain_http_to_another_host(env: dict[str, str]) -> None:
    result = login(env, "http://desk.example.com", KEY, SECRET)
    assert result.returncode == 2
    assert "refusing plain http://" in result.stderr
    _nothing_stored(env)


def test_corrupt_config_is_named_and_kept(env: dict[str, str], server: LibredeskServer) -> None:
    config = Path(env["XDG_CONFIG_HOME"]) / "presence-agent" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('server = "https://x"\naway_after = "soon"\n')
    before = config.read_bytes()
    for args in (["run", "--no-tray"], ["status"]):
        result = run_cli(args, env)
        assert result.returncode == 2, result
        assert str(config) in result.stderr
        assert "away_after" in result.stderr
    result = login(env, server.url, KEY, SECRET)
    assert result.returncode == 2
    assert config.read_bytes() == before


def test_second_agent_refuses_to_start(env: dict[str, str], server: LibredeskServer) -> None:
    signed_in(env, server)
    with start_agent(env) as first:
        assert server.wait_for_put(words(server)["available"], "user", timeout=10)
        second = run_cli(["run", "--no-tray"], env, timeout=15)
        assert second.returncode == 3
        assert "already running" in second.stderr
        assert first.proc.poll() is None
        assert first.terminate() == 0


def test_no_display_is_one_clear_line(env: dict[str, str], server: LibredeskServer) -> None:
    signed_in(env, server)
    no_display = {k: v for k, v in env.items() if k != "DISPLAY"}
    result = run_cli(["run", "--no-tray"], no_display, timeout=15)
    assert result.returncode == 1
    assert "DISPLAY" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert server.puts() == [], "never report available when input cannot be watched"


def test_logout_removes_the_secret(env: dict[str, str], server: LibredeskServer) -> None:
    signed_in(env, server)
    assert run_cli(["logout"], env).returncode == 0
    result = run_cli(["status"], env)
    assert result.returncode == 4  # not signed in (presence_agent/exitcodes.py)
    assert "run `presence-agent login --api-key KEY`" in result.stderr


def test_env_is_isolated(env: dict[str, str]) -> None:
    # Guard for the suite itself: the agent's files must land in the test's dirs.
    assert env["XDG_CONFIG_HOME"].startswith(str(Path(env["HOME"]).parent))
    assert os.environ.get("XDG_CONFIG_HOME") != env["XDG_CONFIG_HOME"]


def test_demo_shows_transitions_live(desktop_env: dict[str, str]) -> None:
    pointer = Input(desktop_env["DISPLAY"])
    pointer.touch()
    with AgentProcess(["demo", "--away-after", "2", "--duration", "8"], desktop_env) as demo:
        # The stand-in speaks the real dialect (presence_agent/demo.py).
        assert demo.wait_output(lambda line: "server: online (user)" in line, 10), demo.output()
        assert demo.wait_output(lambda line: "server: away (idle)" in line, 6), demo.output()
        count = len(demo.stdout)
        pointer.touch()
        assert demo.wait_output(lambda line: "server: online (" in line, 3), demo.output()
        assert demo.proc.wait(15) == 0
        assert any("server: offline (user)" in line for line in demo.stdout[count:])
    # The demo leaves nothing behind in the user's config.
    assert not (Path(desktop_env["XDG_CONFIG_HOME"]) / "presence-agent").exists()
