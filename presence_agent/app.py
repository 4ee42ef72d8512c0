"""The one place that wires the agent together and owns start-up and shutdown order."""

from __future__ import annotations

import hashlib
import logging
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from presence_agent import config as config_mod
from presence_agent.client import LibredeskClient, make_ssl_context
from presence_agent.config import Config
from presence_agent.control import ControlServer, InstanceLock
from presence_agent.credentials import KeyringHelper, SecretStore
from presence_agent.engine import (
    Call,
    Engine,
    ManualChoice,
    Outcome,
    Pause,
    Resume,
    Snapshot,
    Stop,
)
from presence_agent.exitcodes import Exit
from presence_agent.idle import IdleSource, hooks_of
from presence_agent.logs import Redactor
from presence_agent.paths import Paths
from presence_agent.policy import Desired, PresencePolicy
from presence_agent.reporter import CredentialsMissing, Reporter, ReporterEvent
from presence_agent.vocab import Dialect, Source, Status

if TYPE_CHECKING:
    from presence_agent.keepalive import Keepalive, WsParams

log = logging.getLogger(__name__)

#: How long quitting waits for the ``offline`` report.
QUIT_TIMEOUT = 2.0


def describe(snap: Snapshot) -> str:
    """One line for a person: ``Away (idle)``."""
    if snap.signed_out:
        return "Signed out"
    if snap.status is None:
        return "Not connected"
    reason = snap.why.value
    if snap.by_idle:
        reason = "idle" if snap.why.value == "set elsewhere" else snap.why.value
    return f"{snap.status.label} ({reason})"


def snapshot_dict(snap: Snapshot) -> dict[str, Any]:
    return {
        "status": snap.status.value if snap.status else None,
        "pending": snap.pending.value if snap.pending else None,
        "label": describe(snap),
        "why": snap.why.value,
        "by_idle": snap.by_idle,
        "since": snap.since_wall,
        "connected": snap.connected,
        "signed_out": snap.signed_out,
        "problem": snap.problem,
        "dialect": snap.dialect.value if snap.dialect else None,
        "choices": [s.value for s in snap.choices],
        "paused": snap.paused,
        "paused_until": snap.paused_until_wall,
        "agent": snap.agent_name,
        "agent_id": snap.agent_id,
        "idle_source": snap.idle_source,
        "held_by": snap.held_by,
    }


class ClientFactory:
    """Builds a client from the config and keyring as they are *now*.

    Re-read each time the reporter builds a client (at start, after a
    ``login`` or ``logout``, while signed out), so new credentials are picked
    up without a restart. Thread use: calls from the reporter's thread;
    :meth:`ws_params` from the keepalive's.
    """

    def __init__(
        self,
        paths: Paths,
        credentials: SecretStore,
        overrides: dict[str, Any],
        redactor: Redactor,
    ) -> None:
        self._paths = paths
        self._credentials = credentials
        self._overrides = overrides
        self._redactor = redactor
        #: What the newest client was built from (one tuple, replaced whole).
        self._current: tuple[Config, str] | None = None

    def config(self) -> Config:
        return config_mod.load(self._paths).with_overrides(**self._overrides)

    def _signed_in(self) -> tuple[Config, str]:
        """The config and the secret as they are now, or :class:`CredentialsMissing`."""
        cfg = self.config()
        if not cfg.server or not cfg.api_key:
            # Words without a command: the tray and the terminal each add
            # how to sign in there (the menu's Sign in…, or `login`).
            raise CredentialsMissing("not signed in")
        secret = self._credentials.get(cfg.server, cfg.api_key)
        if not secret:
            raise CredentialsMissing("no API secret stored for this server")
        self._redactor.add(secret)
        return cfg, secret

    def __call__(self) -> tuple[LibredeskClient, str]:
        cfg, secret = self._signed_in()
        if cfg.server is None or cfg.api_key is None:  # for the type checker; _signed_in checked
            raise CredentialsMissing("not signed in")
        # Identifies the credentials without keeping the secret around.
        key = hashlib.sha256(
            "\0".join((cfg.server, cfg.api_key, cfg.auth, secret)).encode()
        ).hexdigest()
        client = LibredeskClient(
            cfg.server,
            cfg.api_key,
            secret,
            auth=cfg.auth,
            verify=make_ssl_context(cfg.ca_bundle),
        )
        self._current = (cfg, secret)
        return client, key

    def ws_params(self) -> WsParams:
        """What the keepalive needs to open ``/ws`` with the credentials of the newest client.

        Not read from the keyring again: the keepalive runs only while the
        reporter is connected, so a client exists, and new credentials come
        with a new client and a new ``Connected``.
        """
        from presence_agent.keepalive import ws_params_for

        current = self._current
        if current is None:
            raise CredentialsMissing("not signed in")
        return ws_params_for(*current)


