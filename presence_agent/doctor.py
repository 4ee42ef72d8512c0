"""``presence-agent doctor``: one line per part, and how to fix what is broken.

Each check returns :class:`Line` values; ``needed`` lines that fail make the
exit code non-zero, the others are warnings (the agent runs without them,
with less). Checks only look: nothing is stored or sent but a read of the
server (``GET /api/v1/agents/me``) and a ``/ws`` handshake.

Doctor never changes presence. On a real server a text ``ping`` on ``/ws``
silently turns ``offline`` into ``online`` and holds off the offline sweep
(docs/libredesk.md), so doctor pings only when the running agent pings anyway:
it runs, wants a status other than offline, and the server does not hold
offline. Otherwise the handshake alone is checked, and the line says why.

The lines, in order: the version, config (and any key the administrator
locked that the user's file tries to change), keyring, idle source (the one
chosen, and why each other was skipped), lock / sleep / idle-inhibitor signals,
tray, start at login, server, credentials, ``/ws``; then every effective
setting with the file it came from, and where the files are. ``--json`` gives
all of it as one object, for checking a fleet.
"""

from __future__ import annotations

import json
import os
import platform as platform_mod
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, TextIO

from presence_agent import __version__
from presence_agent.i18n import ENGLISH, N_, Translator
from presence_agent.paths import Paths

if TYPE_CHECKING:
    from presence_agent.idle import Choice
    from presence_agent.session.base import Signal

INPUT_MONITORING_FIX = N_(
    "allow Input Monitoring for presence-agent in System Settings > Privacy & Security"
    " > Input Monitoring, then start it again"
)
#: The parts a line is about (English msgids: ``--json`` keeps them, the text shows them
#: translated).
PARTS = (
    N_("config"),
    N_("idle plan"),
    N_("keyring"),
    N_("idle source"),
    N_("input monitoring"),
    N_("screen lock"),
    N_("sleep"),
    N_("idle inhibitors"),
    N_("calls"),
    N_("tray"),
    N_("start at login"),
    N_("server"),
    N_("credentials"),
)


@dataclass(frozen=True)
class Line:
    part: str
    ok: bool
    text: str
    fix: str = ""
    needed: bool = True


Check = Callable[["Context"], list[Line]]


def _choose_idle(preference: str) -> Choice:
    from presence_agent import idle

    return idle.choose(preference)


def _probe_session() -> list[Signal]:
    from presence_agent import session

    return session.probe()


def _connect_ws(params: Any, timeout: float) -> Any:
    from presence_agent.wsconnect import connect

    return connect(params, timeout)


def _running_agent(paths: Paths) -> dict[str, Any] | None:
    """The running agent's ``status`` answer over the control channel, or None."""
    from presence_agent import control

    try:
        return control.ask(paths, {"cmd": "status"}, timeout=3)
    except (control.NotRunning, OSError, ValueError):
        return None


@dataclass
class Context:
    """What the checks share, and the boundaries they cross (tests pass fakes)."""

    paths: Paths
    cfg: Any = None
    #: Where each value came from (:class:`presence_agent.config.Layers`), once loaded.
    layers: Any = None
    secret: str | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    platform: str = sys.platform
    choose_idle: Callable[[str], Choice] = _choose_idle
    probe_session: Callable[[], list[Signal]] = _probe_session
    credentials: Any = None
    autostart: Any = None
    connect_ws: Callable[[Any, float], Any] = _connect_ws
    running_agent: Callable[[Paths], dict[str, Any] | None] = _running_agent
    #: The words' language; ``--json`` stays English, for fleets that compare machines.
    tr: Translator = ENGLISH


# -- config and keyring ------------------------------------------------------------------


