"""``presence-agent doctor``: one line per part, and how to fix what is broken.

Each check returns a :class:`Line`; ``needed`` lines that fail make the exit
code non-zero. Checks only look: nothing is stored or sent but a read of the
server (``GET /api/v1/agents/me``) and a ``/ws`` handshake.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from presence_agent.paths import Paths


@dataclass(frozen=True)
class Line:
    part: str
    ok: bool
    text: str
    fix: str = ""
    needed: bool = True


Check = Callable[["Context"], list[Line]]


@dataclass
class Context:
    paths: Paths
    cfg: Any = None
    secret: str | None = None


def check_config(ctx: Context) -> list[Line]:
    from presence_agent import config

    try:
        ctx.cfg = config.load(ctx.paths)
    except config.ConfigError as exc:
        return [Line("config", False, str(exc), "fix or remove that key")]
    where = ctx.paths.config_file if ctx.paths.config_file.exists() else "defaults"
    return [Line("config", True, f"valid ({where})")]


def check_keyring(ctx: Context) -> list[Line]:
    from presence_agent.credentials import Credentials, KeyringUnavailable

    credentials = Credentials()
    try:
        name = credentials.describe()
        if ctx.cfg is not None and ctx.cfg.server and ctx.cfg.api_key:
            ctx.secret = credentials.get(ctx.cfg.server, ctx.cfg.api_key)
    except KeyringUnavailable as exc:
        return [Line("keyring", False, str(exc), "start gnome-keyring or KWallet, then log in")]
    return [Line("keyring", True, name)]


def check_idle(ctx: Context) -> list[Line]:
    from presence_agent import idle

    preference = ctx.cfg.idle_source if ctx.cfg is not None else "auto"
    try:
        source = idle.create(preference)
        source.start(lambda: None)
        source.stop()
    except idle.IdleSourceError as exc:
        fix = "run inside a graphical session (DISPLAY)"
        if sys.platform == "darwin":
            fix = "allow Input Monitoring for presence-agent in System Settings > Privacy"
        return [Line("idle source", False, str(exc), fix)]
    return [Line("idle source", True, f"{source.name}")]


def check_tray(ctx: Context) -> list[Line]:
    backend = os.environ.get("PYSTRAY_BACKEND", "")
    platform: str = sys.platform
    if platform.startswith("linux"):
        try:
            import gi  # noqa: F401
        except ImportError:
            return [
                Line(
                    "tray",
                    False,
                    "PyGObject is missing: no tray menu on Linux (pystray's xorg backend has none)",
                    "pip install 'presence-agent[gtk]' (needs libgirepository1.0-dev)",
                    needed=False,
                )
            ]
        return [Line("tray", True, f"pystray {backend or 'gtk/appindicator'} backend available")]
    return [Line("tray", True, f"pystray {backend or 'native'} backend")]


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
    from presence_agent.client import USER_AGENT, authorization_header, make_ssl_context
    from presence_agent.keepalive import WsParams, _connect, origin_for, ws_url

    cfg = ctx.cfg
    params = WsParams(
        url=ws_url(cfg.server),
        origin=origin_for(cfg.server),
        authorization=authorization_header(cfg.auth, cfg.api_key, ctx.secret or ""),
        ssl=make_ssl_context(cfg.ca_bundle),
        user_agent=USER_AGENT,
    )
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


CHECKS: list[Check] = [check_config, check_keyring, check_idle, check_tray, check_server]


def run(paths: Paths, out: TextIO, checks: list[Check] | None = None) -> int:
    ctx = Context(paths)
    failed = False
    for check in checks or CHECKS:
        for line in check(ctx):
            mark = "ok  " if line.ok else ("FAIL" if line.needed else "warn")
            print(f"{mark} {line.part}: {line.text}", file=out)
            if not line.ok and line.fix:
                print(f"     fix: {line.fix}", file=out)
            failed = failed or (line.needed and not line.ok)
    return 1 if failed else 0
