"""What another local user can do to the agent, tried by a real second user (issue 16).

The neighbour (tests/local_users.py) is an ordinary user made with ``useradd``. They plant
the runtime dir's fallback before the agent starts, try to read the agent's log, and own a
system-wide config file. Every test runs the real ``presence-agent`` against the test server
and asserts what the person sees, that the agent kept working, and what the neighbour got.
"""

from __future__ import annotations

import json
import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from presence_agent.exitcodes import Exit
from tests.agent_process import KEY, SECRET, AgentProcess, run_cli, signed_in
from tests.desktop import private_dirs
from tests.libredesk_server import LibredeskServer
from tests.local_users import Neighbour

pytestmark = [
    pytest.mark.desktop,
    pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX users"),
]


@pytest.fixture
def server() -> Iterator[LibredeskServer]:
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as srv:
        yield srv


def walkable_env(env: dict[str, str], root: Path) -> dict[str, str]:
    """``env`` with HOME and the XDG dirs in ``root`` (walkable by the neighbour), and a
    temporary dir of its own that, like /tmp, everyone may write (sticky)."""
    out = dict(env)
    out.update(private_dirs(root / "me"))
    tmp = root / "tmp"
    tmp.mkdir()
    tmp.chmod(0o1777)
    out["TMPDIR"] = str(tmp)
    return out


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# -- the runtime dir's fallback, planted ------------------------------------------------------


def plant(neighbour: Neighbour, how: str, where: Path, decoy: Path) -> None:
    commands = {
        "their dir": ["mkdir", "-m", "0777", str(where)],
        "a symlink": ["ln", "-s", str(decoy), str(where)],
        "a file": ["touch", str(where)],
    }
    done = neighbour.run(*commands[how])
    assert done.returncode == 0, done.stderr
    assert os.lstat(where).st_uid == neighbour.uid


@pytest.mark.parametrize("how", ["their dir", "a symlink", "a file"])
def test_a_planted_runtime_dir_stops_no_command(
    how: str,
    env: dict[str, str],
    server: LibredeskServer,
    neighbour: Neighbour,
    shared_root: Path,
) -> None:
    """No XDG_RUNTIME_DIR (su, ssh, cron): platformdirs falls back to runtime-UID in the
    temporary dir, a name anyone can take first. The agent then uses a private dir under
    its state dir, and the CLI finds it there."""
    if Path(f"/run/user/{os.geteuid()}").exists():
        pytest.skip("/run/user/UID exists here, so the temporary fallback is never used")
    env = walkable_env(env, shared_root)
    del env["XDG_RUNTIME_DIR"]
    planted = Path(env["TMPDIR"]) / f"runtime-{os.geteuid()}"
    decoy = shared_root / "decoy"
    decoy.mkdir(mode=0o777)
    decoy.chmod(0o777)
    plant(neighbour, how, planted, decoy)

    # Without an agent: the usual answers, no traceback.
    for args, code in ((["pause", "5"], Exit.NOT_RUNNING), (["doctor"], None)):
        result = run_cli(args, env)
        assert "Traceback" not in result.stderr, (args, result.stderr)
        assert "PermissionError" not in result.stderr, (args, result.stderr)
        if code is not None:
            assert result.returncode == code, (args, result.stderr)
    signed_in(env, server)
    state = Path(env["XDG_STATE_HOME"]) / "presence-agent"
    config = Path(env["XDG_CONFIG_HOME"]) / "presence-agent" / "config.toml"
    config.write_text(config.read_text() + 'log_level = "DEBUG"\n')

    with AgentProcess(["run", "--no-tray"], env) as agent:
        assert server.wait_for_put("online", "user", timeout=15), agent.output()
        # The CLI and the agent found each other: through the fallback.
        paused = run_cli(["pause", "5"], env)
        assert paused.returncode == Exit.OK, paused.stderr
        assert "paused" in paused.stdout
        status = run_cli(["status"], env)
        assert status.returncode == Exit.OK, status.stderr
        assert "paused" in status.stdout
        fallback = state / "run"
        assert (fallback / "control.sock").exists()
        assert mode(fallback) == 0o700
        assert os.lstat(fallback).st_uid == os.geteuid()
        assert agent.proc.poll() is None
        assert "Traceback" not in agent.output()
        assert agent.terminate(signal.SIGTERM) == Exit.OK
    assert server.wait_for_put("offline", timeout=5)
    # The neighbour's plant is as they left it, and nothing of ours went into it.
    assert os.lstat(planted).st_uid == neighbour.uid
    assert list(decoy.iterdir()) == []
    log = (state / "log" / "presence-agent.log").read_text()
    assert log.count("runtime dir: using") == 1, log