@dataclass
class Services:
    """The running parts, for the tray and for shutdown."""

    engine: Engine
    reporter: Reporter
    source: IdleSource
    stop_event: threading.Event
    cfg: Config
    paths: Paths
    credentials: SecretStore
    extra_stops: list[Callable[[], None]]
    keepalive: Keepalive | None = None
    #: The engine's thread, joined at shutdown (see :func:`shutdown`).
    engine_thread: threading.Thread | None = None

    def choose(self, status: Status, reply: Callable[[Outcome], None] | None = None) -> None:
        self.engine.post(ManualChoice(status, reply))

    def pause(self, seconds: float | None) -> None:
        self.engine.post(Pause(seconds))

    def resume(self) -> None:
        self.engine.post(Resume())

    def quit(self) -> None:
        self.stop_event.set()


def handle_control(services: Services, request: dict[str, Any]) -> dict[str, Any]:
    """The running agent's side of ``presence-agent set/status/...``."""
    cmd = request.get("cmd")
    if cmd == "status":
        from presence_agent import __version__

        return {
            "ok": True,
            **snapshot_dict(services.engine.snapshot()),
            "hooks": hooks_of(services.source),
            "version": __version__,
        }
    if cmd == "set":
        try:
            status = Status(str(request.get("status")))
        except ValueError:
            return {"ok": False, "message": "unknown status"}
        done = threading.Event()
        result: list[Outcome] = []

        def reply(outcome: Outcome) -> None:
            result.append(outcome)
            done.set()

        before = services.engine.snapshot()
        services.choose(status, reply)
        return _set_answer(services, status, before, done, result)
    if cmd == "sign_out":
        from presence_agent.signin import SignInError

        try:
            return {"ok": True, "message": sign_out(services)}
        except SignInError as exc:
            return {"ok": False, "code": "usage" if exc.usage else "", "message": str(exc)}
    if cmd == "reload":
        services.reporter.credentials_changed()
        return {"ok": True}
    if cmd == "pause":
        seconds = request.get("seconds")
        services.pause(float(seconds) if isinstance(seconds, (int, float)) else None)
        return {"ok": True}
    if cmd == "resume":
        services.resume()
        return {"ok": True}
    if cmd == "quit":
        services.quit()
        return {"ok": True}
    return {"ok": False, "message": f"unknown command {str(cmd)[:40]!r}"}


#: How long ``set`` waits for the server's answer before it says "queued".
SET_ANSWER_WAIT = 12.0
#: ... and how long when the server has already failed once (the first retries,
#: with backoff, usually get through in that time when the fault was brief).
SET_QUEUED_AFTER = 5.0
#: How often it looks whether the request is stuck behind an unreachable server.
_SET_CHECK_EVERY = 0.5
#: How long Sign out (tray or ``logout``) waits for the ``offline`` it sends first.
SIGN_OUT_OFFLINE_WAIT = 2.0


def _set_answer(
    services: Services,
    status: Status,
    before: Snapshot,
    done: threading.Event,
    result: list[Outcome],
) -> dict[str, Any]:
    """The answer to ``set``: the server's, or "queued" once the agent is retrying it.

    The reporter keeps the newest desired status and retries it until the
    server answers, so a ``set`` while the server is down is accepted, not
    failed: the person is told it is queued (exit 0), and it is sent when the
    server is back. Control thread.
    """
    waited = 0.0
    while not done.wait(_SET_CHECK_EVERY):
        waited += _SET_CHECK_EVERY
        snap = services.engine.snapshot()
        if snap.signed_out:
            return {
                "ok": False,
                "code": "signed_out",
                "message": _signed_out_text(services.paths, snap),
            }
        retrying = bool(snap.problem) and waited >= SET_QUEUED_AFTER
        if snap.pending is status and (retrying or waited >= SET_ANSWER_WAIT):
            why = f" ({snap.problem})" if snap.problem else ""
            return {
                "ok": True,
                "queued": True,
                "status": status.value,
                "message": f"queued, will be sent when the server answers{why}",
            }
        if waited >= SET_ANSWER_WAIT:
            return {"ok": False, "message": "the running agent did not take the change"}
    outcome = result[0]
    answer: dict[str, Any] = {
        "ok": outcome.ok,
        "status": outcome.status.value if outcome.status else None,
        "message": outcome.message,
    }
    if not outcome.ok:
        snap = services.engine.snapshot()
        if snap.signed_out or before.signed_out:
            answer.update(code="signed_out", message=_signed_out_text(services.paths, snap))
        elif status not in snap.choices:
            answer["code"] = "usage"
    return answer


