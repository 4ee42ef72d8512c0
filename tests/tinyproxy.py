"""A real HTTP proxy for tests: Debian's ``tinyproxy``, which only it can resolve names through.

:class:`TinyProxy` runs ``tinyproxy -d -c CONF`` (foreground, every request logged to its
stderr) on ``127.0.0.1`` inside a private mount namespace (``unshare -m``) whose
``/etc/hosts`` is a bind-mounted file of our own. So a name like ``desk.internal`` resolves
to ``127.0.0.1`` for the proxy, and for nothing else on the machine: a test server bound to
loopback is reachable under that name *only* through the proxy, and a client that bypassed
it would fail to resolve the name at all.

It needs root (or CAP_SYS_ADMIN) for the namespace, as in CI (``.ci/run`` runs as root).
:func:`require_tinyproxy` skips a test where that is missing, except under ``CI=true``,
where it fails: there the test must run.

The config (it holds the proxy's password) and the log live in a private directory outside
pytest's basetemp, so the session's secret scan only sees what the agent itself wrote; the
test reads the log through :meth:`TinyProxy.log` and :meth:`TinyProxy.requests`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

__all__ = [
    "DESK",
    "PROXY_SECRET",
    "PROXY_USER",
    "ProxyRequest",
    "TinyProxy",
    "desk_proxy",
    "require_tinyproxy",
    "server_tls",
    "tinyproxy",
]

#: The server's name that only the proxy resolves (to 127.0.0.1).
DESK = "desk.internal"
#: The proxy's credentials (the password is scanned for by tests/secret_scan.py in every
#: test module that imports it).
PROXY_USER = "carol"
PROXY_SECRET = "TunnelPassw0rdXy"

_REQUEST = re.compile(r"Request \(file descriptor \d+\): (\S+) (\S+) HTTP/")


@dataclass(frozen=True)
class ProxyRequest:
    """One request line the proxy logged: ``CONNECT desk.internal:8443`` or
    ``GET http://desk.internal:8080/api/v1/agents/me``."""

    method: str
    target: str


def require_tinyproxy() -> None:
    """Skip (fail under CI) unless tinyproxy and a private mount namespace are available."""
    problem = ""
    if shutil.which("tinyproxy") is None or shutil.which("unshare") is None:
        problem = "tinyproxy or unshare missing (scripts/bootstrap installs tinyproxy-bin)"
    else:
        probe = subprocess.run(
            ["unshare", "-m", "true"], capture_output=True, text=True, timeout=10, check=False
        )
        if probe.returncode != 0:
            problem = f"no private mount namespace here: {probe.stderr.strip()[:200]}"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)


class TinyProxy:
    """One tinyproxy process; ``hosts`` are the names only it resolves (name -> address).

    Thread use: the test thread only.
    """

    def __init__(
        self,
        hosts: Mapping[str, str],
        *,
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="tinyproxy-"))
        os.chmod(self._dir, 0o700)
        self._hosts = dict(hosts)
        self._user = user
        self._password = password
        self.port = _free_port()
        self._log_path = self._dir / "tinyproxy.log"
        self._proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> TinyProxy:
        # tinyproxy takes no port 0 and no socket of ours: the port is picked free, then
        # bound by tinyproxy a moment later, and something else may take it in between
        # (it then says so and exits). That race alone is worth another port.
        for _attempt in range(5):
            try:
                return self._start()
            except _PortTaken:
                self.port = _free_port()
        raise RuntimeError(f"tinyproxy found no free port in 5 tries:\n{self.log()}")

    def _start(self) -> TinyProxy:
        hosts_file = self._dir / "hosts"
        lines = ["127.0.0.1 localhost", "::1 localhost"]
        lines += [f"{address} {name}" for name, address in self._hosts.items()]
        hosts_file.write_text("\n".join(lines) + "\n")
        conf = self._dir / "tinyproxy.conf"
        settings = [
            f"Port {self.port}",
            "Listen 127.0.0.1",
            "Timeout 120",
            "LogLevel Info",
            "MaxClients 50",
            "Allow 127.0.0.1",
            "DisableViaHeader Yes",
        ]
        if self._user is not None and self._password is not None:
            settings.append(f"BasicAuth {self._user} {self._password}")
        conf.write_text("\n".join(settings) + "\n")
        conf.chmod(0o600)
        script = 'mount --bind "$1" /etc/hosts && exec tinyproxy -d -c "$2"'
        with self._log_path.open("wb") as log:
            # unshare execs its command in the new namespace (no fork), so this pid is the
            # proxy's own.
            self._proc = subprocess.Popen(
                ["unshare", "-m", "sh", "-c", script, "sh", str(hosts_file), str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                if "Could not create listening sockets" in self.log():
                    raise _PortTaken()
                raise RuntimeError(f"tinyproxy exited at start:\n{self.log()}")
            if "Accepting connections" in self.log():
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", self.port), timeout=1),
                ):
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"tinyproxy did not start:\n{self.log()}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> TinyProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- for tests ---------------------------------------------------------------------------

    def url(self, *, user: str | None = None, password: str | None = None) -> str:
        """``http://[user:password@]127.0.0.1:PORT`` (credentials percent-encoded)."""
        auth = ""
        if user is not None and password is not None:
            auth = f"{quote(user, safe='')}:{quote(password, safe='')}@"
        return f"http://{auth}127.0.0.1:{self.port}"

    def log(self) -> str:
        try:
            return self._log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def requests(self) -> list[ProxyRequest]:
        """Every request line the proxy has logged so far, in order."""
        return [ProxyRequest(m.group(1), m.group(2)) for m in _REQUEST.finditer(self.log())]

    def wait_for_request(
        self, method: str, target_prefix: str, timeout: float = 10.0
    ) -> ProxyRequest | None:
        deadline = time.monotonic() + timeout
        while True:
            for request in self.requests():
                if request.method == method and request.target.startswith(target_prefix):
                    return request
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)


class _PortTaken(Exception):
    """tinyproxy could not bind its port: someone took it after it was picked."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def tinyproxy(
    hosts: Mapping[str, str], *, user: str | None = None, password: str | None = None
) -> Iterator[TinyProxy]:
    require_tinyproxy()
    with TinyProxy(hosts, user=user, password=password) as proxy:
        yield proxy


def server_tls(directory: Path, name: str) -> tuple[ssl.SSLContext, Path]:
    """A server-side TLS context for ``name`` and the certificate file a client trusts (its
    ``ca_bundle``): a throw-away self-signed certificate made by ``openssl``."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
            "-addext", f"subjectAltName=DNS:{name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context, cert


@pytest.fixture
def desk_proxy() -> Iterator[TinyProxy]:
    """A tinyproxy asking for PROXY_USER:PROXY_SECRET, the only resolver of :data:`DESK`."""
    with tinyproxy({DESK: "127.0.0.1"}, user=PROXY_USER, password=PROXY_SECRET) as running:
        yield running
