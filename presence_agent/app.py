"""The composition root: the one place that builds the agent, starts it and stops it.

:func:`build` makes every part and wires them (nothing runs yet), :func:`start`
starts the threads in one documented order, and :func:`stop` ends them in the
reverse order with a bounded ``offline`` report in the middle. ``run`` (the
``presence-agent run`` command) is build, start, the tray or a wait, stop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from presence_agent import config as config_mod
from presence_agent.agenda import Agenda
from presence_agent.client import LibredeskClient, make_ssl_context
from presence_agent.commands import AgentCommands, Commands
from presence_agent.config import Config
from presence_agent.control import ControlServer, InstanceLock
from presence_agent.credentials import KeyringHelper, SecretStore
from presence_agent.engine import Engine
from presence_agent.events import Call, Desired, EngineInput, Notice, Outcome, Snapshot
from presence_agent.exitcodes import Exit
from presence_agent.i18n import ENGLISH, Translator
from presence_agent.idle import IdleSource, hooks_of
from presence_agent.keepalive import DEFAULT_INTERVAL, Connector, Keepalive, KeepaliveMachine
from presence_agent.logs import Redactor
from presence_agent.paths import Paths, private_dir
from presence_agent.policy import PresencePolicy
from presence_agent.reporter import CredentialsMissing, Reporter, ReporterMachine
from presence_agent.routing import ClaimStore
from presence_agent.schedule import Schedule, local_timezone
from presence_agent.session import SessionSignals
from presence_agent.status_text import routing_headline
from presence_agent.timers import AgendaStore, Kept
from presence_agent.vocab import Dialect, Source, Status

if TYPE_CHECKING:
    from presence_agent.keepalive import WsParams
    from presence_agent.notifications import DesktopNotifier

log = logging.getLogger(__name__)

#: How long quitting waits for the ``offline`` report.
QUIT_TIMEOUT = 2.0


def describe(snap: Snapshot, now_wall: float | None = None, tr: Translator = ENGLISH) -> str:
    """One line for a person: ``Available``, ``Away (idle 17 min) · no new conversations``
    (the tray's words, presence_agent/status_text.py), in their language."""
    return routing_headline(snap, time.time() if now_wall is None else now_wall, tr)


def snapshot_dict(snap: Snapshot, tr: Translator = ENGLISH) -> dict[str, Any]:
    return {
        "status": snap.status.value if snap.status else None,
        "pending": snap.pending.value if snap.pending else None,
        "label": describe(snap, tr=tr),
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
        "agenda": _agenda_dict(snap),
    }


def _agenda_dict(snap: Snapshot) -> dict[str, Any]:
    """The timer and the shift, for ``status`` (which words them as the tray does)."""
    view = snap.agenda
    timer = view.timer
    return {
        "timer": None
        if timer is None
        else {"status": timer.status.value, "until": timer.until, "set_by": timer.set_by},
        "scheduled": view.scheduled,
        "on_shift": view.on_shift,
        "next_start": view.next_start,
        "next_end": view.next_end,
        "owned": view.owned.value if view.owned else None,
    }


class AgendaKeeper:
    """Keeps the timer (``agenda.json``) and the owned status (``owned.json``, the one
    ownership of presence_agent/routing.py) in the state dir as they change (engine thread).

    Not while quitting: the ``offline`` sent on the way out is the agent's own,
    and must not cost the person their timer or what the agent owns (the next start puts
    it back, or brings the person back on their first input).
    """

    def __init__(
        self,
        store: AgendaStore,
        quit_flag: threading.Event,
        claims: ClaimStore | None = None,
        server: str = "",
    ) -> None:
        self._store = store
        self._quit = quit_flag
        self._claims = claims
        self._server = server

    def __call__(self, snap: Snapshot) -> None:
        if self._quit.is_set() or not snap.connected:
            return
        self._store.save(Kept(snap.agenda.timer))
        if self._claims is not None:
            claim = snap.agenda.claim
            if claim is not None:
                claim = dataclasses.replace(claim, server=self._server, agent_id=snap.agent_id)
            self._claims.save(claim)


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
        self._redactor.add(secret, cfg.api_key)
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


@dataclass(frozen=True)
class ControlContext:
    """What the control channel may use: the commands, and the few facts ``status`` and
    ``logout`` need. Not the app."""

    commands: Commands
    source: IdleSource
    paths: Paths
    credentials: SecretStore | None
    #: The language of the answers ``status``, ``set`` and ``logout`` print.
    tr: Translator = ENGLISH


def handle_control(ctx: ControlContext, request: dict[str, Any]) -> dict[str, Any]:
    """The running agent's side of ``presence-agent set/status/...``. Control thread."""
    commands = ctx.commands
    tr = ctx.tr
    cmd = request.get("cmd")
    if cmd == "status":
        from presence_agent import __version__

        return {
            "ok": True,
            **snapshot_dict(commands.snapshot(), tr),
            "hooks": hooks_of(ctx.source),
            "version": __version__,
        }
    if cmd == "set":
        try:
            status = Status(str(request.get("status")))
        except ValueError:
            return {"ok": False, "message": tr._("unknown status")}
        done = threading.Event()
        result: list[Outcome] = []

        def reply(outcome: Outcome) -> None:
            result.append(outcome)
            done.set()

        before = commands.snapshot()
        commands.set_status(status, reply)
        return _set_answer(ctx, status, before, done, result)
    if cmd == "set_timed":
        return _set_timed(ctx, request)
    if cmd == "extend":
        try:
            extend_by = _number(request.get("seconds"))
        except ValueError:
            return {"ok": False, "code": "usage", "message": tr._("extend by a number of seconds")}
        commands.extend_timer(extend_by)
        return {"ok": True}
    if cmd == "sign_out":
        from presence_agent.signin import SignInError

        try:
            return {"ok": True, "message": sign_out(commands, ctx.paths, ctx.credentials, tr)}
        except SignInError as exc:
            return {"ok": False, "code": "usage" if exc.usage else "", "message": str(exc)}
    if cmd == "reload":
        commands.credentials_changed()
        return {"ok": True}
    if cmd == "pause":
        seconds = request.get("seconds")
        try:
            commands.pause(seconds if seconds is None else _number(seconds))
        except ValueError as exc:
            return {"ok": False, "code": "usage", "message": str(exc)}
        return {"ok": True}
    if cmd == "resume":
        commands.resume()
        return {"ok": True}
    if cmd == "quit":
        commands.quit()
        return {"ok": True}
    return {"ok": False, "message": f"unknown command {str(cmd)[:40]!r}"}


def _set_timed(ctx: ControlContext, request: dict[str, Any]) -> dict[str, Any]:
    import math

    from presence_agent.timespec import MAX_SPAN

    try:
        status = Status(str(request.get("status")))
        until = request.get("until")
        if isinstance(until, bool) or not isinstance(until, (int, float)):
            raise ValueError("until")
    except ValueError:
        message = ctx.tr._("set_timed needs a status and an end")
        return {"ok": False, "code": "usage", "message": message}
    if not math.isfinite(until) or not time.time() < until <= time.time() + MAX_SPAN:
        message = ctx.tr._("the end must be within the next 7 days")
        return {"ok": False, "code": "usage", "message": message}
    if status is Status.AVAILABLE:
        message = ctx.tr._("a timed status ends in Available")
        return {"ok": False, "code": "usage", "message": message}
    set_by = str(request.get("set_by") or "cli")[:20]
    done = threading.Event()
    result: list[Outcome] = []

    def reply(outcome: Outcome) -> None:
        result.append(outcome)
        done.set()

    before = ctx.commands.snapshot()
    ctx.commands.set_timed(status, float(until), set_by, reply)
    return _set_answer(ctx, status, before, done, result)


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("a pause is a number of seconds")
    return float(value)


@dataclass(frozen=True)
class Parts:
    """The running agent, built whole by :func:`build` before any thread starts.

    Nothing in here is replaced or added to afterwards; :func:`start` and
    :func:`stop` are the only ways its threads begin and end.
    """

    cfg: Config
    paths: Paths
    credentials: SecretStore
    source: IdleSource
    engine: Engine
    reporter: Reporter
    keepalive: Keepalive
    session: SessionSignals
    commands: AgentCommands
    quit_flag: threading.Event
    control: ControlServer | None
    #: Desktop notifications with actions (Linux); ``None``: the tray's, or none.
    notifier: DesktopNotifier | None = None
    #: The person's language, for every part that shows words (presence_agent/i18n.py).
    tr: Translator = ENGLISH


def build(
    paths: Paths,
    cfg: Config,
    overrides: dict[str, Any],
    credentials: SecretStore,
    source: IdleSource,
    redactor: Redactor,
    *,
    runtime: Path | None = None,
    quit_flag: threading.Event | None = None,
    connector: Connector | None = None,
    tr: Translator = ENGLISH,
) -> Parts:
    """Build and wire every part. Nothing starts, nothing is sent, no thread runs yet.

    The engine's inbox is made first: the reporter and the keepalive post to
    it, and the engine posts to theirs, so each is built knowing the others'
    doors and nobody is wired after the fact. With ``runtime``, the control
    channel listens there once started.
    """
    factory = ClientFactory(paths, credentials, overrides, redactor)
    inbox: queue.SimpleQueue[EngineInput] = queue.SimpleQueue()
    dialect = None if cfg.dialect == "auto" else Dialect(cfg.dialect)
    reporter = Reporter(factory, inbox.put, machine=ReporterMachine(dialect_override=dialect))
    keepalive = Keepalive(
        factory.ws_params,
        inbox.put,
        machine=KeepaliveMachine(cfg.keepalive_interval or DEFAULT_INTERVAL),
        connector=connector,
    )
    store = AgendaStore(paths.state_dir)
    kept = store.load()
    claims = ClaimStore(paths.state_dir)
    claim = claims.load()
    if claim is not None and claim.server not in ("", cfg.server or ""):
        claim = None  # another server's status: nothing of ours there
    display_tz = local_timezone()
    agenda = Agenda(
        Schedule.from_spec(cfg.schedule, lambda: display_tz),
        display_tz=display_tz,
        timer=kept.timer,
        # agenda.json held the owned status before owned.json did: read once, then kept there.
        owned=kept.owned if claim is None else None,
        claim=claim,
        tr=tr,
    )
    engine = Engine(
        PresencePolicy(cfg.away_after, agenda, config_mod.idle_plan(cfg)),
        source,
        reporter=reporter.post,
        keepalive=keepalive.post,
        inbox=inbox,
        tr=tr,
        redact=redactor.clean,
    )
    quit_flag = quit_flag or threading.Event()
    commands = AgentCommands(engine, quit_flag)
    session = SessionSignals(
        engine, lock_means_away=cfg.lock_means_away, hold_in_call=cfg.hold_in_call
    )
    engine.subscribe(AgendaKeeper(store, quit_flag, claims, cfg.server or ""))
    notifier = None
    if cfg.notifications:
        from presence_agent import notifications

        notifier = notifications.create(lambda key, notice: _notice_action(commands, key))
    control_ctx = ControlContext(commands, source, paths, credentials, tr)
    control = (
        ControlServer(runtime, lambda request: handle_control(control_ctx, request))
        if runtime is not None
        else None
    )
    return Parts(
        cfg=cfg,
        paths=paths,
        credentials=credentials,
        source=source,
        engine=engine,
        reporter=reporter,
        keepalive=keepalive,
        session=session,
        commands=commands,
        quit_flag=quit_flag,
        control=control,
        notifier=notifier,
        tr=tr,
    )


def _notice_action(commands: Commands, key: str) -> None:
    """A click on a notification's action (the notifier's thread)."""
    from presence_agent.timers import EXTEND_BY

    if key == "extend":
        commands.extend_timer(EXTEND_BY)


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
    ctx: ControlContext,
    status: Status,
    before: Snapshot,
    done: threading.Event,
    result: list[Outcome],
) -> dict[str, Any]:
    """The answer to ``set``: the server's, or "queued" once the agent is retrying it.

    The reporter keeps the newest desired status and retries it until the
    server answers, so a ``set`` while the server is down, or before the agent
    has first reached it, is accepted, not failed: the person is told it is
    queued (exit 0), and it is sent when the server is back. Control thread.
    """
    waited = 0.0
    while not done.wait(_SET_CHECK_EVERY):
        waited += _SET_CHECK_EVERY
        snap = ctx.commands.snapshot()
        if snap.signed_out:
            return {
                "ok": False,
                "code": "signed_out",
                "message": _signed_out_text(ctx.paths, snap, ctx.tr),
            }
        if snap.pending is status and not snap.connected:
            # Not connected yet: once the first connect has failed (or is slow), say so
            # at once; the choice goes out right after the connect.
            if snap.problem or waited >= SET_QUEUED_AFTER:
                message = (
                    ctx.tr._("queued, will be sent when connected to the server ({problem})")
                    if snap.problem
                    else ctx.tr._("queued, will be sent when connected to the server")
                )
                return {
                    "ok": True,
                    "queued": True,
                    "status": status.value,
                    "message": message.format(problem=snap.problem),
                }
            continue
        retrying = bool(snap.problem) and waited >= SET_QUEUED_AFTER
        if snap.pending is status and (retrying or waited >= SET_ANSWER_WAIT):
            message = (
                ctx.tr._("queued, will be sent when the server answers ({problem})").format(
                    problem=snap.problem
                )
                if snap.problem
                else ctx.tr._("queued, will be sent when the server answers")
            )
            return {"ok": True, "queued": True, "status": status.value, "message": message}
        if waited >= SET_ANSWER_WAIT:
            return {"ok": False, "message": ctx.tr._("the running agent did not take the change")}
    outcome = result[0]
    answer: dict[str, Any] = {
        "ok": outcome.ok,
        "status": outcome.status.value if outcome.status else None,
        "message": outcome.message,
    }
    if not outcome.ok:
        snap = ctx.commands.snapshot()
        if snap.signed_out or before.signed_out:
            answer.update(code="signed_out", message=_signed_out_text(ctx.paths, snap, ctx.tr))
        elif status not in snap.choices:
            answer["code"] = "usage"
    return answer


