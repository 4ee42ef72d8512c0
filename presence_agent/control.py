"""One agent per user, and a local control channel to it.

The lock is an OS file lock, so a crash releases it. The channel is a Unix
socket in the private runtime dir (0700), or on Windows a loopback TCP port
whose random token sits in that dir; either way only this user can reach it.
Requests and answers are one JSON line each.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from presence_agent.paths import Paths

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024
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

    Thread use: ``start``/``stop`` from the main thread; requests are handled
    on the server's own thread by ``handler``, which must not block for long.
    """

    def __init__(self, runtime: Path, handler: Handler) -> None:
        self._runtime = runtime
        self._handler = handler
        self._sock: socket.socket | None = None
        self._token = ""
        self._thread: threading.Thread | None = None
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
        # Room for a burst of CLI calls (each is answered on its own thread).
        sock.listen(64)
        self._sock = sock
        target = _endpoint_file(self._runtime)
        tmp = target.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(endpoint, handle)
        os.replace(tmp, target)
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        _endpoint_file(self._runtime).unlink(missing_ok=True)
        _socket_path(self._runtime).unlink(missing_ok=True)

    def _serve(self) -> None:
        while not self._stopping:
            sock = self._sock
            if sock is None:
                return
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            conn.settimeout(30)
            try:
                line = stream.readline(MAX_LINE)
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise ValueError("not an object")
                if self._token and not secrets.compare_digest(
                    str(request.get("token", "")), self._token
                ):
                    answer: dict[str, Any] = {"ok": False, "message": "bad token"}
                else:
                    answer = self._handler(request)
            except (ValueError, OSError) as exc:
                answer = {"ok": False, "message": f"bad request: {type(exc).__name__}"}
            except Exception as exc:
                log.exception("control request failed")
                answer = {"ok": False, "message": f"internal error: {type(exc).__name__}"}
            try:
                data = json.dumps(answer).encode()
            except (TypeError, ValueError):
                log.exception("control answer is not JSON")
                data = json.dumps({"ok": False, "message": "internal error"}).encode()
            with contextlib.suppress(OSError):
                stream.write(data + b"\n")
                stream.flush()


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
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(address)
            with sock.makefile("rwb") as stream:
                stream.write(json.dumps(payload).encode() + b"\n")
                stream.flush()
                line = stream.readline(MAX_LINE)
    except (OSError, KeyError, TypeError, ValueError):
        raise NotRunning("presence-agent is not running (stale control file)") from None
    try:
        answer = json.loads(line)
    except ValueError:
        raise NotRunning("the running agent gave no answer") from None
    if not isinstance(answer, dict):
        raise NotRunning("the running agent gave no answer")
    return answer
