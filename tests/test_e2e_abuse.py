"""Abuse of the real agent process, the way a broken or hostile server, a hand-edited config or a
careless command line would abuse it: `login`, `status`, `set` and a running `run --no-tray`.

Every case asserts the outcome a person sees (one clear line, the exit code), that nothing was
stored or overwritten, the final status on the server where one applies, and a bound on the
requests made. "Another host" is a listener on 127.0.0.2 (a different origin; for the http://
rule a non-loopback address of this machine), and it must never see a single byte.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import os
import select
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from presence_agent import control
from tests.agent_process import AgentProcess, agent_argv, login, run_cli
from tests.libredesk_server import AVAILABILITY_PATH, ME_PATH, LibredeskServer
from tests.secret_scan import register_secret

pytestmark = pytest.mark.desktop

SECRET = register_secret("Ab:use-sëcret-Zq9-Ж")
#: Starts with ':' and has a 4-byte UTF-8 character: both auth schemes must carry it intact.
ODD_SECRET = register_secret(":Ab:use-пароль-ü€-🔑")
MiB = 1 << 20


# -- helpers: another host, a proxy that can stream, checks -----------------------------------


class OtherHost:
    """A listener standing for another machine. It records every connection and byte it gets,
    and answers nothing useful."""

    def __init__(self, host: str = "127.0.0.2") -> None:
        self.host = host
        self._sock = socket.create_server((host, 0))
        self.port = self._sock.getsockname()[1]
        self._lock = threading.Lock()
        self._received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="other-host", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def received(self) -> list[bytes]:
        with self._lock:
            return list(self._received)

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not select.select([self._sock], [], [], 0.1)[0]:
                continue
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(1.0)
                data = b""
                with contextlib.suppress(OSError):
                    while b"\r\n\r\n" not in data and len(data) < 65536:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                with self._lock:
                    self._received.append(data)
                with contextlib.suppress(OSError):
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def __enter__(self) -> OtherHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def non_loopback_address() -> str:
    """An address of this machine that the agent cannot count as loopback.

    The address of the default route's interface if there is one; otherwise 0.0.0.0, which
    Linux connects to this machine, and which is no loopback address either.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
            address = str(probe.getsockname()[0])
        except OSError:
            address = ""
    if address and not ipaddress.ip_address(address).is_loopback and address != "0.0.0.0":
        return address
    return "0.0.0.0"


_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    scheme: str  # the Authorization scheme, e.g. "Basic" (never the credentials)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        return  # a client hanging up mid-answer is what these tests do on purpose


class StreamingProxy:
    """A reverse proxy in front of a LibredeskServer that can answer with an endless chunked
    body (no Content-Length), which the server itself cannot. It records each request's
    method, path and Authorization *scheme*, and how many bytes each endless answer got out
    before the client hung up."""

    LIMIT = 64 * MiB

    def __init__(self, upstream: LibredeskServer) -> None:
        self.upstream = upstream
        self._lock = threading.Lock()
        self._endless: list[str] = []
        self.seen: list[Seen] = []
        self.streamed: list[int] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                scheme = (self.headers.get("Authorization") or "").partition(" ")[0]
                with proxy._lock:
                    proxy.seen.append(Seen(self.command, self.path, scheme))
                    endless = next((p for p in proxy._endless if self.path.startswith(p)), None)
                    if endless is not None:
                        proxy._endless.remove(endless)
                if endless is not None:
                    self.stream_endlessly()
                    return
                self.forward(body)

            def forward(self, body: bytes) -> None:
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream.port, timeout=15)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    answer = conn.getresponse()
                    data = answer.read()
                    self.send_response_only(answer.status)
                    for name, value in answer.getheaders():
                        if name.lower() not in _HOP:
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    conn.close()

            def stream_endlessly(self) -> None:
                self.close_connection = True
                self.connection.settimeout(10)
                sent = 0
                chunk = b"x" * 65536
                try:
                    self.send_response_only(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    head = b'{"status": "success", "data": {"id": 7, "pad": "'
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(head), head))
                    while sent < proxy.LIMIT:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        sent += len(chunk)
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass  # the client hung up: what we want
                with proxy._lock:
                    proxy.streamed.append(sent)

            do_GET = do_PUT = do_POST = handle_one

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def endless_next(self, prefix: str) -> None:
        """Answer the next request under ``prefix`` with a chunked body that never ends."""
        with self._lock:
            self._endless.append(prefix)

    def requests(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        with self._lock:
            return [
                s
                for s in self.seen
                if (method is None or s.method == method) and (path is None or s.path == path)
            ]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> StreamingProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def shows(agent: AgentProcess, text: str, timeout: float) -> bool:
    """Whether ``text`` appears in anything the agent printed within ``timeout`` seconds.

    (Polls the whole output: AgentProcess.wait_output can skip a stdout line that arrives
    after a stderr line it has already looked at.)
    """
    deadline = time.monotonic() + timeout
    while text not in agent.output():
        if time.monotonic() > deadline or agent.proc.poll() is not None:
            return text in agent.output()
        time.sleep(0.05)
    return True


def config_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) / "presence-agent" / "config.toml"