# -- a system-wide config another user can write ---------------------------------------------


@pytest.mark.parametrize("how", ["their file", "their group may write it"])
def test_a_system_config_another_user_can_write_is_ignored_and_said(
    how: str,
    env: dict[str, str],
    server: LibredeskServer,
    neighbour: Neighbour,
    shared_root: Path,
) -> None:
    env = walkable_env(env, shared_root)
    presets = shared_root / "etc-xdg"
    env["XDG_CONFIG_DIRS"] = str(presets)
    folder = presets / "presence-agent"
    folder.mkdir(parents=True)
    preset = folder / "config.toml"
    # The neighbour would send everyone's secret to their own server, and lock it there.
    text = 'server = "http://127.0.0.1:9"\nlocked = ["server"]\naway_after = 7\n'
    if how == "their file":
        os.chown(folder, neighbour.uid, neighbour.gid)
        wrote = neighbour.run("sh", "-c", f"printf '%s' '{text}' > {preset}")
        assert wrote.returncode == 0, wrote.stderr
        why = f"belongs to another user ({neighbour.name})"
    else:
        preset.write_text(text)
        os.chown(preset, 0, neighbour.gid)
        preset.chmod(0o664)
        why = f"is writable by group {neighbour.name} ({neighbour.name})"
    signed_in(env, server)  # the person's own server: the lock above does not hold

    doctor = run_cli(["doctor"], env)
    assert f"{preset}: ignored: {preset} {why}" in doctor.stdout, doctor.stdout
    assert "127.0.0.1:9" not in doctor.stdout
    report = json.loads(run_cli(["doctor", "--json"], env).stdout)
    warnings = [c for c in report["checks"] if "ignored" in c["text"]]
    assert len(warnings) == 1
    assert warnings[0]["ok"] is False
    assert why in warnings[0]["text"]

    with AgentProcess(["run", "--no-tray"], env) as agent:
        assert server.wait_for_put("online", "user", timeout=15), agent.output()
        assert agent.wait_output(lambda line: why in line, 5), agent.output()
        assert agent.terminate(signal.SIGTERM) == Exit.OK
    log_file = Path(env["XDG_STATE_HOME"]) / "presence-agent" / "log" / "presence-agent.log"
    log = log_file.read_text()
    assert f"WARNING presence_agent.app: config: {preset}: ignored" in log


# -- the log, read by the neighbour -----------------------------------------------------------


def test_the_neighbour_cannot_read_the_log(
    env: dict[str, str], server: LibredeskServer, neighbour: Neighbour, shared_root: Path
) -> None:
    env = walkable_env(env, shared_root)
    signed_in(env, server)
    log_dir = Path(env["XDG_STATE_HOME"]) / "presence-agent" / "log"
    with AgentProcess(["run", "--no-tray"], env) as agent:
        assert server.wait_for_put("online", "user", timeout=15), agent.output()
        assert agent.terminate(signal.SIGTERM) == Exit.OK
    log = log_dir / "presence-agent.log"
    assert "quit: offline" in log.read_text()  # there is a timeline to steal
    # The way there is open to them (like a 0755 home), the log's own dirs are not.
    walk = neighbour.run("ls", env["XDG_STATE_HOME"])
    assert walk.returncode == 0, walk.stderr
    for attempt in (["cat", str(log)], ["ls", str(log_dir)], ["ls", str(log_dir.parent)]):
        tried = neighbour.run(*attempt)
        assert tried.returncode != 0, attempt
        assert "Permission denied" in tried.stderr, (attempt, tried.stderr)
        assert tried.stdout == ""
    assert mode(log) == 0o600
    assert mode(log_dir) == 0o700
    assert mode(log_dir.parent) == 0o700
