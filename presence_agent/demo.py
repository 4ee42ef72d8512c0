"""``presence-agent demo``: the real agent against a throwaway stand-in server.

Nothing of the user's is touched: the config lives in a temporary directory,
the (made-up) secret in memory, and the server on 127.0.0.1. The stand-in
speaks the documented dialect with the standard library only, so the demo
needs nothing that a normal install lacks.
"""

from __future__ import annotations

import base64
import json
import signal
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

DEMO_KEY = "demo"
DEMO_SECRET = "demo-secret"  # noqa: S105 - a throwaway for the local stand-in
_VALID = {"available", "busy", "away", "offline"}


class StandIn:
    """A minimal documented-dialect Libredesk on 127.0.0.1.

    Thread use: requests on the HTTP server's threads; ``status`` from any.
    """

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()
        self.status = "offline"
        self._manual_away = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _agent(self) -> dict[str, Any]:
        return {
            "id": 1,
            "first_name": "Demo",
            "last_name": "Agent",
            "email": "demo@example.invalid",
            "type": "agent",
            "availability_status": self.status,
            "enabled": True,
        }

    def _put(self, status: str, source: str) -> None:
        with self._lock:
            if source == "idle" and self.status == "away" and self._manual_away:
                return  # idle never overrides a manual away
            if status != self.status:
                self.status = status
                self._manual_away = status == "away" and source == "user"
                stamp = time.strftime("%H:%M:%S")
                print(f"{stamp} server: {status} ({source})", file=self._out, flush=True)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self
        expected = {
            "token " + f"{DEMO_KEY}:{DEMO_SECRET}",
            "Basic " + base64.b64encode(f"{DEMO_KEY}:{DEMO_SECRET}".encode()).decode(),
        }

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _answer(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self) -> bool:
                if self.headers.get("Authorization") in expected:
                    return True
                self._answer(401, _error("invalid API key or secret"))
                return False

            def do_GET(self) -> None:
                if self.path.rstrip("/") != "/api/v1/agents/me":
                    self._answer(404, _error("not found"))
                elif self._authorized():
                    self._answer(200, {"status": "success", "data": standin._agent()})

            def do_PUT(self) -> None:
                if self.path.rstrip("/") != "/api/v1/agents/me/availability":
                    self._answer(404, _error("not found"))
                    return
                if not self._authorized():
                    return
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(min(length, 65536)))
                    status, source = body["status"], body.get("source", "user")
                except (ValueError, KeyError, TypeError):
                    self._answer(400, _error("bad request"))
                    return
                if status not in _VALID:
                    self._answer(400, _error("invalid status"))
                    return
                standin._put(status, source)
                self._answer(200, {"status": "success", "data": standin._agent()})

        return Handler


def _error(message: str) -> dict[str, Any]:
    return {"status": "error", "message": message, "data": None, "error_type": "DemoException"}


def run(away_after: float, duration: float | None, out: TextIO) -> int:
    from presence_agent import app, config
    from presence_agent.credentials import Credentials
    from presence_agent.idle import IdleSourceError, create
    from presence_agent.logs import Redactor
    from presence_agent.paths import Paths

    standin = StandIn(out)
    standin.start()
    with tempfile.TemporaryDirectory(prefix="presence-agent-demo-") as tmp:
        root = Path(tmp)
        paths = Paths(
            config_dir=root / "config",
            state_dir=root / "state",
            log_dir=root / "log",
            runtime_dir=root / "run",
        )
        config.update_user_file(
            paths, {"server": standin.url, "api_key": DEMO_KEY, "away_after": away_after}
        )
        credentials = Credentials(backend=MemoryKeyring())
        credentials.set(standin.url, DEMO_KEY, DEMO_SECRET)
        print(
            f"presence-agent demo: a stand-in Libredesk server runs at {standin.url}.\n"
            f"Leave the keyboard and mouse alone for {away_after:g} s to go away; touch them to"
            " come back. Ctrl-C quits.",
            file=out,
            flush=True,
        )
        try:
            source = create()
            cfg = config.load(paths)
            services = app.start_services(paths, cfg, {}, credentials, source, Redactor())
        except IdleSourceError as exc:
            print(f"presence-agent: {exc}", file=out)
            standin.stop()
            return 1
        app.install_signal_handlers(services.quit)
        services.stop_event.wait(duration)
        app.shutdown(services)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    standin.stop()
    print("demo over.", file=out)
    return 0


class MemoryKeyring:
    """A keyring that forgets everything on exit: only for the demo's made-up secret."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        if self._items.pop((service, username), None) is None:
            raise PasswordDeleteError(username)