def one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """The single stderr line of a failed command, checked for ``words``."""
    assert result.returncode != 0, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[:2000]
    line = lines[0]
    assert line.startswith("presence-agent: "), line
    assert len(line) < 700, f"a {len(line)} character message"
    assert "\x1b" not in line, "control characters from the server reached the terminal"
    for word in words:
        assert word in line, (word, line)
    return line


def keyring_holds(env: dict[str, str], server_url: str, key: str) -> bool:
    """Whether the Secret Service holds a presence-agent secret for ``key@server_url``."""
    probe = (
        "import sys\n"
        "from keyring.backends.SecretService import Keyring\n"
        "sys.exit(0 if Keyring().get_password('presence-agent', sys.argv[1]) else 1)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, f"{key}@{server_url}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode == 0


def nothing_stored(env: dict[str, str], server_url: str, key: str) -> None:
    assert not config_file(env).exists(), config_file(env).read_text()
    assert not keyring_holds(env, server_url, key)


def signed_in(env: dict[str, str], url: str, key: str, secret: str = SECRET, *extra: str) -> None:
    result = login(env, url, key, secret, *extra)
    assert result.returncode == 0, result.stderr
    assert "Signed in" in result.stdout


def envelope(status: str = "available", **extra: object) -> bytes:
    data = {"id": 7, "availability_status": status, "first_name": "Ada", **extra}
    return json.dumps({"status": "success", "data": data}).encode()


def api_requests(server: LibredeskServer) -> list[object]:
    return [r for r in server.requests() if r.path.startswith("/api/")]


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def key() -> str:
    """An API key of this test's own: the session's keyring is shared, and a server's port
    may be one an earlier test used, so ``key@url`` must not be."""
    value = f"abuse-{uuid.uuid4().hex[:12]}"
    register_secret(SECRET, api_key=value)
    register_secret(ODD_SECRET, api_key=value)
    return value


@pytest.fixture
def server(key: str) -> Iterator[LibredeskServer]:
    with LibredeskServer(dialect="documented", api_key=key, api_secret=SECRET) as srv:
        yield srv


@pytest.fixture
def proxy(server: LibredeskServer) -> Iterator[StreamingProxy]:
    with StreamingProxy(server) as prx:
        yield prx


@pytest.fixture
def other_host() -> Iterator[OtherHost]:
    with OtherHost() as other:
        yield other


# -- 1. hostile answers to the one-shot commands ----------------------------------------------

HUGE_WITH_LENGTH = envelope(pad="x" * (MiB + 1000))
DEEP_JSON = b"[" * 300_000 + b"]" * 300_000  # < 1 MiB; json.loads would recurse out
HOSTILE_MESSAGE = json.dumps(
    {
        "status": "error",
        "message": "\x1b[2J\x1b[31mpwned\r\nFAKE: Signed in\n" + "y" * 10_000,
        "data": None,
        "error_type": "GeneralException",
    }
).encode()


@dataclass(frozen=True)
class Answer:
    """A hostile answer to inject, and the words of the one line the person must get."""

    name: str
    inject: Callable[[LibredeskServer, StreamingProxy, str], None]
    words: tuple[str, ...]


def _body(
    body: bytes, status: int = 200, content_type: str = "application/json"
) -> Callable[[LibredeskServer, StreamingProxy, str], None]:
    def inject(server: LibredeskServer, proxy: StreamingProxy, path: str) -> None:
        server.inject_body(path, body, status=status, content_type=content_type)

    return inject


def _endless(server: LibredeskServer, proxy: StreamingProxy, path: str) -> None:
    proxy.endless_next(path)


ANSWERS = [
    Answer(
        "malformed JSON",
        _body(b'{"status": "success", "data": {"id": 7,'),
        ("not answer with JSON",),
    ),
    Answer("binary junk", _body(b"\x00\xff\xfe{\x00}" * 50), ("did not answer with JSON",)),
    Answer("JSON nested 300 000 deep", _body(DEEP_JSON), ("did not answer with JSON",)),
    Answer("JSON of the wrong shape", _body(b'["success"]'), ("shape Libredesk does not use",)),
    Answer("over 1 MiB with Content-Length", _body(HUGE_WITH_LENGTH), ("byte answer",)),
    Answer("endless, without Content-Length", _endless, (f"over {MiB} bytes",)),
    Answer(
        "a status word in neither vocabulary",
        _body(envelope("lunch")),
        ("unknown status 'lunch'",),
    ),
    Answer("agent id not a number", _body(envelope(id="7")), ("no agent id",)),
    Answer("hostile error message", _body(HOSTILE_MESSAGE, status=500), ("HTTP 500", "pwned")),
]


@pytest.mark.parametrize("answer", ANSWERS, ids=[a.name for a in ANSWERS])
def test_one_shot_commands_survive_hostile_answers(
    env: dict[str, str],
    key: str,
    server: LibredeskServer,
    proxy: StreamingProxy,
    answer: Answer,
) -> None:
    # login: one line, nothing stored, and at most the GET and the /ws probe.
    answer.inject(server, proxy, ME_PATH)
    result = login(env, proxy.url, key, SECRET)
    one_clear_line(result, "nothing stored", *answer.words)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    nothing_stored(env, proxy.url, key)
    assert len(proxy.requests()) <= 2
    if answer.inject is _endless:
        assert proxy.streamed, "the endless answer was never sent"
        assert proxy.streamed[0] < StreamingProxy.LIMIT, "the client read it all"

    # status and set, signed in: the same line, and the server's status is untouched.
    signed_in(env, proxy.url, key)
    for command, path in ((["status"], ME_PATH), (["set", "busy"], AVAILABILITY_PATH)):
        before = len(proxy.requests())
        answer.inject(server, proxy, path)
        result = run_cli(command, env)
        one_clear_line(result, *answer.words)
        assert result.returncode == 1
        # GET /agents/me, the /ws probe (the dialect is learnt anew), and for set the PUT.
        assert len(proxy.requests()) - before <= 3, proxy.requests()[before:]
        assert server.status == "offline"


def test_a_wrong_content_type_is_judged_by_the_body(
    env: dict[str, str], key: str, server: LibredeskServer
) -> None:
    # A proxy that labels the JSON text/html changes nothing: the body is Libredesk's.
    server.inject_body(ME_PATH, envelope("offline"), content_type="text/html; charset=latin-1")
    signed_in(env, server.url, key)
    # ...and an HTML page labelled application/json is not taken for an answer.
    server.inject_body(AVAILABILITY_PATH, b"<html><body>Welcome</body></html>")
    result = run_cli(["set", "away"], env)
    one_clear_line(result, "did not answer with JSON")
    assert server.status == "offline"
    server.inject_body(AVAILABILITY_PATH, envelope("away"), content_type="text/plain")
    assert run_cli(["set", "away"], env).returncode == 0
    assert server.puts() == [("away", "user"), ("away", "user")]
    assert len(server.requests()) <= 8  # GET /agents/me and the /ws probe each time, and PUTs


# -- 2. redirects to another host --------------------------------------------------------------


@pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_redirects_to_another_host_carry_nothing_there(
    env: dict[str, str], key: str, server: LibredeskServer, other_host: OtherHost, code: int
) -> None:
    server.inject_redirect(ME_PATH, other_host.url + ME_PATH, status=code)
    result = login(env, server.url, key, SECRET)
    one_clear_line(result, "redirected the API to 127.0.0.2", "nothing stored")
    nothing_stored(env, server.url, key)

    signed_in(env, server.url, key)
    server.inject_redirect(ME_PATH, other_host.url + ME_PATH, status=code)
    one_clear_line(run_cli(["status"], env), "redirected")
    server.inject_redirect(AVAILABILITY_PATH, other_host.url + AVAILABILITY_PATH, status=code)
    one_clear_line(run_cli(["set", "away"], env), "redirected")
    assert server.status == "offline"
    assert len(server.requests()) <= 7  # 1 + 2 (login) + 1 (status) + 3 (set), no retries
    assert other_host.received() == [], "the other host must not even be contacted"


# -- 3. hostile answers to the running agent ----------------------------------------------------


def set_status(env: dict[str, str], word: str) -> subprocess.CompletedProcess[str]:
    return run_cli(["set", word], env, timeout=30)


def test_running_agent_rides_out_hostile_answers(
    env: dict[str, str],
    key: str,
    server: LibredeskServer,
    proxy: StreamingProxy,
    other_host: OtherHost,
) -> None:
    signed_in(env, proxy.url, key)
    # At start, twice a status word it cannot read: it says so, backs off (no hammering:
    # ~2000 requests in 3 s before that was fixed), and connects on the third try.
    server.inject_body(ME_PATH, envelope("lunch"), count=2)
    reads = len(proxy.requests("GET", ME_PATH))
    with AgentProcess(["run", "--no-tray"], env) as agent:
        assert server.wait_for_put("available", "user", timeout=15), agent.output()
        assert len(proxy.requests("GET", ME_PATH)) - reads == 3, proxy.requests()
        assert shows(agent, "unknown status 'lunch'", 1)

        # A PUT answered by an endless stream, then by malformed JSON: retried with backoff,
        # delivered on the third try, and the person's `set` gets its answer.
        proxy.endless_next(AVAILABILITY_PATH)
        server.inject_body(AVAILABILITY_PATH, b'{"status": "succ')
        puts = len(proxy.requests("PUT"))
        result = set_status(env, "away")
        assert result.returncode == 0, (result.stderr, agent.output())
        assert server.status == "away"
        assert len(proxy.requests("PUT")) - puts == 3
        assert proxy.streamed[-1] < StreamingProxy.LIMIT

        # Over 1 MiB with a Content-Length, then a 307 to another host: the same.
        server.inject_body(AVAILABILITY_PATH, HUGE_WITH_LENGTH)
        server.inject_redirect(AVAILABILITY_PATH, other_host.url + AVAILABILITY_PATH, status=307)
        puts = len(proxy.requests("PUT"))
        result = set_status(env, "available")
        assert result.returncode == 0, (result.stderr, agent.output())
        assert server.status == "available"
        assert len(proxy.requests("PUT")) - puts == 3

        # A PUT answer holding a word in neither vocabulary: a clear failure, not retried,
        # and the agent goes on reporting.
        server.inject_body(AVAILABILITY_PATH, envelope("lunch"))
        puts = len(proxy.requests("PUT"))
        result = set_status(env, "busy")
        one_clear_line(result, "unknown status 'lunch'")
        assert len(proxy.requests("PUT")) - puts == 1
        assert agent.proc.poll() is None
        assert set_status(env, "busy").returncode == 0
        assert server.status == "busy"

        assert agent.terminate() == 0, agent.output()
    assert server.status == "offline"
    assert server.puts()[-1] == ("offline", "user")
    assert other_host.received() == []
    assert "Traceback" not in agent.output()
    # Everything above, counted: no retry storm anywhere.
    assert len(proxy.requests()) <= 25, proxy.requests()


def test_ws_pushes_and_redirects_do_not_derail_the_agent(
    env: dict[str, str], key: str, other_host: OtherHost
) -> None:
    with LibredeskServer(dialect="libredesk", api_key=key, api_secret=SECRET) as server:
        signed_in(env, server.url, key)
        with AgentProcess(["run", "--no-tray", "--keepalive-interval", "1"], env) as agent:
            assert server.wait_for_put("online", "user", timeout=10), agent.output()
            assert server.wait_for(lambda: server.ws_connected() == 1, 10), agent.output()
            puts = server.puts()

            # Pushes the agent cannot use: ignored, with a warning for the unknown word.
            for text in (
                json.dumps(
                    {
                        "type": "agent_availability_update",
                        "data": {"agent_id": 7, "availability_status": "lunch"},
                    }
                ),
                json.dumps({"type": "agent_availability_update", "data": "away"}),
                json.dumps({"type": "agent_availability_update", "data": {"agent_id": "7"}}),
                "not json at all",
                "[" * 100_000,
                json.dumps({"type": "something_else"}),
            ):
                server.ws_send_raw(text)
            assert shows(agent, "pushed an unknown status 'lunch'", 5)
            # ...on the same socket: none of them cost a reconnect (pings go on over it).
            pings = server.ws_pings
            assert server.wait_for(lambda: server.ws_pings >= pings + 2, 5), agent.output()
            assert server.ws_connections == 1
            assert server.ws_connected() == 1

            # A frame over 1 MiB drops the socket; the reconnect is redirected (twice) to
            # another host, which must not be contacted. Then it reconnects to the server.
            connections = server.ws_connections
            server.inject_redirect("/ws", other_host.url.replace("http", "ws") + "/ws", count=2)
            server.ws_send_raw("x" * (MiB + 10))
            assert server.wait_for(
                lambda: server.ws_connections > connections and server.ws_connected() == 1, 20
            ), agent.output()
            assert server.ws_connections == connections + 1

            # Still following the server: a change made in the web app shows at once.
            server.set_status("away_manual")
            assert shows(agent, "Away (set elsewhere)", 5)
            pings = server.ws_pings
            assert server.wait_for(lambda: server.ws_pings > pings, 5), "pings must go on"
            assert server.puts() == puts, "no push above may cause a PUT"
            assert agent.proc.poll() is None
            assert agent.terminate() == 0
        assert server.status == "offline"
        assert other_host.received() == []
        assert "Traceback" not in agent.output()
        # The first socket, two redirected attempts, the one after them; and few API calls.
        upgrades = [r for r in server.requests(path="/ws") if r.header("Upgrade")]
        assert len(upgrades) == 4, upgrades
        assert len(api_requests(server)) <= 12, api_requests(server)


# -- 4. http:// to a machine that is not this one ------------------------------------------------


def test_plain_http_to_another_machine_needs_the_opt_in_at_login_and_in_the_config(
    env: dict[str, str], key: str
) -> None:
    address = non_loopback_address()
    with LibredeskServer(
        dialect="documented", api_key=key, api_secret=SECRET, host=address
    ) as remote:
        url = remote.url
        # login: refused without the opt-in, before any byte is sent.
        result = login(env, url, key, SECRET)
        one_clear_line(result, "refusing plain http://", "--allow-insecure-http")
        assert result.returncode == 2
        nothing_stored(env, url, key)

        # With it, login works and records the opt-in in the config.
        signed_in(env, url, key, SECRET, "--allow-insecure-http")
        config = config_file(env)
        assert "allow_insecure_http = true" in config.read_text()
        assert run_cli(["status"], env).returncode == 0  # a positive control for what follows

        # The person (or anyone) edits the opt-in out: run, status and set refuse, naming the
        # file and the key, and the secret in the keyring is not sent anywhere.
        edited = config.read_text().replace("allow_insecure_http = true", "").encode()
        config.write_bytes(edited)
        remote.clear_requests()
        for command in (["run", "--no-tray"], ["status"], ["set", "away"]):
            result = run_cli(command, env, timeout=20)
            line = one_clear_line(result, str(config), "'server'", "allow_insecure_http")
            assert result.returncode == 2, line
        assert remote.requests() == []
        assert config.read_bytes() == edited
        assert keyring_holds(env, url, key), "refusing must not cost the person the stored secret"

        # A running agent whose config is edited that way drops the server at its next connect.
        config.write_text(f'server = "{url}"\napi_key = "{key}"\nallow_insecure_http = true\n')
        with AgentProcess(["run", "--no-tray"], env) as agent:
            assert remote.wait_for_put("available", "user", timeout=10), agent.output()
            config.write_text(f'server = "{url}"\napi_key = "{key}"\n')
            remote.clear_requests()
            # What `login` and `logout` send the running agent: reconnect with what is stored.
            control.request(Path(env["XDG_RUNTIME_DIR"]) / "presence-agent", {"cmd": "reload"})
            assert shows(agent, "Signed out", 10), agent.output()
            time.sleep(1)
            assert remote.requests() == []
            assert agent.proc.poll() is None
            assert agent.terminate() == 0
        assert remote.requests() == [], "not even the offline on the way out"


# -- 5. corrupt and hostile config files ----------------------------------------------------------


def _write(data: bytes) -> Callable[[Path, str], None]:
    """Write ``data`` with SERVER_HOSTPORT and SERVER standing for the test server's."""

    def make(path: Path, server_url: str) -> None:
        hostport = urlsplit(server_url).netloc.encode()
        data_ = data.replace(b"SERVER_HOSTPORT", hostport).replace(b"SERVER", server_url.encode())
        path.write_bytes(data_)

    return make


def _directory(path: Path, server_url: str) -> None:
    path.mkdir()


def _fifo(path: Path, server_url: str) -> None:
    os.mkfifo(path)


def _dev_zero(path: Path, server_url: str) -> None:
    path.symlink_to("/dev/zero")


def _loop(path: Path, server_url: str) -> None:
    path.symlink_to(path)


def _unreadable(path: Path, server_url: str) -> None:
    path.write_text(f'server = "{server_url}"\n')
    path.chmod(0)


@dataclass(frozen=True)
class Hostile:
    name: str
    make: Callable[[Path, str], None]
    words: tuple[str, ...]


HOSTILE_CONFIGS = [
    Hostile("not TOML", _write(b'server = "SERVER\naway_after = \n'), ("not valid TOML",)),
    Hostile("not UTF-8", _write(b'server = "SERVER"\napi_key = "k\xe9y"\n'), ("not UTF-8",)),
    Hostile("a number as server", _write(b"server = 42\n"), ("'server'", "must be a string")),
    Hostile(
        "a string as a flag",
        _write(b'server = "SERVER"\noffline_on_quit = "yes"\n'),
        ("'offline_on_quit'", "true or false"),
    ),
    Hostile("an auth scheme we lack", _write(b'auth = "digest"\n'), ("'auth'", "must be one of")),
    Hostile("an unknown key", _write(b'colour = "red"\n'), ("unknown key 'colour'",)),
    Hostile(
        "a key name of 500 000 characters",
        _write(b"k" * 500_000 + b" = 1\n"),
        ("unknown key 'kkkk",),
    ),
    Hostile("a 10 MB file", _write(b"# " + b"x" * 10_000_000 + b"\n"), ("too large",)),
    Hostile(
        "a table nested 2000 deep",
        _write(b"[" + b".".join([b"t"] * 2000) + b"]\nx = 1\n"),
        ("unknown key 't'",),
    ),
    Hostile(
        "an array nested 100 000 deep",
        _write(b"server = " + b"[" * 100_000 + b"]" * 100_000 + b"\n"),
        ("nested too deeply",),
    ),
    Hostile("a directory in its place", _directory, ("cannot read",)),
    Hostile("a FIFO in its place", _fifo, ("not a regular file",)),
    Hostile("a link to /dev/zero", _dev_zero, ("not a regular file",)),
    Hostile("a symlink loop", _loop, ("cannot read",)),
    Hostile("an unreadable file", _unreadable, ("cannot read", "Permission denied")),
    Hostile(
        "credentials in the server URL",
        _write(b'server = "http://abuse-key:NotTheSecret-123@SERVER_HOSTPORT"\napi_key = "k"\n'),
        ("'server'", "not in the URL"),
    ),
    Hostile(
        "a query in the server URL",
        _write(b'server = "SERVER/?token=NotTheSecret-123"\napi_key = "k"\n'),
        ("'server'", "no query"),
    ),
    Hostile(
        "ftp:// as the server", _write(b'server = "ftp://SERVER_HOSTPORT"\n'), ("not a server URL",)
    ),
]


def _snapshot(path: Path) -> tuple[int, bytes | None, float]:
    info = path.lstat()
    data = path.read_bytes() if stat.S_ISREG(info.st_mode) and info.st_mode & 0o444 else None
    return info.st_mode, data, info.st_mtime


def _argv_for(path: Path, hostile: Hostile) -> list[str]:
    """The agent's argv; for the unreadable file as root, without the power to read it anyway."""
    if hostile.make is not _unreadable or os.geteuid() != 0:
        return agent_argv()
    if shutil.which("setpriv") is None:
        pytest.skip("as root, a chmod 000 file is readable; setpriv (util-linux) drops that power")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *agent_argv()]


