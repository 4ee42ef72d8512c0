"""Running the real ``presence-agent`` executable in tests, the way a user does."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.libredesk_server import LibredeskServer


def agent_argv() -> list[str]:
    """The installed console script next to this interpreter (as a user runs it)."""
    script = Path(sys.executable).with_name("presence-agent")
    if script.exists():
        return [str(script)]
    found = shutil.which("presence-agent")
    if found:
        return [found]
    return [sys.executable, "-m", "presence_agent"]


def run_cli(
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    stdin: str | None = None,
    timeout: float = 30,
    program: Sequence[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``presence-agent ARGS``; ``program`` runs another install of it (an installed artifact)."""
    return subprocess.run(
        [*(program or agent_argv()), *args],
        env=dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def login(
    env: Mapping[str, str],
    url: str,
    key: str,
    secret: str,
    *extra: str,
    program: Sequence[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        ["login", "--server", url, "--api-key", key, "--api-secret-stdin", *extra],
        env,
        stdin=secret + "\n",
        program=program,
    )


class AgentProcess:
    """A running ``presence-agent`` with its output collected line by line."""

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        program: Sequence[str] | None = None,
    ) -> None:
        self.args = list(args)
        self.proc = subprocess.Popen(
            [*(program or agent_argv()), *args],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.started = time.monotonic()
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._cond = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: object, into: list[str]) -> None:
        assert stream is not None
        for line in stream:  # type: ignore[attr-defined]
            with self._cond:
                into.append(line.rstrip("\n"))
                self._cond.notify_all()
        stream.close()  # type: ignore[attr-defined]

    def wait_output(self, predicate: Callable[[str], bool], timeout: float = 10.0) -> str | None:
        """The first line (stdout or stderr) that matches, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        seen = {"out": 0, "err": 0}
        with self._cond:
            while True:
                for name, lines in (("out", self.stdout), ("err", self.stderr)):
                    for line in lines[seen[name] :]:
                        if predicate(line):
                            return line
                    seen[name] = len(lines)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._reading()):
                    return None
                self._cond.wait(min(remaining, 0.1))

    def _reading(self) -> bool:
        return any(reader.is_alive() for reader in self._readers)

    def output(self) -> str:
        with self._cond:
            return "\n".join(["--- stdout", *self.stdout, "--- stderr", *self.stderr])

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            for reader in self._readers:
                reader.join(2)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        for reader in self._readers:
            reader.join(2)

    def __enter__(self) -> AgentProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


#: The end-to-end suites' credentials (':' and non-ASCII on purpose).
KEY = "agent-key"
SECRET = "s3cr:et-ünïcode-Zq9"


def signed_in(env: Mapping[str, str], server: LibredeskServer) -> None:
    """``presence-agent login`` against ``server`` with :data:`KEY` and :data:`SECRET`."""
    result = login(env, server.url, KEY, SECRET)
    assert result.returncode == 0, result.stderr
    assert "Signed in" in result.stdout


def log_text(env: Mapping[str, str]) -> str:
    """Everything the agent wrote to its log files so far (under ``$XDG_STATE_HOME``)."""
    logs = sorted(Path(env["XDG_STATE_HOME"]).rglob("*.log"))
    return "".join(log.read_text(errors="replace") for log in logs)