def _signed_out_text(paths: Paths, snap: Snapshot, tr: Translator = ENGLISH) -> str:
    from presence_agent.cli import login_hint

    why = snap.problem or tr._("not signed in")
    return tr._("{problem}: run `{command}`").format(problem=why, command=login_hint(paths))


def sign_out(
    commands: Commands,
    paths: Paths,
    credentials: SecretStore | None,
    tr: Translator = ENGLISH,
) -> str:
    """Go offline (briefly bounded), then remove the secret: the tray's Sign out and ``logout``.

    Offline first, while the credentials still work, so nobody is left shown
    as answering. Any thread but the engine's (it waits for the engine).
    Raises :class:`~presence_agent.signin.SignInError`.
    """
    from presence_agent.signin import sign_out as remove_secret

    snap = commands.snapshot()
    went_offline = False
    if snap.connected and snap.status not in (None, Status.OFFLINE):
        done = threading.Event()
        commands.set_status(Status.OFFLINE, lambda _outcome: done.set())
        went_offline = done.wait(SIGN_OUT_OFFLINE_WAIT)
    summary = remove_secret(paths, credentials=credentials, tr=tr)
    commands.credentials_changed()
    return tr._("Set offline. {summary}").format(summary=summary) if went_offline else summary


class StatusPrinter:
    """Prints each change of status, for ``run --no-tray`` and ``demo``. Engine thread."""

    def __init__(self, out: TextIO, sign_in_hint: str = "", tr: Translator = ENGLISH) -> None:
        self._out = out
        self._tr = tr
        #: What to do when signed out, for the terminal (``run `presence-agent login ...```).
        self._sign_in_hint = sign_in_hint
        self._last: tuple[object, ...] | None = None

    def __call__(self, snap: Snapshot) -> None:
        agenda = snap.agenda
        timer = agenda.timer.until if agenda.timer else None
        key: tuple[object, ...] = (snap.status, snap.by_idle, snap.signed_out, snap.connected)
        key += (snap.problem, timer, agenda.on_shift)
        if key == self._last:
            return
        self._last = key
        line = describe(snap, tr=self._tr)
        if snap.status is not None and not snap.signed_out:
            line += _agenda_suffix(snap, self._tr)
        if snap.problem:
            line += f" - {snap.problem}"
        if snap.signed_out and self._sign_in_hint:
            line += f"; {self._sign_in_hint}"
        print(f"{time.strftime('%H:%M:%S')} {line}", file=self._out, flush=True)

    def notice(self, notice: Notice) -> None:
        """A notification, as a line too (a terminal has no notification area)."""
        text = notice.title + (f" - {notice.body}" if notice.body else "")
        print(f"{time.strftime('%H:%M:%S')} {text}", file=self._out, flush=True)