@pytest.mark.parametrize("hostile", HOSTILE_CONFIGS, ids=[h.name for h in HOSTILE_CONFIGS])
def test_hostile_config_files_give_one_line_and_are_left_alone(
    env: dict[str, str], key: str, server: LibredeskServer, hostile: Hostile
) -> None:
    path = config_file(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    hostile.make(path, server.url)
    before = _snapshot(path)
    argv = _argv_for(path, hostile)
    try:
        for command in (
            ["run", "--no-tray"],
            ["status"],
            ["set", "away"],
            ["login", "--server", server.url, "--api-key", key, "--api-secret-stdin"],
        ):
            started = time.monotonic()
            result = subprocess.run(
                [*argv, *command],
                env=env,
                input=SECRET + "\n",
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert time.monotonic() - started < 10, f"{command[0]} took too long"
            line = one_clear_line(result, str(path), *hostile.words)
            assert result.returncode == 2, (command, line)
            assert "Traceback" not in result.stderr
            assert "NotTheSecret-123" not in result.stdout + result.stderr
            assert _snapshot(path) == before, f"{command[0]} touched the file"
    finally:
        if hostile.make is _unreadable:
            path.chmod(0o600)
    assert server.requests() == [], "nothing may be sent on a config that cannot be trusted"
    assert not keyring_holds(env, server.url, key)


# -- 6. status words given to `set` that are in no vocabulary -------------------------------------

WORDS = ["", "lunch", "Available!", "x" * 10_000, "away\x1b[2J\x1b[31m", "ávailable", "away\nbusy"]


def test_set_refuses_words_in_no_vocabulary(
    env: dict[str, str], key: str, server: LibredeskServer
) -> None:
    signed_in(env, server.url, key)
    runtime = Path(env["XDG_RUNTIME_DIR"]) / "presence-agent"
    with AgentProcess(["run", "--no-tray"], env) as agent:
        assert server.wait_for_put("available", "user", timeout=10), agent.output()
        server.clear_requests()
        for word in WORDS:
            result = run_cli(["set", word], env)
            line = one_clear_line(result, "unknown status")
            assert result.returncode == 2, line
            assert len(line) < 300
        # The same words straight to the control socket (a local program, not our CLI).
        payloads: list[dict[str, object]] = [{"cmd": "set", "status": word} for word in WORDS]
        payloads += [
            {"cmd": "set", "status": ["away"]},
            {"cmd": "set", "status": {"away": 1}},
            {"cmd": "set"},
            {"cmd": "x" * 10_000},
            {"cmd": None},
        ]
        for payload in payloads:
            answer = control.request(runtime, payload, timeout=5)
            assert answer["ok"] is False, (payload, answer)
        assert server.requests() == [], "a refused word costs no request"
        assert server.status == "available"
        # Words with case and spaces are still words: and the agent still works.
        assert run_cli(["set", "  AWAY "], env).returncode == 0
        assert server.status == "away"
        assert agent.proc.poll() is None
        assert agent.terminate() == 0
    assert server.status == "offline"


# -- 7. a secret with ':' and non-ASCII, both auth schemes, end to end -----------------------------


@pytest.mark.parametrize("auth", ["basic", "token"])
def test_odd_secret_with_either_auth_scheme_end_to_end(
    env: dict[str, str], key: str, auth: str
) -> None:
    with (
        LibredeskServer(dialect="documented", api_key=key, api_secret=ODD_SECRET) as server,
        StreamingProxy(server) as proxy,
    ):
        signed_in(env, proxy.url, key, ODD_SECRET, "--auth", auth)
        # The default scheme is not written down: a preset may still change it centrally.
        stored = config_file(env).read_text()
        assert f'auth = "{auth}"' in stored if auth != "token" else "auth" not in stored
        with AgentProcess(["run", "--no-tray"], env) as agent:
            assert server.wait_for_put("available", "user", timeout=10), agent.output()
            assert run_cli(["set", "busy"], env).returncode == 0
            status = run_cli(["status"], env)
            assert status.returncode == 0, status.stderr
            assert status.stdout.startswith("Busy")
            assert agent.terminate() == 0
        assert server.status == "offline"
        schemes = {seen.scheme for seen in proxy.requests()}
        assert schemes == {"Basic" if auth == "basic" else "token"}
        assert len(proxy.requests()) <= 10
        assert not [r for r in server.requests() if not r.authorization_present]
    with LibredeskServer(dialect="libredesk", api_key=key, api_secret=ODD_SECRET) as server:
        # The real server's /ws takes the same header: the keepalive must carry it intact.
        signed_in(env, server.url, key, ODD_SECRET, "--auth", auth)
        with AgentProcess(["run", "--no-tray", "--keepalive-interval", "1"], env) as agent:
            assert server.wait_for_put("online", "user", timeout=10), agent.output()
            assert server.wait_for(lambda: server.ws_pings >= 1, 10), agent.output()
            assert agent.terminate() == 0
        assert server.status == "offline"
        upgrades = [r for r in server.requests(path="/ws") if r.header("Upgrade")]
        assert len(upgrades) == 1, "the first handshake was accepted"
        assert len(server.requests()) <= 10
