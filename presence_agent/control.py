"""One agent per user, and a local control channel to it.

The lock is an OS file lock, so a crash releases it. The channel is a Unix
socket in the private runtime dir (0700), or on Windows a loopback TCP port
whose random token sits in that dir; either way only this user can reach it.
Requests and answers are one JSON line each.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import queue
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from presence_agent.i18n import N_

if TYPE_CHECKING:
    from presence_agent.paths import Paths

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024
#: Connections answered at once; a flood waits in :data:`QUEUE` or is refused (see
#: :class:`ControlServer`). A CLI call is one short request, so a handful is plenty.
WORKERS = 4
QUEUE = 32
#: Seconds a connection may take from accept to answer, beyond its handler's own time.
DEADLINE = 5.0
#: The deepest a request may nest (a real one is two deep).
MAX_DEPTH = 16
#: accept() errors that pass: too many open files, no memory for a moment, a client gone.
_TRANSIENT = frozenset(
    (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.ECONNABORTED)
)
#: The answer to a connection that finds every worker busy and the queue full. Sent in
#: English (the socket's protocol); the CLI shows it in the person's language (``busy``).
BUSY = N_("busy: too many requests at once, try again")
BUSY_ANSWER = json.dumps({"ok": False, "busy": True, "message": BUSY}).encode() + b"\n"
Handler = Callable[[dict[str, Any]], dict[str, Any]]


class AlreadyRunning(Exception):
    """Another agent holds the lock."""


class InstanceLock:
    """An exclusive lock on ``path`` for the life of the process (or until ``release``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[bytes] | None = None

    def acquire(self) -> None:
        handle = open(self.path, "a+b")  # noqa: SIM115 - held open for the lock's life
        try:
            if sys.platform == "win32":
                import msvcrt

                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise AlreadyRunning("presence-agent is already running for this user") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()).encode())
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _endpoint_file(runtime: Path) -> Path:
    return runtime / "control.json"


def _socket_path(runtime: Path) -> Path:
    return runtime / "control.sock"


