"""``presence-agent doctor``: one line per part, and how to fix what is broken.

Each check returns :class:`Line` values; ``needed`` lines that fail make the
exit code non-zero, the others are warnings (the agent runs without them,
with less). Checks only look: nothing is stored or sent but a read of the
server (``GET /api/v1/agents/me``) and a ``/ws`` handshake.

The lines, in order: config, keyring, idle source (the one chosen, and why
each other was skipped), lock / sleep / idle-inhibitor signals, tray, server,
credentials, ``/ws``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from presence_agent.paths import Paths

if TYPE_CHECKING:
    from presence_agent.idle import Choice
    from presence_agent.session.base import Signal

INPUT_MONITORING_FIX = (
    "allow Input Monitoring for presence-agent in System Settings > Privacy & Security"
    " > Input Monitoring, then start it again"
)
KEYRING_DAEMON_FIX = (
    "start a Secret Service on the session bus: gnome-keyring-daemon (GNOME, most"
    " desktops) or KWallet with its Secret Service enabled (KDE); then log in again"
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


@dataclass
class Context:
    """What the checks share, and the boundaries they cross (tests pass fakes)."""

    paths: Paths
    cfg: Any = None
    secret: str | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    platform: str = sys.platform
    choose_idle: Callable[[str], Choice] = _choose_idle
    probe_session: Callable[[], list[Signal]] = _probe_session
    credentials: Any = None


# -- config and keyring ------------------------------------------------------------------


def check_config(ctx: Context) -> list[Line]:
    from presence_agent import config
    from presence_agent.idle import KNOWN

    try:
        ctx.cfg = config.load(ctx.paths)
    except config.ConfigError as exc:
        return [Line("config", False, str(exc), "fix or remove that key")]
    where = ctx.paths.config_file if ctx.paths.config_file.exists() else "defaults"
    if ctx.cfg.idle_source not in ("auto", *KNOWN):
        return [
            Line(
                "config",
                False,
                f"{where}: idle_source {ctx.cfg.idle_source!r} is not a source",
                f'use "auto" or one of: {", ".join(KNOWN)}',
            )
        ]
    return [Line("config", True, f"valid ({where})")]


def check_keyring(ctx: Context) -> list[Line]:
    from presence_agent.credentials import Credentials, KeyringUnavailable

    credentials = ctx.credentials if ctx.credentials is not None else Credentials()
    try:
        name = credentials.describe()
        if ctx.cfg is not None and ctx.cfg.server and ctx.cfg.api_key:
            ctx.secret = credentials.get(ctx.cfg.server, ctx.cfg.api_key)
    except KeyringUnavailable as exc:
        return [Line("keyring", False, str(exc), _keyring_fix(ctx))]
    return [Line("keyring", True, name)]


def _keyring_fix(ctx: Context) -> str:
    if ctx.platform == "darwin":
        return "unlock the login keychain (Keychain Access), then log in again"
    if ctx.platform == "win32":
        return "the Windows Credential Manager must be available to this user"
    if not ctx.environ.get("DBUS_SESSION_BUS_ADDRESS") and not ctx.environ.get("XDG_RUNTIME_DIR"):
        return "no D-Bus session bus: run inside a desktop session, or under dbus-run-session"
    return KEYRING_DAEMON_FIX


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
    if what:
        watch = f"{what}, no input hook (polls every 50 ms only while away)"
    else:
        watch = ", ".join(hooks) or "input listeners"
    text = f"{source.name} - {watch} ({choice.reason})"
    if choice.skipped:
        text += "; skipped " + "; ".join(f"{name}: {why}" for name, why in choice.skipped)
    if choice.not_tried:
        text += f"; not needed: {', '.join(choice.not_tried)}"
    lines = [Line("idle source", True, text)]
    if source.name == "pynput" and ctx.platform == "darwin":
        lines.append(
            Line(
                "input monitoring",
                True,
                "pynput sees input only with the Input Monitoring permission",
                needed=False,
            )
        )
    return lines


def _idle_fix(ctx: Context, problem: str, env_var: str) -> str:
    if env_var in problem or "in the config" in problem:
        return f'unset {env_var}, or set idle_source = "auto" in the config'
    if ctx.platform == "darwin":
        return INPUT_MONITORING_FIX
    if ctx.platform == "win32":
        return "run presence-agent inside the user's desktop session"
    if ctx.environ.get("WAYLAND_DISPLAY") or ctx.environ.get("XDG_SESSION_TYPE") == "wayland":
        return (
            "on Wayland the desktop must tell the idle time: GNOME (Mutter's IdleMonitor) and"
            " KDE (org.freedesktop.ScreenSaver) do; with XWayland, pynput sees X apps only"
        )
    return "run inside a graphical session (DISPLAY must name the X display)"


_SIGNAL_PARTS = (
    ("lock", "screen lock"),
    ("suspend", "sleep"),
    ("inhibit", "idle inhibitors"),
)
_SIGNAL_MISSING = {
    "lock": "a locked screen is seen only as idle time",
    "suspend": "a sleep is seen from the clock jump on wake (no away before it)",
    "inhibit": "a call or video without input may still turn you away",
}


def check_session(ctx: Context) -> list[Line]:
    try:
        signals = ctx.probe_session()
    except Exception as exc:  # noqa: BLE001 - doctor reports, it never crashes
        signals = []
        problem = f"{type(exc).__name__}: {exc}"
    else:
        problem = ""
    lines = []
    for kind, part in _SIGNAL_PARTS:
        mine = [s for s in signals if s.kind == kind]
        heard = [s.text for s in mine if s.available]
        if heard:
            lines.append(Line(part, True, "; ".join(heard), needed=False))
        else:
            why = "; ".join(s.text for s in mine) or problem or "not available here"
            lines.append(Line(part, False, f"{why} - {_SIGNAL_MISSING[kind]}", needed=False))
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
        return [Line("tray", False, f"no tray support ({exc})", needed=False)]
    try:
        check_session(ctx.environ, ctx.platform)
        pystray = load_pystray(ctx.environ, ctx.platform)
    except TrayUnavailable as exc:
        return [Line("tray", False, f"{exc}; the agent runs headless", needed=False)]
    except Exception as exc:  # noqa: BLE001 - a backend's own failure: report, never crash
        return [Line("tray", False, f"{type(exc).__name__}: {exc}", needed=False)]
    return [Line("tray", True, f"pystray {backend_name(pystray)} backend, a tray host is there")]


# -- server ------------------------------------------------------------------------------


def check_server(ctx: Context) -> list[Line]:
    from presence_agent.client import LibredeskClient, LibredeskError, make_ssl_context

    cfg = ctx.cfg
    if cfg is None:
        return []
    if not cfg.server or not cfg.api_key:
        return [
            Line(
                "server", False, "not signed in", "presence-agent login --server URL --api-key KEY"
            )
        ]
    if not ctx.secret:
        return [Line("credentials", False, "no API secret in the keyring", "presence-agent login")]
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
        return [Line("server", False, f"{cfg.server}: {exc}", "check the URL and credentials")]
    except OSError as exc:
        return [Line("server", False, f"{cfg.server}: {exc}", "check ca_bundle in the config")]
    dialect_name = getattr(dialect, "value", dialect)
    lines.append(Line("server", True, f"{cfg.server} reachable, {dialect_name} dialect"))
    lines.append(Line("credentials", True, f"valid (agent #{agent.id} {agent.name})".rstrip()))
    if dialect_name == "libredesk":
        lines.append(_check_ws(ctx))
    return lines


def _check_ws(ctx: Context) -> Line:
    from presence_agent.keepalive import _connect, ws_params_for

    params = ws_params_for(ctx.cfg, ctx.secret or "")
    try:
        ws = _connect(params, 5.0)
        ws.send("ping")
        answer = ws.recv(timeout=5)
        ws.close()
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        status = getattr(getattr(exc, "response", None), "status_code", None)
        text = f"refused ({status})" if status else type(exc).__name__
        return Line("/ws", False, f"keepalive {text}", "without /ws the server marks you offline")
    return Line("/ws", True, f"keepalive accepted ({answer!r} to ping)")


CHECKS: list[Check] = [
    check_config,
    check_keyring,
    check_idle,
    check_session,
    check_tray,
    check_server,
]


def run(
    paths: Paths,
    out: TextIO,
    checks: list[Check] | None = None,
    *,
    context: Context | None = None,
) -> int:
    """Print every line; 1 if a needed part is broken, else 0."""
    ctx = context if context is not None else Context(paths)
    failed = False
    for check in checks or CHECKS:
        for line in check(ctx):
            mark = "ok  " if line.ok else ("FAIL" if line.needed else "warn")
            print(f"{mark} {line.part}: {line.text}", file=out)
            if not line.ok and line.fix:
                print(f"     fix: {line.fix}", file=out)
            failed = failed or (line.needed and not line.ok)
    return 1 if failed else 0


def _nothing() -> None:
    return None