def check_config(ctx: Context) -> list[Line]:
    from presence_agent import config
    from presence_agent.idle import KNOWN

    try:
        ctx.layers = config.load_layers(ctx.paths)
    except config.ConfigError as exc:
        return [
            Line(
                "config",
                False,
                exc.render(ctx.tr),
                ctx.tr._("correct or remove that key in that file"),
            )
        ]
    ctx.cfg = ctx.layers.config
    files = [str(p) for p in ctx.layers.site_files]
    if ctx.paths.config_file.exists():
        files.append(str(ctx.paths.config_file))
    where = ", ".join(files) if files else ctx.tr._("no config file, all defaults")
    if ctx.cfg.idle_source not in ("auto", *KNOWN):
        source = ctx.layers.source_of("idle_source")
        return [
            Line(
                "config",
                False,
                ctx.tr._("{file}: idle_source {value} is not a source").format(
                    file=source, value=repr(ctx.cfg.idle_source)
                ),
                ctx.tr._('use "auto" or one of: {sources}').format(sources=", ".join(KNOWN)),
            )
        ]
    lines = [Line("config", True, ctx.tr._("valid ({files})").format(files=where))]
    lines.append(Line("idle plan", True, config.idle_plan(ctx.cfg).describe(ctx.tr)))
    for _path, warning in ctx.layers.ignored:
        lines.append(
            Line(
                "config",
                False,
                warning.render(ctx.tr),
                ctx.tr._(
                    "make it root's and writable by root only (chown root:root; chmod 644),"
                    " or remove it"
                ),
                needed=False,
            )
        )
    for key in ctx.layers.refused:
        lines.append(
            Line(
                "config",
                False,
                ctx.layers.refusal(key).render(ctx.tr),
                ctx.tr._("remove {key} from {file}; your administrator decides it").format(
                    key=repr(key), file=ctx.paths.config_file
                ),
                needed=False,
            )
        )
    return lines


def check_keyring(ctx: Context) -> list[Line]:
    from presence_agent.credentials import Credentials, KeyringUnavailable, keyring_fix

    credentials = ctx.credentials if ctx.credentials is not None else Credentials()
    try:
        name = credentials.describe()
        if ctx.cfg is not None and ctx.cfg.server and ctx.cfg.api_key:
            ctx.secret = credentials.get(ctx.cfg.server, ctx.cfg.api_key)
    except KeyringUnavailable as exc:
        text = str(exc).split(": ", 1)[0] if ": " in str(exc) else str(exc)
        return [Line("keyring", False, text, keyring_fix(ctx.platform, ctx.environ))]
    return [Line("keyring", True, name)]


# -- idle source and session signals -----------------------------------------------------


def check_idle(ctx: Context) -> list[Line]:
    from presence_agent.idle import ENV_VAR, IdleSourceError, hooks_of

    preference = ctx.cfg.idle_source if ctx.cfg is not None else "auto"
    try:
        choice = ctx.choose_idle(preference)
    except IdleSourceError as exc:
        return [Line("idle source", False, str(exc), _idle_fix(ctx, str(exc), ENV_VAR))]
    try:
        choice.source.start(_nothing)
        hooks = hooks_of(choice.source)
        choice.source.stop()
    except IdleSourceError as exc:
        text = f"{choice.source.name}: {exc}"
        if choice.skipped:
            text += "; skipped " + "; ".join(f"{name}: {why}" for name, why in choice.skipped)
        return [Line("idle source", False, text, _idle_fix(ctx, text, ENV_VAR))]
    source = choice.source
    what = getattr(source, "what", None)
    how = getattr(source, "how", None)
    if how:
        watch = str(how)
    elif what:
        watch = ctx.tr._("{what}, no input hook (polls every 50 ms only while away)").format(
            what=what
        )
    else:
        watch = ", ".join(hooks) or ctx.tr._("input listeners")
    text = f"{source.name} - {watch} ({choice.reason})"
    if choice.skipped:
        skipped = "; ".join(f"{name}: {why}" for name, why in choice.skipped)
        text += "; " + ctx.tr._("skipped {sources}").format(sources=skipped)
    if choice.not_tried:
        text += "; " + ctx.tr._("not needed: {sources}").format(sources=", ".join(choice.not_tried))
    lines = [Line("idle source", True, text)]
    if source.name == "pynput" and ctx.platform == "darwin":
        lines.append(
            Line(
                "input monitoring",
                True,
                ctx.tr._("pynput sees input only with the Input Monitoring permission"),
                needed=False,
            )
        )
    return lines


def _idle_fix(ctx: Context, problem: str, env_var: str) -> str:
    tr = ctx.tr
    if env_var in problem or "in the config" in problem:
        return tr._('unset {variable}, or set idle_source = "auto" in the config').format(
            variable=env_var
        )
    if ctx.platform == "darwin":
        return tr._(INPUT_MONITORING_FIX)
    if ctx.platform == "win32":
        return tr._("run presence-agent inside the user's desktop session")
    if ctx.environ.get("WAYLAND_DISPLAY") or ctx.environ.get("XDG_SESSION_TYPE") == "wayland":
        return tr._(
            "on Wayland the desktop must tell the idle time: GNOME (Mutter's IdleMonitor) and"
            " KDE (org.freedesktop.ScreenSaver) do; with XWayland, pynput sees X apps only"
        )
    return tr._("run inside a graphical session (DISPLAY must name the X display)")