def _signed_out_text(paths: Paths, snap: Snapshot) -> str:
    from presence_agent.cli import login_hint

    why = snap.problem or "not signed in"
    return f"{why}: run `{login_hint(paths)}`"


def sign_out(services: Services) -> str:
    """Go offline (briefly bounded), then remove the secret: the tray's Sign out and ``logout``.

    Offline first, while the credentials still work, so nobody is left shown
    as answering. Any thread but the engine's (it waits for the engine).
    Raises :class:`~presence_agent.signin.SignInError`.
    """
    from presence_agent.signin import sign_out as remove_secret

    snap = services.engine.snapshot()
    went_offline = False
    if snap.connected and snap.status not in (None, Status.OFFLINE):
        done = threading.Event()
        services.choose(Status.OFFLINE, lambda _outcome: done.set())
        went_offline = done.wait(SIGN_OUT_OFFLINE_WAIT)
    summary = remove_secret(services.paths, credentials=services.credentials)
    services.reporter.credentials_changed()
    return f"Set offline. {summary}" if went_offline else summary


class StatusPrinter:
    """Prints each change of status, for ``run --no-tray`` and ``demo``. Engine thread."""

    def __init__(self, out: TextIO, sign_in_hint: str = "") -> None:
        self._out = out
        #: What to do when signed out, for the terminal (``run `presence-agent login ...```).
        self._sign_in_hint = sign_in_hint
        self._last: tuple[object, ...] | None = None

    def __call__(self, snap: Snapshot) -> None:
        key = (snap.status, snap.by_idle, snap.signed_out, snap.connected, snap.problem)
        if key == self._last:
            return
        self._last = key
        line = describe(snap)
        if snap.problem:
            line += f" - {snap.problem}"
        if snap.signed_out and self._sign_in_hint:
            line += f"; {self._sign_in_hint}"
        print(f"{time.strftime('%H:%M:%S')} {line}", file=self._out, flush=True)


def start_services(
    paths: Paths,
    cfg: Config,
    overrides: dict[str, Any],
    credentials: SecretStore,
    source: IdleSource,
    redactor: Redactor,
    stop_event: threading.Event | None = None,
) -> Services:
    """Start everything but the UI. Raises IdleSourceError before anything is sent."""
    factory = ClientFactory(paths, credentials, overrides, redactor)
    policy = PresencePolicy(cfg.away_after)
    dialect = None if cfg.dialect == "auto" else Dialect(cfg.dialect)
    # The reporter and the engine talk both ways; the queue breaks the knot.
    events: queue.SimpleQueue[ReporterEvent] = queue.SimpleQueue()
    reporter = Reporter(factory, events.put, dialect_override=dialect)
    engine = Engine(policy, source, reporter, inbox=events)
    source.start(engine.on_activity)
    engine_thread = threading.Thread(target=engine.run, name="engine", daemon=True)
    engine_thread.start()
    reporter.start()
    services = Services(
        engine_thread=engine_thread,
        engine=engine,
        reporter=reporter,
        source=source,
        stop_event=stop_event or threading.Event(),
        cfg=cfg,
        paths=paths,
        credentials=credentials,
        extra_stops=[],
    )
    from presence_agent import keepalive, session

    keepalive.attach(services, factory)
    session.attach(services)  # screen lock, sleep, idle inhibitors (silently none if absent)
    return services


