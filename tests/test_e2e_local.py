"""The real agent against what a local process can throw at it (issue 16 items 8 and 10).

A flood of connections to the control channel, clients that hang up early, nesting and
``NaN`` in requests, pauses that are no duration; core dumps, ``kill -QUIT`` and ``kill -HUP``.
Each case runs the real ``presence-agent run --no-tray`` against the test server and asserts
what the person sees, that the agent kept answering, and that it quit the usual way.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from presence_agent import control
from presence_agent.exitcodes import Exit
from tests.agent_process import KEY, SECRET, AgentProcess, agent_argv, run_cli, signed_in
from tests.desktop import wait_until
from tests.libredesk_server import LibredeskServer
from tests.local_users import Neighbour

pytestmark = [
    pytest.mark.desktop,
    pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="Linux: /proc and Unix sockets"),
]


@pytest.fixture
def server() -> Iterator[LibredeskServer]:
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as srv:
        yield srv


def control_socket(env: dict[str, str]) -> str:
    endpoint = Path(env["XDG_RUNTIME_DIR"]) / "presence-agent" / "control.json"
    return str(json.loads(endpoint.read_text())["unix"])


def raw(path: str, data: bytes) -> dict:
    with control.connect(socket.AF_UNIX, path, 10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        with sock.makefile("rb") as stream:
            return json.loads(stream.readline())


def clean(stderr: list[str]) -> None:
    text = "\n".join(stderr)
    for sign in ("Traceback", "BrokenPipeError", "RecursionError", "ERROR"):
        assert sign not in text, text


def test_a_flood_of_connections_and_hostile_requests_leave_the_agent_answering(
    env: dict[str, str], server: LibredeskServer
) -> None:
    signed_in(env, server)
    with AgentProcess(["run", "--no-tray"], env) as agent:
        assert server.wait_for_put("online", "user", timeout=15), agent.output()
        path = control_socket(env)
        assert raw(path, b"[" * 60_000 + b"\n") == {
            "ok": False,
            "message": "bad request: nested too deeply",
        }
        assert raw(path, b'{"cmd": "pause", "seconds": NaN}\n')["ok"] is False
        assert raw(path, b'{"cmd": "pause", "seconds": 1e300}\n')["ok"] is False
        for _ in range(5000):
            with control.connect(socket.AF_UNIX, path, 10):
                pass
        # Clients that leave before their answer.
        for _ in range(100):
            with (
                control.connect(socket.AF_UNIX, path, 10) as sock,
                contextlib.suppress(BrokenPipeError),
            ):
                sock.sendall(b'{"cmd": "status"}\n')
        began = time.monotonic()
        status = run_cli(["status"], env, timeout=15)
        assert status.returncode == Exit.OK, status.stderr
        assert time.monotonic() - began < 5
        assert "paused" not in status.stdout  # none of the bad pauses took
        began = time.monotonic()
        assert agent.terminate(signal.SIGTERM) == Exit.OK
        assert time.monotonic() - began < 6
        clean(agent.stderr)
    assert server.wait_for_put("offline", timeout=5)


@pytest.mark.parametrize("minutes", ["nan", "inf", "-1", "100000", "0"])
def test_pause_takes_only_a_sane_duration(
    minutes: str, env: dict[str, str], server: LibredeskServer
) -> None:
    signed_in(env, server)
    with AgentProcess(["run", "--no-tray"], env) as agent:
        assert server.wait_for_put("online", "user", timeout=15), agent.output()
        result = run_cli(["pause", minutes], env)
        assert result.returncode == Exit.USAGE, result
        assert "minutes must be more than 0 and at most a week" in result.stderr
        assert "Traceback" not in result.stderr
        status = run_cli(["status"], env)
        assert status.returncode == Exit.OK
        assert "paused" not in status.stdout
        assert run_cli(["pause", "5"], env).returncode == Exit.OK
        assert "paused" in run_cli(["status"], env).stdout
        assert agent.terminate(signal.SIGTERM) == Exit.OK


# -- core dumps and the quit signals (item 10) ---------------------------------------------------


def proc_gid(pid: int) -> int:
    return os.stat(f"/proc/{pid}/status").st_gid


def core_limit(pid: int) -> str:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            return " ".join(line.split()[4:6])
    raise AssertionError("no core limit line")


def as_group(gid: int) -> list[str]:
    """Run as root, but with another group: the kernel then shows whether the process is
    dumpable, as the group of its /proc files (its own group if so, root's if not)."""
    return ["setpriv", f"--regid={gid}", "--clear-groups", "--", *agent_argv()]


def test_the_agent_cannot_be_dumped(
    env: dict[str, str], server: LibredeskServer, neighbour: Neighbour
) -> None:
    signed_in(env, server)
    program = as_group(neighbour.gid)
    with AgentProcess(["run", "--no-tray"], env, program=program) as agent:
        assert server.wait_for_put("online", "user", timeout=15), agent.output()
        pid = agent.proc.pid
        assert proc_gid(pid) == 0, "dumpable: /proc/PID would show the process's own group"
        assert core_limit(pid) == "0 0"
        assert agent.terminate(signal.SIGTERM) == Exit.OK
    # The check itself: a process of that group that did not forbid dumps shows it.
    with subprocess.Popen(
        ["setpriv", f"--regid={neighbour.gid}", "--clear-groups", "--", "sleep", "30"]
    ) as control:
        try:
            wait_until(lambda: proc_gid(control.pid) == neighbour.gid, what="sleep's group")
        finally:
            control.kill()


def test_the_keyring_helper_cannot_be_dumped(env: dict[str, str], neighbour: Neighbour) -> None:
    program = as_group(neighbour.gid)
    with subprocess.Popen(
        [*program, "_keyring-helper"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as helper:
        try:
            # Waiting for its request on stdin, it has made itself non-dumpable.
            # (setpriv itself is non-dumpable between its setregid and the exec: so only
            # once the process is Python.)
            wait_until(
                lambda: (
                    "python" in os.readlink(f"/proc/{helper.pid}/exe") and proc_gid(helper.pid) == 0
                ),
                timeout=15,
                what="non-dumpable helper",
            )
            assert core_limit(helper.pid) == "0 0"
        finally:
            helper.kill()


@pytest.mark.parametrize("sig", [signal.SIGQUIT, signal.SIGHUP])
def test_quit_and_hang_up_quit_like_terminate(
    sig: signal.Signals, env: dict[str, str], server: LibredeskServer
) -> None:
    signed_in(env, server)
    with AgentProcess(["run", "--no-tray"], env) as agent:
        assert server.wait_for_put("online", "user", timeout=15), agent.output()
        began = time.monotonic()
        assert agent.terminate(sig) == Exit.OK, agent.output()
        assert time.monotonic() - began < 6
        clean(agent.stderr)
    assert server.wait_for_put("offline", "user", timeout=5)
    log = Path(env["XDG_STATE_HOME"]) / "presence-agent" / "log" / "presence-agent.log"
    assert "quit: offline reported" in log.read_text()