def _agenda_suffix(snap: Snapshot, tr: Translator = ENGLISH) -> str:
    """`` · back at 13:00 (in 42 min)``, `` · Off shift · starts 09:00``, or nothing."""
    from presence_agent.shift_text import back_at, off_shift

    tz = local_timezone()
    now = time.time()
    words = (back_at(snap.agenda, now, tz, tr), off_shift(snap.agenda, now, tz, tr))
    parts = [part for part in words if part]
    return "".join(f" · {part}" for part in parts)


def start(parts: Parts) -> None:
    """Start the threads, consumers before producers. Raises IdleSourceError before anything
    is sent (and then nothing is left running).

    1. the engine: from now on every message to its inbox is handled;
    2. the idle source: input reaches the engine (the one start that may fail);
    3. the reporter: it connects, and the engine decides the first request;
    4. the keepalive: it opens ``/ws`` once the engine says so;
    5. the session watcher (lock, sleep, inhibitors, calls): its D-Bus and audio
       connections take a while, and the first report does not wait for them;
    6. the control channel: ``presence-agent set/status/...`` reach the commands.
    """
    if parts.notifier is not None and parts.notifier.start():
        parts.engine.subscribe_notices(parts.notifier.show)
    parts.engine.start()
    try:
        parts.source.start(parts.engine.on_activity)
    except BaseException:
        parts.engine.stop()
        raise
    parts.reporter.start()
    parts.keepalive.start()
    parts.session.start()
    if parts.control is not None:
        parts.control.start()