def shutdown(services: Services) -> bool:
    """Stop in order: input first, then the final report (bounded), then the rest."""
    services.source.stop()
    for stop in services.extra_stops:
        try:
            stop()
        except Exception:
            log.exception("stopping a service failed")
    snap = services.engine.snapshot()
    final = None
    # Also when the server still says offline but our start-up Available is on its way.
    showing = snap.pending or snap.status
    if services.cfg.offline_on_quit and showing not in (None, Status.OFFLINE):
        final = Desired(Status.OFFLINE, Source.USER)
    delivered = services.reporter.finish(final, QUIT_TIMEOUT)
    if final is not None:
        log.info("quit: offline %s", "reported" if delivered else "NOT reported (server slow?)")
    services.engine.post(Stop())
    if (
        services.engine_thread is not None
        and services.engine_thread is not threading.current_thread()
    ):
        # The engine may still be printing the final change (run --no-tray, demo); a
        # daemon thread inside a print while the interpreter finalizes aborts the
        # process ("could not acquire lock for <stdout>"), so SIGTERM would not exit 0.
        services.engine_thread.join(QUIT_TIMEOUT)
    return delivered


def install_signal_handlers(stop: Callable[[], None]) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, handler)


def _run_tray(services: Services, err: TextIO) -> bool:
    """Run the tray until quit. ``False`` if no tray can be shown: then run headless."""
    try:
        from presence_agent.tray import TrayUnavailable, run_tray
    except ImportError as exc:
        message = f"no tray support ({exc}); running headless"
        print(f"presence-agent: {message}", file=err)
        log.warning("%s", message, extra={"shown": True})
        return False
    try:
        run_tray(services)
    except TrayUnavailable as exc:
        print(f"presence-agent: {exc}; running headless", file=err)
        log.warning("%s; running headless", exc, extra={"shown": True})
        return False
    return True


def run(
    paths: Paths,
    overrides: dict[str, Any],
    *,
    tray: bool,
    out: TextIO = sys.stdout,
    credentials: SecretStore | None = None,
    source: IdleSource | None = None,
) -> int:
    """``presence-agent run``. Returns the exit code."""
    from presence_agent import idle, logs
    from presence_agent.control import AlreadyRunning
    from presence_agent.idle import IdleSourceError

    err = sys.stderr
    try:
        cfg = config_mod.load(paths).with_overrides(**overrides)
    except config_mod.ConfigError as exc:
        print(f"presence-agent: {exc}", file=err)
        return Exit.USAGE
    redactor = Redactor()
    logs.setup(paths.log_file, cfg.log_level, stderr=not tray, redactor=redactor)
    try:
        runtime = paths.private_runtime_dir()
        lock = InstanceLock(runtime / "agent.lock")
        lock.acquire()
    except AlreadyRunning as exc:
        print(f"presence-agent: {exc}", file=err)
        return Exit.ALREADY_RUNNING
    except OSError as exc:
        print(f"presence-agent: {exc}", file=err)
        return Exit.FAILED
    if not tray and (not cfg.server or not cfg.api_key):
        from presence_agent.cli import login_hint

        print(f"presence-agent: not signed in: run `{login_hint(paths)}`", file=err)
        return Exit.SIGNED_OUT
    # Not Credentials(): the keyring's own libraries would then stay in this
    # long-running process for good (see KeyringHelper).
    credentials = credentials or KeyringHelper()
    # Signals first: a SIGTERM during start-up must still quit in order.
    stop_event = threading.Event()
    install_signal_handlers(stop_event.set)
    try:
        source = source or idle.create(cfg.idle_source)
        services = start_services(paths, cfg, overrides, credentials, source, redactor, stop_event)
    except IdleSourceError as exc:
        print(f"presence-agent: {exc}", file=err)
        log.error("cannot watch input: %s", exc, extra={"shown": True})
        return Exit.FAILED
    log.info("started (idle source %s, away after %.0f s)", source.name, cfg.away_after)
    control = ControlServer(runtime, lambda request: handle_control(services, request))
    control.start()
    services.extra_stops.append(control.stop)
    try:
        if not tray or not _run_tray(services, err):
            from presence_agent.cli import login_hint

            printer = StatusPrinter(out, f"run `{login_hint(paths)}`")
            services.engine.subscribe(printer)

            def print_current() -> None:
                # The state may have changed before the printer subscribed (a keyring
                # that fails at once: signed out), and the engine only publishes
                # changes: print what there is to say now (the printer skips repeats).
                snap = services.engine.snapshot()
                if snap.status is not None or snap.signed_out or snap.problem:
                    printer(snap)

            services.engine.post(Call(print_current))
            while not services.stop_event.wait(3600):
                pass
    finally:
        shutdown(services)
        lock.release()
    return 0