class ControlServer:
    """Serves control requests from the CLI and the sign-in dialog.

    Bounded, whatever a client does: a few worker threads (:data:`WORKERS`) answer
    connections from a short queue (:data:`QUEUE`); a connection that finds the queue
    full is told "busy" at once and closed, and one that waited or takes longer than
    ``deadline`` (reading the request and writing the answer, together) is dropped. A
    flood of connections therefore never grows threads or memory, and never keeps
    ``status`` or a quit waiting for long. Clients that hang up early are nothing to
    report (a debug line at most).

    Thread use: ``start``/``stop`` from the main thread; the accept loop and the
    workers are the server's own threads; ``handler`` runs on a worker and must not
    block for long.
    """

    def __init__(self, runtime: Path, handler: Handler, *, deadline: float = DEADLINE) -> None:
        self._runtime = runtime
        self._handler = handler
        self._deadline = deadline
        self._sock: socket.socket | None = None
        self._token = ""
        self._threads: list[threading.Thread] = []
        self._queue: queue.Queue[tuple[socket.socket, float] | None] = queue.Queue(QUEUE)
        self._stopping = False

    def start(self) -> None:
        if sys.platform != "win32":
            path = _socket_path(self._runtime)
            path.unlink(missing_ok=True)  # stale: we hold the instance lock
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(str(path))
            os.chmod(path, 0o600)
            endpoint: dict[str, Any] = {"unix": str(path)}
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            self._token = secrets.token_hex(16)
            endpoint = {"port": sock.getsockname()[1], "token": self._token}
        # Room for a burst of CLI calls while the workers are busy.
        sock.listen(64)
        self._sock = sock
        target = _endpoint_file(self._runtime)
        tmp = target.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(endpoint, handle)
        os.replace(tmp, target)
        self._threads = [threading.Thread(target=self._serve, name="control", daemon=True)]
        self._threads += [
            threading.Thread(target=self._work, name=f"control-{n}", daemon=True)
            for n in range(WORKERS)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopping = True
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        # Wake every worker; the connections still queued are closed unanswered.
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].close()
        for _ in range(WORKERS):
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(None)
        _endpoint_file(self._runtime).unlink(missing_ok=True)
        _socket_path(self._runtime).unlink(missing_ok=True)

    def _serve(self) -> None:
        while not self._stopping:
            sock = self._sock
            if sock is None:
                return
            try:
                conn, _ = sock.accept()
            except OSError as exc:
                if exc.errno not in _TRANSIENT or self._sock is not sock:
                    return  # closed by stop()
                # Out of descriptors or memory for a moment: this client is lost, the next
                # may not be (a pause, so a full descriptor table is not a busy loop).
                time.sleep(0.1)
                continue
            try:
                self._queue.put_nowait((conn, time.monotonic()))
            except queue.Full:
                _refuse(conn)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None or self._stopping:
                if item is not None:
                    item[0].close()
                return
            conn, accepted = item
            try:
                with conn:
                    self._one(conn, accepted + self._deadline)
            except Exception:
                # A bug here must not cost the pool a worker for the rest of the run.
                log.exception("control: a connection failed")

    def _one(self, conn: socket.socket, deadline: float) -> None:
        try:
            line = _read_line(conn, deadline)
        except TimeoutError:
            # Too slow, or left waiting in the queue too long: either way "busy", so that a
            # CLI that was only waiting its turn asks again (see request).
            log.debug("control: a client sent no request in time")
            with contextlib.suppress(OSError):
                conn.setblocking(False)
                conn.send(BUSY_ANSWER)
            return
        except OSError as exc:
            log.debug("control: a client hung up (%s)", type(exc).__name__)
            return
        answer = self._answer(line)
        try:
            data = json.dumps(answer, allow_nan=False).encode()
        except (TypeError, ValueError):
            log.exception("control answer is not JSON")
            data = json.dumps({"ok": False, "message": "internal error"}).encode()
        try:
            conn.settimeout(max(0.05, deadline - time.monotonic()))
            conn.sendall(data + b"\n")
        except OSError as exc:
            log.debug("control: a client left before its answer (%s)", type(exc).__name__)

    def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = parse_request(line)
        except ValueError as exc:
            return {"ok": False, "message": f"bad request: {exc}"}
        if self._token and not secrets.compare_digest(str(request.get("token", "")), self._token):
            return {"ok": False, "message": "bad token"}
        try:
            return self._handler(request)
        except (ValueError, OSError) as exc:
            return {"ok": False, "message": f"bad request: {type(exc).__name__}"}
        except Exception as exc:
            log.exception("control request failed")
            return {"ok": False, "message": f"internal error: {type(exc).__name__}"}


def _refuse(conn: socket.socket) -> None:
    """Tell a client the agent is busy, without ever waiting for it."""
    with conn, contextlib.suppress(OSError):
        conn.setblocking(False)
        # What the client sent already, read first: closed with it unread, the socket would
        # reset the connection and the client lose the answer.
        with contextlib.suppress(BlockingIOError):
            conn.recv(MAX_LINE)
        conn.send(BUSY_ANSWER)
        conn.shutdown(socket.SHUT_WR)


