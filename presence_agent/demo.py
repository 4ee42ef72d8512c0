"""``presence-agent demo``: the real agent against a throwaway stand-in server.

Nothing of the user's is touched: the config lives in a temporary directory,
the (made-up) secret in memory, and the server on 127.0.0.1. The stand-in
speaks the real Libredesk dialect (docs/libredesk.md: ``online``, ``away``,
``away_manual``, ``away_and_reassigning``, ``offline``, and the idle guard over a
person's away) with the standard library only, so the demo needs nothing that a
normal install lacks. It has no ``/ws``: the agent is told the dialect, and nothing
sweeps the demo's agent offline.
"""

from __future__ import annotations

import base64
import json
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

from presence_agent import __version__
from presence_agent.exitcodes import Exit
from presence_agent.i18n import ENGLISH, N_, Translator

DEMO_KEY = "demo"
DEMO_SECRET = "demo-secret"  # noqa: S105 - a throwaway for the local stand-in
_VALID = {"online", "away", "away_manual", "away_and_reassigning", "offline"}
#: The real server's idle guard: ``source: idle`` does not change these.
_GUARDED = {"away_manual", "away_and_reassigning"}


class StandIn:
    """A minimal real-dialect Libredesk on 127.0.0.1 (REST only).

    Thread use: requests on the HTTP server's threads; ``status`` from any.
    """

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Condition()
        self.status = "offline"
        #: The last change, and how many there were (for the simulated day's checks).
        self.last: tuple[str, str] = ("offline", "")
        self._changes = 0
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
            if source == "idle" and self.status in _GUARDED:
                return  # the real server's guard: 200, and nothing changes
            if status != self.status:
                self.status = status
                self.last = (status, source)
                self._changes += 1
                self._lock.notify_all()
                stamp = time.strftime("%H:%M:%S")
                print(f"{stamp} server: {status} ({source})", file=self._out, flush=True)

    def changes(self) -> int:
        with self._lock:
            return self._changes

    def wait_for(self, expect: tuple[str, str], timeout: float) -> bool:
        """Wait until the server holds ``expect`` (status, source of the change that set it)."""
        with self._lock:
            return self._lock.wait_for(lambda: self.last == expect, timeout)

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


class ScriptedInput:
    """The simulated person: an idle source whose input comes from the demo's script.

    It stands in for the keyboard and mouse where there are none (a server, a
    container, CI), so the real engine, policy and reporter run exactly as they
    do on a desktop. Thread use: ``touch`` from the script's thread; the rest
    from the engine's, as for any idle source.
    """

    name = "simulated"
    what = "the demo's scripted keyboard and mouse"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last_input = clock()
        self._armed = False
        self._on_activity: Callable[[], None] | None = None

    def start(self, on_activity: Callable[[], None]) -> None:
        self._on_activity = on_activity
        self._last_input = self._clock()

    def stop(self) -> None:
        self._on_activity = None

    def idle_seconds(self) -> float:
        return max(0.0, self._clock() - self._last_input)

    def arm(self) -> None:
        self._armed = True

    def disarm(self) -> None:
        self._armed = False

    def touch(self) -> None:
        """The person moves the mouse."""
        self._last_input = self._clock()
        callback = self._on_activity
        if self._armed and callback is not None:
            self._armed = False
            callback()


@dataclass(frozen=True)
class Step:
    """One moment of the simulated day.

    ``action``: ``type`` (input for ``seconds``), ``rest`` (no input for
    ``seconds``, in multiples of the away threshold when ``times_away_after``),
    ``touch`` (one input), ``choose`` (a manual status, as from the tray),
    ``quit``. ``expect``: the server's status after it, as ``(status, source)``,
    checked before the day goes on; ``None`` checks that nothing was sent.
    """

    action: str
    narration: str
    seconds: float = 0.0
    times_away_after: float = 0.0
    status: str = ""
    expect: tuple[str, str] | None = None


#: How many away thresholds without input before no new conversations (the demo's plan).
STOP_TIMES_AWAY = 2.0

#: The simulated day, in the real server's words. A step is one line.
DAY: tuple[Step, ...] = (
    Step(
        "type", N_("09:00 You sit down and start typing."), seconds=1.0, expect=("online", "user")
    ),
    Step(
        "rest",
        N_(
            "10:30 You step away for a coffee and leave the keyboard alone"
            " (away, but still receiving conversations)."
        ),
        times_away_after=1.4,
        expect=("away", "idle"),
    ),
    Step("touch", N_("10:45 You are back and move the mouse."), expect=("online", "idle")),
    Step(
        "rest",
        N_("11:00 Called into a meeting: after a while no new conversations are assigned to you."),
        times_away_after=STOP_TIMES_AWAY + 0.4,
        expect=("away_manual", "idle"),
    ),
    Step(
        "touch",
        N_("11:40 Back at the desk: online again in one step."),
        expect=("online", "user"),
    ),
    Step(
        "choose",
        N_("12:00 Lunch: you choose Away in the tray menu."),
        status="away",
        expect=("away_manual", "user"),
    ),
    Step(
        "rest",
        N_("12:20 Still at lunch; idle detection never overrides your choice."),
        times_away_after=1.4,
        expect=None,
    ),
    Step(
        "quit",
        N_("17:30 You quit the agent for the day; it tells the server first."),
        expect=("offline", "user"),
    ),
)


