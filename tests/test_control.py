"""One agent per user (the instance lock) and the local control channel."""

from __future__ import annotations

import gc
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from presence_agent.control import (
    MAX_LINE,
    AlreadyRunning,
    ControlServer,
    InstanceLock,
    NotRunning,
    request,
)

pytestmark = pytest.mark.skipif(os.name == "nt", reason="Unix sockets and flock")


@pytest.fixture
def runtime() -> Iterator[Path]:
    # Short: a Unix socket path must fit in about 100 bytes.
    path = Path(tempfile.mkdtemp(prefix="pa-", dir="/tmp"))
    path.chmod(0o700)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# -- the instance lock -------------------------------------------------------------------------


def test_second_acquire_fails_until_release(runtime):
    path = runtime / "agent.lock"
    first = InstanceLock(path)
    first.acquire()
    assert path.read_text() == str(os.getpid())
    second = InstanceLock(path)
    with pytest.raises(AlreadyRunning, match="already running"):
        second.acquire()
    with pytest.raises(AlreadyRunning):
        second.acquire()
    first.release()
    first.release()  # twice is harmless
    second.acquire()
    second.release()


HOLDER = """
import sys, time
from pathlib import Path
from presence_agent.control import InstanceLock
lock = InstanceLock(Path(sys.argv[1]))
lock.acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_lock_is_released_when_the_holder_dies(runtime):
    path = runtime / "agent.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        assert path.read_text() == str(holder.pid)
        with pytest.raises(AlreadyRunning):
            InstanceLock(path).acquire()
        holder.kill()  # a crash: no release, no clean-up
        holder.wait(10)
        lock = InstanceLock(path)
        lock.acquire()
        assert path.read_text() == str(os.getpid())
        lock.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()


# -- the control channel -----------------------------------------------------------------------


class Handler:
    def __init__(self) -> None:
        self.requests: list[dict] = []

    def __call__(self, req: dict) -> dict:
        self.requests.append(req)
        if req.get("cmd") == "crash":
            raise RuntimeError("handler bug")
        return {"ok": True, "echo": req}


@pytest.fixture
def server(runtime) -> Iterator[tuple[ControlServer, Handler]]:
    handler = Handler()
    srv = ControlServer(runtime, handler)
    srv.start()
    yield srv, handler
    srv.stop()


def raw(runtime: Path, data: bytes) -> dict:
    """Send raw bytes to the control socket and read its one-line answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(runtime / "control.sock"))
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        with sock.makefile("rb") as stream:
            return json.loads(stream.readline())


def test_round_trip(runtime, server):
    _, handler = server
    answer = request(runtime, {"cmd": "status", "n": [1, "ü"]})
    assert answer == {"ok": True, "echo": {"cmd": "status", "n": [1, "ü"]}}
    assert handler.requests == [{"cmd": "status", "n": [1, "ü"]}]


def test_endpoint_and_socket_are_private(runtime, server):
    endpoint = json.loads((runtime / "control.json").read_text())
    assert endpoint == {"unix": str(runtime / "control.sock")}
    assert stat.S_IMODE((runtime / "control.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((runtime / "control.sock").stat().st_mode) == 0o600


def test_several_requests_at_once(runtime, server):
    answers: list[dict] = []
    lock = threading.Lock()

    def ask(n: int) -> None:
        answer = request(runtime, {"cmd": "n", "n": n})
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(a["echo"]["n"] for a in answers) == list(range(6))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json\n", "bad request: JSONDecodeError"),
        (b"\n", "bad request: JSONDecodeError"),
        (b"", "bad request: JSONDecodeError"),
        (b"[1, 2]\n", "bad request: ValueError"),
        (b'"status"\n', "bad request: ValueError"),
        (b"\xff\xfe\n", "bad request: UnicodeDecodeError"),
        (b'{"cmd": "' + b"x" * (MAX_LINE + 10) + b'"}\n', "bad request: JSONDecodeError"),
    ],
)
def test_bad_requests(runtime, server, data, message):
    _, handler = server
    assert raw(runtime, data) == {"ok": False, "message": message}
    assert handler.requests == []
    # The server is still there.
    assert request(runtime, {"cmd": "status"})["ok"] is True


def test_a_failing_handler_answers_an_internal_error(runtime, server, caplog):
    assert request(runtime, {"cmd": "crash"}) == {
        "ok": False,
        "message": "internal error: RuntimeError",
    }
    assert "control request failed" in caplog.text
    assert request(runtime, {"cmd": "status"})["ok"] is True


def test_stop_removes_the_endpoint(runtime):
    srv = ControlServer(runtime, Handler())
    srv.start()
    srv.stop()
    assert not (runtime / "control.json").exists()
    assert not (runtime / "control.sock").exists()
    with pytest.raises(NotRunning, match="not running"):
        request(runtime, {"cmd": "status"})


def test_a_stale_socket_file_is_replaced(runtime):
    (runtime / "control.sock").write_text("left over by a crash")
    srv = ControlServer(runtime, Handler())
    srv.start()
    try:
        assert request(runtime, {"cmd": "status"})["ok"] is True
    finally:
        srv.stop()


# -- nobody answering --------------------------------------------------------------------------


def test_not_running_without_an_endpoint(runtime):
    with pytest.raises(NotRunning, match="not running"):
        request(runtime, {"cmd": "status"})


def test_not_running_without_a_runtime_dir(tmp_path):
    with pytest.raises(NotRunning):
        request(tmp_path / "nope", {"cmd": "status"})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "endpoint",
    [
        pytest.param("not json", id="junk"),
        pytest.param("", id="empty"),
        pytest.param(json.dumps({"unix": "/tmp/pa-no-such-dir/control.sock"}), id="gone-socket"),
        pytest.param(json.dumps({"unix": 5}), id="unix-not-a-path"),
        pytest.param(json.dumps({"port": "free", "token": "t"}), id="port-not-a-number"),
        pytest.param(json.dumps({"token": "t"}), id="no-port"),
        pytest.param(json.dumps([1]), id="list"),
        pytest.param(json.dumps(5), id="number"),
        pytest.param(json.dumps("unix"), id="string"),
    ],
)
def test_not_running_with_a_stale_or_junk_endpoint(runtime, endpoint):
    (runtime / "control.json").write_text(endpoint)
    with pytest.raises(NotRunning):
        request(runtime, {"cmd": "status"}, timeout=2)
    gc.collect()  # a socket left open would warn now (and fail: warnings are errors)


def test_not_running_when_the_port_is_closed(runtime):
    (runtime / "control.json").write_text(json.dumps({"port": free_port(), "token": "t"}))
    with pytest.raises(NotRunning, match="stale"):
        request(runtime, {"cmd": "status"}, timeout=2)
    gc.collect()


def test_not_running_when_the_socket_file_is_dead(runtime):
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(runtime / "control.sock"))
    dead.close()  # the file stays, nobody listens
    (runtime / "control.json").write_text(json.dumps({"unix": str(runtime / "control.sock")}))
    with pytest.raises(NotRunning, match="stale"):
        request(runtime, {"cmd": "status"}, timeout=2)


def test_no_answer_is_not_running(runtime):
    # Something listens, reads the request, and closes without a word.
    path = runtime / "control.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(1)

        def close_at_once() -> None:
            conn, _ = listener.accept()
            with conn, conn.makefile("rb") as stream:
                stream.readline()

        t = threading.Thread(target=close_at_once)
        t.start()
        (runtime / "control.json").write_text(json.dumps({"unix": str(path)}))
        with pytest.raises(NotRunning, match="no answer"):
            request(runtime, {"cmd": "status"}, timeout=2)
        t.join(5)
