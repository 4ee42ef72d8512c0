"""One agent per user (the instance lock) and the local control channel."""

from __future__ import annotations

import contextlib
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
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from presence_agent.control import (
    BUSY,
    MAX_LINE,
    QUEUE,
    WORKERS,
    AlreadyRunning,
    ControlServer,
    InstanceLock,
    NotRunning,
    parse_request,
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
        # A refusal (busy) may come, and the server hang up, before the request is sent.
        with contextlib.suppress(BrokenPipeError):
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


# -- bounds (issue 16 item 8) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b'{"cmd": "pause", "seconds": NaN}', "NaN is not a number"),
        (b'{"cmd": "pause", "seconds": Infinity}', "Infinity is not a number"),
        (b'{"cmd": "pause", "seconds": -Infinity}', "-Infinity is not a number"),
        (b'{"a": ' + b"[" * 17 + b"]" * 17 + b"}", "nested too deeply"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"a": "' + b"[" * 100 + b'"}', None),  # brackets in a string are text
    ],
)
def test_parse_request_refuses_what_is_no_request(line: bytes, why: str | None) -> None:
    if why is None:
        assert parse_request(line) == {"a": "[" * 100}
    else:
        with pytest.raises(ValueError, match=f"^{why}$"):
            parse_request(line)


def test_deep_nesting_is_a_bad_request_not_an_error_in_the_log(runtime, server, caplog):
    _, handler = server
    with caplog.at_level("DEBUG"):
        answer = raw(runtime, b"[" * 200_000 + b"\n")
    assert answer == {"ok": False, "message": "bad request: nested too deeply"}
    assert [r for r in caplog.records if r.levelno >= 30] == []
    assert handler.requests == []
    assert request(runtime, {"cmd": "status"})["ok"] is True


def test_nan_never_reaches_the_handler(runtime, server):
    _, handler = server
    answer = raw(runtime, b'{"cmd": "pause", "seconds": NaN}\n')
    assert answer == {"ok": False, "message": "bad request: NaN is not a number"}
    assert handler.requests == []


class Trickler(threading.Thread):
    """A client that sends its request a byte every ``gap`` seconds (the attack itself)."""

    def __init__(self, runtime: Path, gap: float) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(runtime / "control.sock"))
        self.gap = gap
        self.cut_off_after: float | None = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        began = time.monotonic()
        with contextlib.suppress(OSError):  # EPIPE: the server hung up on us
            while not self._stop_event.wait(self.gap):
                self.sock.sendall(b" ")
                try:
                    if self.sock.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) == b"":
                        break  # closed by the server
                except BlockingIOError:
                    continue  # still open, nothing said
        if not self._stop_event.is_set():
            self.cut_off_after = time.monotonic() - began

    def finish(self) -> None:
        self._stop_event.set()
        self.join(10)
        self.sock.close()


def test_trickling_clients_are_cut_off_at_the_deadline_and_status_still_answers(runtime):
    handler = Handler()
    srv = ControlServer(runtime, handler, deadline=1.0)
    srv.start()
    tricklers = [Trickler(runtime, gap=0.2) for _ in range(WORKERS + 2)]
    try:
        for trickler in tricklers:
            trickler.start()
        began = time.monotonic()
        # Every worker is held by a trickler; this one waits its turn, then is answered.
        assert request(runtime, {"cmd": "status"}, timeout=10)["ok"] is True
        assert time.monotonic() - began < 5.0
        for trickler in tricklers:
            trickler.join(5)
            assert trickler.cut_off_after is not None
            assert 0.8 < trickler.cut_off_after < 5.0
    finally:
        for trickler in tricklers:
            trickler.finish()
        srv.stop()
    assert handler.requests == [{"cmd": "status"}]


def test_a_flood_of_connections_leaves_the_server_answering(runtime, server):
    threads_before = threading.active_count()
    for _ in range(5000):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(runtime / "control.sock"))
    # Clients that send a request and leave before the answer: nothing to report.
    for _ in range(200):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(runtime / "control.sock"))
            with contextlib.suppress(BrokenPipeError):  # refused: the queue was full
                sock.sendall(b'{"cmd": "status"}\n')
    assert threading.active_count() <= threads_before
    began = time.monotonic()
    assert request(runtime, {"cmd": "status"}, timeout=10)["ok"] is True
    assert time.monotonic() - began < 5.0


def test_a_full_queue_is_refused_at_once(runtime):
    release = threading.Event()
    entered = threading.Semaphore(0)

    def slow(req: dict) -> dict:
        entered.release()
        release.wait(10)
        return {"ok": True}

    srv = ControlServer(runtime, slow, deadline=30)
    srv.start()
    held = []

    def hold() -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(runtime / "control.sock"))
        sock.sendall(b'{"cmd": "x"}\n')
        held.append(sock)

    try:
        # Every worker busy (each inside the handler), then the queue full: the next is
        # told so at once.
        for _ in range(WORKERS):
            hold()
        for _ in range(WORKERS):
            assert entered.acquire(timeout=10)
        for _ in range(QUEUE):
            hold()
        began = time.monotonic()
        answer = raw(runtime, b'{"cmd": "status"}\n')
        assert answer == {"ok": False, "busy": True, "message": BUSY}
        assert time.monotonic() - began < 2.0
        # The CLI's request waits such a moment out, within its own time.
        began = time.monotonic()
        assert request(runtime, {"cmd": "status"}, timeout=0.5)["busy"] is True
        assert 0.4 < time.monotonic() - began < 3.0
    finally:
        release.set()
        for sock in held:
            sock.close()
        srv.stop()