def _read_line(conn: socket.socket, deadline: float) -> bytes:
    """The request line (at most :data:`MAX_LINE` bytes), read by ``deadline`` (monotonic),
    however slowly the client trickles it. ``TimeoutError`` when it is not all there by then;
    an empty or cut-off line is returned as it is (and is then a bad request)."""
    data = bytearray()
    while len(data) < MAX_LINE:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("control request deadline")
        conn.settimeout(remaining)
        chunk = conn.recv(min(4096, MAX_LINE - len(data)))
        if not chunk:
            break
        end = chunk.find(b"\n")
        if end >= 0:
            data += chunk[: end + 1]
            break
        data += chunk
    return bytes(data)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def parse_request(line: bytes) -> dict[str, Any]:
    """One request: a JSON object, nested at most :data:`MAX_DEPTH` deep, with no ``NaN`` or
    ``Infinity`` (not numbers to anyone else, and not durations). ``ValueError`` saying why;
    never ``RecursionError``."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("UnicodeDecodeError") from None
    if _depth(text) > MAX_DEPTH:
        raise ValueError("nested too deeply")
    try:
        request = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError:
        raise ValueError("JSONDecodeError") from None
    except RecursionError:  # pragma: no cover - _depth keeps it from happening
        raise ValueError("nested too deeply") from None
    if not isinstance(request, dict):
        raise ValueError("ValueError")
    return request


def _depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` outside strings (an over-estimate for broken
    JSON, which fails to parse anyway)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


class NotRunning(Exception):
    """No agent answers on the control channel."""


def ask(paths: Paths, payload: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
    """:func:`request` to the running agent wherever it is: the runtime dir, or the fallback
    under the state dir when the runtime dir was not to be had (Paths.private_runtime_dir).
    Only directories that are this user's and private are looked in: a control file planted
    by another user is never followed."""
    failure = NotRunning("presence-agent is not running")
    for runtime in paths.usable_runtime_dirs():
        if not _endpoint_file(runtime).exists():
            continue
        try:
            return request(runtime, payload, timeout)
        except NotRunning as exc:
            failure = exc  # stale there: the other one may be live
    raise failure


def connect(family: socket.AddressFamily, address: Any, timeout: float) -> socket.socket:
    """A connected socket with ``timeout`` set, waiting (up to ``timeout``) while the agent's
    listen queue is full: a Unix socket's ``connect`` says ``EAGAIN`` then instead of
    waiting, which must not read as "not running" during a burst of connections."""
    deadline = time.monotonic() + timeout
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        while True:
            try:
                sock.connect(address)
                return sock
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError("the agent's control channel is full") from None
                time.sleep(0.01)
    except BaseException:
        sock.close()
        raise


def request(runtime: Path, payload: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
    """Send one request to the running agent and return its answer."""
    try:
        endpoint = json.loads(_endpoint_file(runtime).read_text())
    except (OSError, ValueError):
        raise NotRunning("presence-agent is not running") from None
    try:
        # The address first: a junk endpoint must not leave a socket open.
        if "unix" in endpoint and sys.platform != "win32":
            family, address = socket.AF_UNIX, endpoint["unix"]
        else:
            family, address = socket.AF_INET, ("127.0.0.1", int(endpoint["port"]))
            payload = {**payload, "token": endpoint.get("token", "")}
    except (KeyError, TypeError, ValueError):
        raise NotRunning("presence-agent is not running (stale control file)") from None
    deadline = time.monotonic() + timeout
    busy: dict[str, Any] | None = None
    while True:
        try:
            answer = _exchange(family, address, payload, max(0.1, deadline - time.monotonic()))
        except NotRunning:
            if busy is None:
                raise
            return busy  # the last try ran out of time: it is still the busy agent
        # Refused at once because the agent is swamped (a runaway script): wait a little
        # and ask again, within the caller's time.
        if answer.get("busy") is not True or time.monotonic() >= deadline:
            return answer
        busy = answer
        time.sleep(0.05)


def _exchange(
    family: socket.AddressFamily, address: Any, payload: dict[str, Any], timeout: float
) -> dict[str, Any]:
    try:
        with connect(family, address, timeout) as sock, sock.makefile("rb") as stream:
            # A busy agent answers and hangs up before reading: its answer is still there.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(json.dumps(payload).encode() + b"\n")
            line = stream.readline(MAX_LINE)
    except ConnectionResetError:
        # Hung up on before its answer came through: it was refusing us (see _refuse).
        return json.loads(BUSY_ANSWER)  # type: ignore[no-any-return]
    except (OSError, TypeError, ValueError):
        raise NotRunning("presence-agent is not running (stale control file)") from None
    try:
        answer = json.loads(line)
    except ValueError:
        raise NotRunning("the running agent gave no answer") from None
    if not isinstance(answer, dict):
        raise NotRunning("the running agent gave no answer")
    return answer