_SIGNAL_PARTS = (
    ("lock", "screen lock"),
    ("suspend", "sleep"),
    ("inhibit", "idle inhibitors"),
    ("call", "calls"),
)
_SIGNAL_MISSING = {
    "lock": N_("a locked screen is seen only as idle time"),
    "suspend": N_("a sleep is seen from the clock jump on wake (no away before it)"),
    "inhibit": N_("a call or video without input may still turn you away"),
    "call": N_("a call with the microphone open and no typing may still turn you away"),
}


def check_session(ctx: Context) -> list[Line]:
    try:
        signals = ctx.probe_session()
    except Exception as exc:  # noqa: BLE001 - doctor reports, it never crashes
        signals = []
        problem = _words(exc, ctx.tr._("the desktop's lock and sleep signals could not be asked"))
    else:
        problem = ""
    lines = []
    for kind, part in _SIGNAL_PARTS:
        if kind == "call" and ctx.cfg is not None and not ctx.cfg.hold_in_call:
            words = ctx.tr._("not watched (hold_in_call = false)")
            lines.append(Line(part, True, words, needed=False))
            continue
        mine = [s for s in signals if s.kind == kind]
        heard = [s.text for s in mine if s.available]
        if heard:
            lines.append(Line(part, True, "; ".join(heard), needed=False))
        else:
            why = "; ".join(s.text for s in mine) or problem or ctx.tr._("not available here")
            missing = ctx.tr._(_SIGNAL_MISSING[kind])
            lines.append(Line(part, False, f"{why} - {missing}", needed=False))
    return lines


# -- tray ------------------------------------------------------------------------------


def check_tray(ctx: Context) -> list[Line]:
    try:
        from presence_agent.tray._backend import (
            TrayUnavailable,
            backend_name,
            check_session,
            load_pystray,
        )
    except ImportError as exc:
        words = ctx.tr._("no tray support ({problem})").format(problem=exc)
        return [Line("tray", False, words, needed=False)]
    try:
        check_session(ctx.environ, ctx.platform)
        pystray = load_pystray(ctx.environ, ctx.platform)
    except TrayUnavailable as exc:
        words = ctx.tr._("{problem}; the agent runs headless").format(problem=exc)
        return [Line("tray", False, words, needed=False)]
    except Exception as exc:  # noqa: BLE001 - a backend's own failure: report, never crash
        words = _words(exc, ctx.tr._("the tray could not start"))
        return [Line("tray", False, words, needed=False)]
    words = ctx.tr._("pystray {backend} backend, a tray host is there")
    return [Line("tray", True, words.format(backend=backend_name(pystray)))]


# -- start at login ----------------------------------------------------------------------


def check_autostart(ctx: Context) -> list[Line]:
    from presence_agent import autostart

    try:
        state = autostart.status(env=ctx.environ)
    except (OSError, ValueError) as exc:
        words = ctx.tr._("cannot be read: {problem}").format(problem=exc)
        return [Line("start at login", False, words, needed=False)]
    ctx.autostart = state
    if not state.enabled:
        return [
            Line(
                "start at login",
                False,
                ctx.tr._("off ({where})").format(where=state.where),
                ctx.tr._("presence-agent autostart enable (or Start at login in the tray menu)"),
                needed=False,
            )
        ]
    problem = autostart.entry_problem(state, ctx.tr)
    if problem:
        return [
            Line(
                "start at login",
                False,
                ctx.tr._("on, but {problem}").format(problem=problem),
                ctx.tr._("presence-agent autostart enable, from the installed app"),
                needed=False,
            )
        ]
    command = " ".join(state.command or ())
    words = ctx.tr._("on ({where}: {command})").format(where=state.where, command=command)
    return [Line("start at login", True, words)]


# -- server ------------------------------------------------------------------------------