def stop(parts: Parts) -> bool:
    """Stop in the reverse order: input first, then the final report (bounded), then the rest.

    Returns whether the final ``offline`` reached the server.
    """
    if parts.control is not None:
        _guarded(parts.control.stop)
    _guarded(parts.session.stop)
    _guarded(parts.source.stop)
    # No ping may follow: it would bring the person back online right after the offline.
    _guarded(parts.keepalive.stop)
    snap = parts.engine.snapshot()
    final = None
    # Also when the server still says offline but our start-up Available is on its way.
    showing = snap.pending or snap.status
    if parts.cfg.offline_on_quit and showing not in (None, Status.OFFLINE):
        final = Desired(Status.OFFLINE, Source.USER)
    delivered = parts.reporter.finish(final, QUIT_TIMEOUT)
    if final is not None:
        log.info("quit: offline %s", "reported" if delivered else "NOT reported (server slow?)")
    parts.engine.stop()
    # The engine may still be printing the final change (run --no-tray, demo); a daemon
    # thread inside a print while the interpreter finalizes aborts the process ("could not
    # acquire lock for <stdout>"), so SIGTERM would not exit 0. Bounded, and never from
    # the engine's own thread.
    parts.engine.join(QUIT_TIMEOUT)
    if parts.notifier is not None:
        _guarded(parts.notifier.stop)
    return delivered


