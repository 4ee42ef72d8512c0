"""The command line: ``presence-agent login|logout|run|set|status|autostart|doctor|demo``.

Every failure is one line on stderr and a non-zero exit: 1 for a failure of
the world (server, keyring, display), 2 for bad input, 3 for "already running".
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from presence_agent import __version__

EXIT_FAIL = 1
EXIT_USAGE = 2

_STATUS_WORDS = {
    "available": "available",
    "online": "available",
    "busy": "busy",
    "away": "away",
    "reassign": "away_and_reassigning",
    "away-reassign": "away_and_reassigning",
    "away_and_reassigning": "away_and_reassigning",
    "offline": "offline",
}


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 7 * 86400:
        raise argparse.ArgumentTypeError(f"must be between 0 and 604800 seconds: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="presence-agent",
        description="Keep your Libredesk availability true to whether you are at your desk.",
    )
    parser.add_argument("--version", action="version", version=f"presence-agent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    login = sub.add_parser("login", help="check credentials with the server and store them")
    login.add_argument(
        "--server", required=True, help="Libredesk URL, e.g. https://desk.example.com"
    )
    login.add_argument("--api-key", required=True, help="API key from your Libredesk profile")
    login.add_argument(
        "--api-secret-stdin",
        action="store_true",
        help="read the API secret from standard input instead of a hidden prompt",
    )
    login.add_argument("--auth", choices=("token", "basic"), default="token")
    login.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow plain http:// to a host that is not this machine (the secret travels in clear)",
    )
    login.add_argument("--ca-bundle", help="PEM file of CA certificates to trust for this server")

    sub.add_parser("logout", help="remove the API secret from the keyring")

    run = sub.add_parser("run", help="run the agent (the tray app unless --no-tray)")
    run.add_argument("--no-tray", action="store_true", help="run headless, printing each change")
    run.add_argument("--away-after", type=_positive, metavar="SECONDS", help="idle threshold")
    run.add_argument(
        "--keepalive-interval", type=_positive, metavar="SECONDS", help="/ws ping interval"
    )
    run.add_argument(
        "--start-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait before starting (used at login, so the tray host exists first)",
    )

    setp = sub.add_parser(
        "set",
        help="set your status by hand (source user), for a while if you like",
        description="Set your status by hand. With --for or --until it ends by itself:"
        " back to Available if you are at your desk then, else idle Away.",
    )
    setp.add_argument("status", help="available | busy | away | reassign | offline")
    timed = setp.add_mutually_exclusive_group()
    timed.add_argument(
        "--for", dest="for_", metavar="DURATION", help="for this long: 90s, 45m, 1h30m, 2h"
    )
    timed.add_argument(
        "--until",
        metavar="TIME",
        help="until this local time: 13:00 (its next occurrence), 1:30pm, tomorrow 9:00,"
        " 2026-12-24 9:00",
    )

    sub.add_parser("status", help="show the status the server holds now")

    auto = sub.add_parser("autostart", help="start the agent at login")
    auto.add_argument("action", choices=("enable", "disable", "status"))

    sub.add_parser("doctor", help="diagnose idle sources, keyring, tray and server")

    demo = sub.add_parser("demo", help="see it work against a local stand-in server")
    demo.add_argument("--away-after", type=_positive, default=5.0, metavar="SECONDS")
    demo.add_argument("--duration", type=_positive, metavar="SECONDS", help="stop after this long")

    pause = sub.add_parser("pause", help="pause idle detection in the running agent")
    pause.add_argument(
        "minutes", nargs="?", type=float, help="for this many minutes (default: until resume)"
    )
    sub.add_parser("resume", help="resume idle detection in the running agent")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from presence_agent import credentials

    if (sys.argv[1:] if argv is None else list(argv))[:1] == [credentials.HELPER_COMMAND]:
        # The running agent's keyring calls (credentials.KeyringHelper): not for
        # people, so not in the help.
        return credentials.helper_main(sys.stdin, sys.stdout)
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "run"
    if args.command is None:
        args = parser.parse_args(["run"])
    handler = _COMMANDS[command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130


# -- commands ---------------------------------------------------------------------


def _fail(message: str, code: int = EXIT_FAIL, out: TextIO | None = None) -> int:
    print(f"presence-agent: {message}", file=out or sys.stderr)
    return code


def _paths() -> Any:
    from presence_agent.paths import Paths

    return Paths.default()


def cmd_login(args: argparse.Namespace) -> int:
    from presence_agent import control
    from presence_agent.signin import SignInError, check_input, sign_in

    paths = _paths()
    try:
        # Offline checks first, so a typo costs no secret prompt.
        check_input(paths, args.server, args.api_key, allow_insecure_http=args.allow_insecure_http)
        secret = _read_secret(args.api_secret_stdin)
        if secret is None:
            return _fail(
                "no API secret: type it at the prompt, or pipe it with --api-secret-stdin",
                EXIT_USAGE,
            )
        summary = sign_in(
            paths,
            args.server,
            args.api_key,
            secret,
            args.auth,
            args.allow_insecure_http,
            args.ca_bundle,
        )
    except SignInError as exc:
        return _fail(str(exc), EXIT_USAGE if exc.usage else EXIT_FAIL)
    with contextlib.suppress(control.NotRunning):
        control.request(paths.runtime_dir, {"cmd": "reload"}, timeout=3)
    print(summary)
    return 0


def _read_secret(from_stdin: bool) -> str | None:
    if from_stdin:
        line = sys.stdin.readline()
        secret = line.rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            return None
        import getpass

        secret = getpass.getpass("API secret: ")
    return secret or None


def _configured_client() -> Any:
    """A client from the stored config and keyring, or an error string."""
    from presence_agent import config
    from presence_agent.client import LibredeskClient, make_ssl_context
    from presence_agent.credentials import Credentials

    cfg = config.load(_paths())
    if not cfg.server or not cfg.api_key:
        raise _UserError("not signed in: run `presence-agent login --server URL --api-key KEY`")
    secret = Credentials().get(cfg.server, cfg.api_key)
    if not secret:
        raise _UserError("no API secret in the keyring: run `presence-agent login` again")
    client = LibredeskClient(
        cfg.server, cfg.api_key, secret, auth=cfg.auth, verify=make_ssl_context(cfg.ca_bundle)
    )
    return client, cfg


class _UserError(Exception):
    pass


def _with_client(action: Any) -> int:
    from presence_agent.client import LibredeskError
    from presence_agent.config import ConfigError
    from presence_agent.credentials import KeyringUnavailable

    try:
        client, cfg = _configured_client()
    except (ConfigError, _UserError, KeyringUnavailable) as exc:
        return _fail(str(exc), EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAIL)
    try:
        with client:
            result: int = action(client, cfg)
            return result
    except LibredeskError as exc:
        return _fail(str(exc))


def cmd_logout(args: argparse.Namespace) -> int:
    from presence_agent import control
    from presence_agent.signin import SignInError, sign_out

    paths = _paths()
    try:
        summary = sign_out(paths)
    except SignInError as exc:
        return _fail(str(exc), EXIT_USAGE if exc.usage else EXIT_FAIL)
    with contextlib.suppress(control.NotRunning):
        control.request(paths.runtime_dir, {"cmd": "reload"}, timeout=3)
    print(summary)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from presence_agent import app

    if args.start_delay > 0:
        from presence_agent import autostart

        # At login: wait for the tray host, but not a moment longer than needed.
        autostart.start_delay(min(args.start_delay, 600))
    overrides = {"away_after": args.away_after, "keepalive_interval": args.keepalive_interval}
    return app.run(_paths(), overrides, tray=not args.no_tray)


def cmd_set(args: argparse.Namespace) -> int:
    from presence_agent import control
    from presence_agent.vocab import Status

    word = _STATUS_WORDS.get(args.status.strip().lower())
    if word is None:
        return _fail(
            f"unknown status {args.status[:40]!r}; use one of: available, busy, away,"
            " reassign (real Libredesk), offline",
            EXIT_USAGE,
        )
    status = Status(word)
    try:
        until = _timer_end(args, status)
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)
    paths = _paths()
    if until is not None:
        return _set_timed(paths, status, until)
    try:
        answer = control.request(paths.runtime_dir, {"cmd": "set", "status": status.value})
    except control.NotRunning:
        return _set_directly(status)
    if not answer.get("ok"):
        return _fail(str(answer.get("message", "failed")))
    message = str(answer.get("message") or "done")
    print(f"{message[:1].upper()}{message[1:]}.")
    return 0


def _timer_end(args: argparse.Namespace, status: Any) -> float | None:
    """The wall-clock end ``--for``/``--until`` ask for, or ``None``; ``ValueError`` if bad."""
    from datetime import datetime

    from presence_agent.schedule import local_timezone
    from presence_agent.timespec import parse_duration, parse_until
    from presence_agent.vocab import Status

    if args.for_ is None and args.until is None:
        return None
    option = "--for" if args.for_ is not None else "--until"
    if status is Status.AVAILABLE:
        raise ValueError(
            f"{option}: a timed status ends in Available, so 'available {option}' would"
            " change nothing; choose busy, away, reassign or offline"
        )
    try:
        if args.for_ is not None:
            return time.time() + parse_duration(args.for_)
        tz = local_timezone()
        return parse_until(args.until, datetime.now(tz), tz).timestamp()
    except ValueError as exc:
        raise ValueError(f"{option}: {exc}") from None


def _until_text(until: float) -> str:
    """``13:00 (in 42 min)``, ``tomorrow 09:00 (in 16 h)``: the day shown when not today."""
    from datetime import datetime

    from presence_agent.schedule import local_timezone
    from presence_agent.timespec import format_clock, format_span

    tz = local_timezone()
    now = datetime.now(tz)
    end = datetime.fromtimestamp(until, tz)
    return f"{format_clock(end, now, tz)} (in {format_span(until - now.timestamp())})"


def _set_timed(paths: Any, status: Any, until: float) -> int:
    from presence_agent import control

    request = {"cmd": "set_timed", "status": status.value, "until": until, "set_by": "cli"}
    try:
        answer = control.request(paths.runtime_dir, request)
    except control.NotRunning:
        return _set_directly(status, until)
    if not answer.get("ok"):
        message = str(answer.get("message", "failed"))
        if message.startswith("unknown command"):
            message = "the running agent cannot time a status: restart it (it is older)"
        return _fail(message)
    print(f"{status.label} until {_until_text(until)}.")
    return 0


def _set_directly(status: Any, until: float | None = None) -> int:
    from presence_agent.policy import Desired
    from presence_agent.timers import TimedStatus, TimerStore
    from presence_agent.vocab import Source, UnsupportedStatusError

    def action(client: Any, cfg: Any) -> int:
        _learn_dialect(client, cfg)
        try:
            server = client.set_status(Desired(status, Source.USER))
        except UnsupportedStatusError as exc:
            return _fail(str(exc), EXIT_USAGE)
        if server.status is not status:
            print(f"Asked for {status.label}; the server keeps {server.status.label}.")
            return EXIT_FAIL
        store = TimerStore(_paths().state_dir)
        if until is None:
            store.save(None)  # a plain choice replaces any timed one
            print(f"Now {server.status.label}.")
            return 0
        # Kept for the agent, which ends it when it next runs (at once if already due).
        store.save(TimedStatus(status, until, time.time(), "cli"))
        print(
            f"Now {server.status.label}, until {_until_text(until)}. The agent is not"
            " running: start it to have the status end by itself."
        )
        return 0

    return _with_client(action)


def _learn_dialect(client: Any, cfg: Any) -> Any:
    from presence_agent.vocab import Dialect

    agent = client.me()
    if cfg.dialect == "auto":
        client.detect_dialect(agent)
    else:
        client.dialect = Dialect(cfg.dialect)
    return agent


def cmd_status(args: argparse.Namespace) -> int:
    from presence_agent import control

    def action(client: Any, cfg: Any) -> int:
        agent = _learn_dialect(client, cfg)
        server = client.read_status(agent.status_word)
        kind = ""
        if server.by_idle is True:
            kind = " (idle)"
        elif server.by_idle is False:
            kind = " (manual)"
        print(f"{server.status.label}{kind}")
        who = agent.name or agent.email or f"agent #{agent.id}"
        print(f"  server: {cfg.server} ({client.dialect.value} dialect), agent: {who}")
        try:
            running = control.request(_paths().runtime_dir, {"cmd": "status"}, timeout=3)
        except control.NotRunning:
            print("  agent: not running")
        else:
            extra = " - idle detection paused" if running.get("paused") else ""
            print(f"  agent: running, shows {running.get('label')}{extra}")
        return 0

    return _with_client(action)


def cmd_autostart(args: argparse.Namespace) -> int:
    from presence_agent import autostart

    return autostart.cli(args.action, sys.stdout)


def cmd_doctor(args: argparse.Namespace) -> int:
    from presence_agent import doctor

    return doctor.run(_paths(), sys.stdout)


def cmd_demo(args: argparse.Namespace) -> int:
    from presence_agent import demo

    return demo.run(away_after=args.away_after, duration=args.duration, out=sys.stdout)


def _control_simple(payload: dict[str, Any], done: str) -> int:
    from presence_agent import control

    try:
        answer = control.request(_paths().runtime_dir, payload, timeout=5)
    except control.NotRunning as exc:
        return _fail(str(exc))
    if not answer.get("ok"):
        return _fail(str(answer.get("message")))
    print(done)
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    if args.minutes is not None and args.minutes <= 0:
        return _fail("minutes must be positive", EXIT_USAGE)
    seconds = None if args.minutes is None else args.minutes * 60
    until = "until `presence-agent resume`" if seconds is None else f"for {args.minutes:g} min"
    return _control_simple({"cmd": "pause", "seconds": seconds}, f"Idle detection paused {until}.")


def cmd_resume(args: argparse.Namespace) -> int:
    return _control_simple({"cmd": "resume"}, "Idle detection resumed.")


_COMMANDS = {
    "login": cmd_login,
    "logout": cmd_logout,
    "run": cmd_run,
    "set": cmd_set,
    "status": cmd_status,
    "autostart": cmd_autostart,
    "doctor": cmd_doctor,
    "demo": cmd_demo,
    "pause": cmd_pause,
    "resume": cmd_resume,
}