def check_server(ctx: Context) -> list[Line]:
    from presence_agent.client import LibredeskClient, LibredeskError, make_ssl_context

    cfg = ctx.cfg
    if cfg is None:
        return []
    from presence_agent.cli import login_hint

    if not cfg.server or not cfg.api_key:
        return [Line("server", False, ctx.tr._("not signed in"), login_hint(ctx.paths, ctx.tr))]
    if not ctx.secret:
        return [
            Line(
                "credentials",
                False,
                ctx.tr._("signed out: no API secret stored for {server}").format(server=cfg.server),
                login_hint(ctx.paths, ctx.tr),
            )
        ]
    lines: list[Line] = []
    try:
        with LibredeskClient(
            cfg.server,
            cfg.api_key,
            ctx.secret,
            auth=cfg.auth,
            verify=make_ssl_context(cfg.ca_bundle),
        ) as client:
            agent = client.me()
            dialect = client.detect_dialect(agent) if cfg.dialect == "auto" else cfg.dialect
    except LibredeskError as exc:
        return [
            Line(
                "server",
                False,
                f"{cfg.server}: {exc.render(ctx.tr)}",
                ctx.tr._(
                    "check the server address and your API key and secret, then sign in again:"
                    " {command}"
                ).format(command=login_hint(ctx.paths, ctx.tr)),
            )
        ]
    except OSError as exc:
        source = ctx.layers.source_of("ca_bundle") if ctx.layers is not None else None
        return [
            Line(
                "server",
                False,
                f"{cfg.server}: {exc.strerror or exc}",
                ctx.tr._("check the file named by ca_bundle in {file}").format(
                    file=source or ctx.tr._("the config")
                ),
            )
        ]
    dialect_name = getattr(dialect, "value", dialect)
    route = _route(cfg.server, ctx.environ)
    words = ctx.tr._("{server} reachable, {dialect} dialect ({route})")
    lines.append(
        Line("server", True, words.format(server=cfg.server, dialect=dialect_name, route=route))
    )
    words = ctx.tr._("valid (agent #{id} {name})").format(id=agent.id, name=agent.name)
    lines.append(Line("credentials", True, words.replace(" )", ")")))
    if dialect_name == "libredesk":
        lines.append(_check_ws(ctx, agent.status_word))
    else:
        from presence_agent.config import idle_plan

        if idle_plan(cfg).libredesk_only():
            lines.append(
                Line(
                    "idle plan",
                    True,
                    ctx.tr._(
                        "no new conversations and reassign apply to Libredesk servers only;"
                        " this server has away only"
                    ),
                    needed=False,
                )
            )
    return lines


def _route(url: str, environ: Mapping[str, str]) -> str:
    from presence_agent.wsconnect import describe_route

    return describe_route(url, environ)


def _ping_hazard(ctx: Context, server_word: str) -> str:
    """Why a text ``ping`` now would change presence ("" when it would not)."""
    tr = ctx.tr
    if server_word == "offline":
        return tr._("the server holds you offline, and a ping would bring you online unseen")
    running = ctx.running_agent(ctx.paths)
    if running is None:
        return tr._("the agent is not running, and a ping would hold off the offline sweep")
    if "offline" in (running.get("status"), running.get("pending")):
        return tr._("the agent is meant to be offline, and a ping would bring you online")
    if not running.get("connected"):
        return tr._("the agent is not connected, and a ping would change what the server holds")
    return ""


def _check_ws(ctx: Context, server_word: str) -> Line:
    from presence_agent.keepalive import ws_params_for
    from presence_agent.wsconnect import ORIGIN_REFUSED, OriginRefused

    params = ws_params_for(ctx.cfg, ctx.secret or "")
    route = _route(params.url, ctx.environ)
    hazard = _ping_hazard(ctx, server_word)
    try:
        ws = ctx.connect_ws(params, 5.0)
        try:
            if hazard:
                answer = None
            else:
                ws.send("ping")
                answer = ws.recv(timeout=5)
        finally:
            ws.close()
    except OriginRefused:
        return Line(
            "/ws",
            False,
            ORIGIN_REFUSED,
            ctx.tr._(
                "the reverse proxy in front of Libredesk must pass the Host header through"
                " unchanged (nginx: proxy_set_header Host $host)"
            ),
        )
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status:
            text = ctx.tr._("keepalive refused ({status})").format(status=status)
        else:
            text = ctx.tr._("keepalive failed: {problem}").format(
                problem=_words(exc, ctx.tr._("no answer"))
            )
        return Line(
            "/ws",
            False,
            f"{text} ({route})",
            ctx.tr._(
                "the server marks you offline without it: check that a proxy in between"
                " lets WebSocket connections to /ws through"
            ),
        )
    if answer is None:
        words = ctx.tr._("keepalive handshake accepted ({route}); no ping sent: {why}")
        return Line("/ws", True, words.format(route=route, why=hazard))
    words = ctx.tr._("keepalive accepted ({answer} to ping, {route})")
    return Line("/ws", True, words.format(answer=repr(answer), route=route))


CHECKS: list[Check] = [
    check_config,
    check_keyring,
    check_idle,
    check_session,
    check_tray,
    check_autostart,
    check_server,
]


def settings(ctx: Context) -> dict[str, dict[str, Any]]:
    """Every effective setting, the file it came from (``None``: the default), and its lock."""
    from presence_agent.config import Config

    if ctx.layers is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name in Config.__dataclass_fields__:
        source = ctx.layers.source_of(name)
        locked = ctx.layers.locked.get(name)
        out[name] = {
            "value": getattr(ctx.cfg, name),
            "from": str(source) if source is not None else None,
            "locked_by": str(locked) if locked is not None else None,
        }
    return out