def _guarded(stop_one: Callable[[], None]) -> None:
    try:
        stop_one()
    except Exception:
        log.exception("stopping a part failed")


def install_signal_handlers(stop: Callable[[], None]) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    # SIGHUP (the terminal closed) and SIGQUIT (Ctrl-\\, `kill -QUIT`) quit the same way:
    # offline first. SIGQUIT's default would dump core, without the offline.
    for name in ("SIGHUP", "SIGQUIT"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), handler)


def _run_tray(parts: Parts, err: TextIO) -> bool:
    """Run the tray until quit. ``False`` if no tray can be shown: then run headless."""
    try:
        from presence_agent.tray import TrayUnavailable, run_tray
    except ImportError as exc:
        message = f"no tray support ({exc}); running headless"
        words = parts.tr._("no tray support ({problem}); running headless").format(problem=exc)
        print(f"presence-agent: {words}", file=err)
        log.warning("%s", message, extra={"shown": True})
        return False
    try:
        from presence_agent.tray._app import TraySettings

        cfg = parts.cfg
        settings = TraySettings(
            cfg.server,
            cfg.away_after,
            cfg.notifications,
            cfg.tray_theme,
            show_notices=parts.notifier is None or not parts.notifier.running,
            tr=parts.tr,
        )
        run_tray(parts.commands, settings, parts.paths, parts.credentials)
    except TrayUnavailable as exc:
        words = parts.tr._("{problem}; running headless").format(problem=exc)
        print(f"presence-agent: {words}", file=err)
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
    tr: Translator = ENGLISH,
) -> int:
    """``presence-agent run``. Returns the exit code. ``tr``: the words' language (the CLI's
    entry chose it; presence_agent/i18n.py)."""
    from presence_agent import idle, logs
    from presence_agent.control import AlreadyRunning
    from presence_agent.idle import IdleSourceError

    err = sys.stderr
    try:
        layers = config_mod.load_layers(paths)
        flags = {key for key, value in overrides.items() if value is not None}
        cfg = config_mod.plan_defaults(
            layers.config.with_overrides(**overrides), set(layers.sources) | flags
        )
        # The steps' order once the flags are in: an error names the flag or the file's key.
        where: dict[str, config_mod.Where] = {
            key: config_mod.key_in(path, key) for key, path in layers.sources.items()
        }
        where.update((key, f"--{key.replace('_', '-')}") for key in flags)
        config_mod.check_plan(cfg, where)
    except config_mod.ConfigError as exc:
        print(f"presence-agent: {exc.render(tr)}", file=err)
        return Exit.USAGE
    redactor = Redactor()
    with contextlib.suppress(OSError):
        # Before the log: an existing state dir an older version made 0755 is tightened
        # (the log dir below it is made private by logs.setup, which says when it cannot).
        private_dir(paths.state_dir, own_link=True)
    logs.setup(paths.log_file, cfg.log_level, stderr=not tray, redactor=redactor)
    for _path, warning in layers.ignored:
        log.warning("config: %s", warning)
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

        words = tr._("not signed in: run `{command}`").format(command=login_hint(paths))
        print(f"presence-agent: {words}", file=err)
        return Exit.SIGNED_OUT
    # Not Credentials(): the keyring's own libraries would then stay in this
    # long-running process for good (see KeyringHelper).
    credentials = credentials or KeyringHelper()
    # Signals first: a SIGTERM during start-up must still quit in order.
    quit_flag = threading.Event()
    install_signal_handlers(quit_flag.set)
    try:
        source = source or idle.create(cfg.idle_source)
        parts = build(
            paths,
            cfg,
            overrides,
            credentials,
            source,
            redactor,
            runtime=runtime,
            quit_flag=quit_flag,
            tr=tr,
        )
        start(parts)
    except IdleSourceError as exc:
        print(f"presence-agent: {exc}", file=err)
        log.error("cannot watch input: %s", exc, extra={"shown": True})
        lock.release()
        return Exit.FAILED
    log.info("started (idle source %s, away after %.0f s)", source.name, cfg.away_after)
    try:
        if not tray or not _run_tray(parts, err):
            from presence_agent.cli import login_hint

            hint = tr._("run `{command}`").format(command=login_hint(paths))
            printer = StatusPrinter(out, hint, tr)
            parts.engine.subscribe(printer)
            parts.engine.subscribe_notices(printer.notice)

            def print_current() -> None:
                # The state may have changed before the printer subscribed (a keyring
                # that fails at once: signed out), and the engine only publishes
                # changes: print what there is to say now (the printer skips repeats).
                snap = parts.engine.snapshot()
                if snap.status is not None or snap.signed_out or snap.problem:
                    printer(snap)

            parts.engine.post(Call(print_current))
            while not parts.quit_flag.wait(3600):
                pass
    finally:
        stop(parts)
        lock.release()
    return Exit.OK