def run(
    away_after: float,
    duration: float | None,
    out: TextIO,
    *,
    simulate: bool | None = None,
    day: tuple[Step, ...] = DAY,
    tr: Translator = ENGLISH,
) -> int:
    """``presence-agent demo``. ``simulate`` ``None``: real input if a display allows it.
    Its words are in ``tr``'s language; the stand-in server's lines show the wire words."""
    from presence_agent import app, config
    from presence_agent.credentials import Credentials
    from presence_agent.idle import IdleSource, IdleSourceError, create
    from presence_agent.logs import Redactor
    from presence_agent.paths import Paths

    standin = StandIn(out)
    standin.start()
    try:
        with tempfile.TemporaryDirectory(prefix="presence-agent-demo-") as tmp:
            root = Path(tmp)
            paths = Paths(
                config_dir=root / "config",
                state_dir=root / "state",
                log_dir=root / "log",
                runtime_dir=root / "run",
            )
            config.update_user_file(
                paths,
                {
                    "server": standin.url,
                    "api_key": DEMO_KEY,
                    "dialect": "libredesk",
                    "away_after": away_after,
                    "stop_assignments_after": away_after * STOP_TIMES_AWAY,
                    "reassign_after": 0,
                },
            )
            credentials = Credentials(backend=MemoryKeyring())
            credentials.set(standin.url, DEMO_KEY, DEMO_SECRET)
            cfg = config.load(paths)
            scripted: ScriptedInput | None = None
            quit_played = False
            source: IdleSource
            why_simulated = tr._("as asked (--simulate)")
            if simulate:
                source = scripted = ScriptedInput()
            else:
                try:
                    source = create()
                    parts = app.build(paths, cfg, {}, credentials, source, Redactor(), tr=tr)
                    app.start(parts)
                except IdleSourceError as exc:
                    if simulate is False:
                        print(f"presence-agent: {exc}", file=out)
                        return Exit.FAILED
                    why_simulated = _why_no_input(str(exc), tr)
                    source = scripted = ScriptedInput()
            words = tr._(
                "presence-agent demo {version}: a stand-in Libredesk server runs at"
                " {url}; nothing of yours is used."
            )
            banner = words.format(version=__version__, url=standin.url)
            if scripted is not None:
                # Both lines before the agent starts: its first report comes at once, and
                # the stand-in prints it from its own thread.
                print(banner, file=out, flush=True)
                banner = ""
                words = tr._(
                    "SIMULATED DAY - {why}. A scripted person plays a day"
                    " (away after {seconds} s without input); the agent and the"
                    " server's answers below are real."
                )
                print(
                    words.format(why=why_simulated, seconds=f"{away_after:g}"),
                    file=out,
                    flush=True,
                )
                parts = app.build(paths, cfg, {}, credentials, scripted, Redactor(), tr=tr)
                app.start(parts)
            if banner:
                print(banner, file=out, flush=True)
            app.install_signal_handlers(parts.commands.quit)
            try:
                if scripted is not None:
                    ok = _play(day, scripted, parts, standin, away_after, out, tr)
                    quit_played = any(step.action == "quit" for step in day)
                else:
                    words = tr._(
                        "Leave the keyboard and mouse alone for {seconds} s to go away;"
                        " touch them to come back. Ctrl-C quits."
                    )
                    print(words.format(seconds=f"{away_after:g}"), file=out, flush=True)
                    parts.commands.quitting(duration)
                    ok = True
            finally:
                if not quit_played:
                    app.stop(parts)
                signal.signal(signal.SIGINT, signal.default_int_handler)
    finally:
        standin.stop()
    if scripted is not None:
        verdict = tr._("simulated day over.") if ok else tr._("simulated day FAILED (see above).")
        print(verdict, file=out, flush=True)
        return Exit.OK if ok else Exit.FAILED
    print(tr._("demo over."), file=out)
    return Exit.OK


def _why_no_input(problem: str, tr: Translator = ENGLISH) -> str:
    import os

    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return tr._("there is no display here, so no keyboard or mouse to watch")
    words = tr._("no keyboard or mouse can be watched here ({problem})")
    return words.format(problem=problem[:200])


def _play(
    day: tuple[Step, ...],
    person: ScriptedInput,
    parts: Any,
    standin: StandIn,
    away_after: float,
    out: TextIO,
    tr: Translator = ENGLISH,
) -> bool:
    """Play the day; ``False`` (and a line saying what) if the server ended up elsewhere."""
    from presence_agent import app
    from presence_agent.vocab import Status

    ok = True
    for step in day:
        words = tr._("[simulated] {step}").format(step=tr._(step.narration))
        print(f"  {words}", file=out, flush=True)
        seen = standin.changes()
        if step.action == "type":
            deadline = time.monotonic() + step.seconds
            while time.monotonic() < deadline:
                person.touch()
                if parts.commands.quitting(0.2):
                    return ok
        elif step.action == "rest":
            if parts.commands.quitting(step.seconds + step.times_away_after * away_after):
                return ok
        elif step.action == "touch":
            person.touch()
        elif step.action == "choose":
            parts.commands.set_status(Status(step.status))
        elif step.action == "quit":
            # The tray's Quit: stop input, then the bounded offline report.
            app.stop(parts)
        if step.expect is None:
            if standin.changes() != seen:
                words = tr._("!! the server changed: {now}").format(now=standin.last)
                print(f"  {words}", file=out, flush=True)
                ok = False
            continue
        if not standin.wait_for(step.expect, timeout=away_after + 10):
            words = tr._(
                "!! expected the server to hold {status} ({source}), it holds {now} ({now_source})"
            )
            shown = words.format(
                status=step.expect[0],
                source=step.expect[1],
                now=standin.last[0],
                now_source=standin.last[1],
            )
            print(f"  {shown}", file=out, flush=True)
            ok = False
    return ok


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