#: The files' names in the text report (``--json`` keeps the keys).
FILE_NAMES = {
    "config": N_("config"),
    "presets": N_("presets"),
    "log": N_("log"),
    "runtime": N_("runtime"),
}


def files(ctx: Context) -> dict[str, Any]:
    paths = ctx.paths
    return {
        "config": str(paths.config_file),
        "presets": [str(p) for p in paths.site_config_files],
        "log": str(paths.log_file),
        "runtime": str(paths.runtime_dir),
    }


def run(
    paths: Paths,
    out: TextIO,
    checks: list[Check] | None = None,
    *,
    context: Context | None = None,
    as_json: bool = False,
    tr: Translator = ENGLISH,
) -> int:
    """Print every line (or one JSON object); 1 if a needed part is broken, else 0.

    The lines are in ``tr``'s language; ``--json`` is English whatever the desktop's,
    so that a fleet's reports read the same from every machine.
    """
    ctx = context if context is not None else Context(paths, tr=ENGLISH if as_json else tr)
    tr = ctx.tr
    lines = _cleaned(ctx, [line for check in checks or CHECKS for line in check(ctx)])
    failed = any(line.needed and not line.ok for line in lines)
    if as_json:
        report = {
            "version": __version__,
            "python": platform_mod.python_version(),
            "platform": ctx.platform,
            "ok": not failed,
            "checks": [asdict(line) for line in lines],
            "settings": settings(ctx),
            "plan": _plan(ctx),
            "files": files(ctx),
        }
        json.dump(report, out, indent=2, default=str)
        out.write("\n")
        return 1 if failed else 0
    print(
        f"presence-agent {__version__} (Python {platform_mod.python_version()}, {ctx.platform})",
        file=out,
    )
    # The marks keep their width in every language: the text lines up after them.
    marks = {"ok": tr._("ok"), "FAIL": tr._("FAIL"), "warn": tr._("warn")}
    width = max(4, *(len(mark) for mark in marks.values()))
    for line in lines:
        mark = marks["ok" if line.ok else ("FAIL" if line.needed else "warn")]
        print(f"{mark:<{width}} {tr._(line.part)}: {line.text}", file=out)
        if not line.ok and line.fix:
            print(" " * (width + 1) + tr._("fix: {fix}").format(fix=line.fix), file=out)
    shown = settings(ctx)
    if shown:
        print(tr._("settings:"), file=out)
        for name, item in shown.items():
            if item["locked_by"]:
                where = tr._("{file}, locked by your administrator").format(
                    file=item["from"] or tr._("default")
                )
            else:
                where = item["from"] or tr._("default")
            print(f"     {name} = {_toml_value(item['value'], tr)}  ({where})", file=out)
    print(tr._("files:"), file=out)
    for name, value in files(ctx).items():
        shown_value = ", ".join(value) if isinstance(value, list) else value
        shown_name = tr._(FILE_NAMES.get(name, name))
        print(f"     {shown_name}: {shown_value or '-'}", file=out)
    return 1 if failed else 0


def _plan(ctx: Context) -> dict[str, Any] | None:
    """The idle steps, in seconds (``None``: never) and in words."""
    from presence_agent.config import ConfigError, idle_plan

    if ctx.cfg is None:
        return None
    try:
        plan = idle_plan(ctx.cfg)
    except ConfigError:
        return None
    return {
        "away_after": plan.away_after,
        "stop_assignments_after": plan.stop_assignments_after,
        "reassign_after": plan.reassign_after,
        "text": plan.describe(),
    }


def _cleaned(ctx: Context, lines: list[Line]) -> list[Line]:
    """Every line through the one redaction point (presence_agent/redaction.py): a line
    quotes servers, proxies and libraries, and people paste doctor's output into bug
    reports, so it must hold no secret in any form and no terminal escape."""
    from presence_agent.redaction import Redactor

    api_key = getattr(ctx.cfg, "api_key", None)
    redactor = Redactor.for_credentials(api_key, ctx.secret or "")
    return [
        replace(line, text=redactor.clean(line.text), fix=redactor.clean(line.fix))
        for line in lines
    ]


def _toml_value(value: Any, tr: Translator = ENGLISH) -> str:
    if value is None:
        return tr._("(not set)")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


def _words(exc: BaseException, fallback: str) -> str:
    """An exception's own first line for a person, never its class name."""
    from presence_agent.errortext import first_line

    return first_line(exc) if str(exc).strip() else fallback


def _nothing() -> None:
    return None
