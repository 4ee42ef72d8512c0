"""The command line: ``presence-agent login|logout|run|set|status|autostart|doctor|demo``.

Every failure is one line on stderr (with what to do next, runnable as
written) and an exit code from the one table in :mod:`presence_agent.exitcodes`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from presence_agent import __version__
from presence_agent.exitcodes import MEANINGS, Exit
from presence_agent.i18n import ENGLISH, N_, Translator

if TYPE_CHECKING:
    from presence_agent.vocab import Status

# Kept for callers that used the old names.
EXIT_FAIL = Exit.FAILED
EXIT_USAGE = Exit.USAGE

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

#: What ``set`` offers, and on which servers (``busy`` only where the server has it).
SET_CHOICES = N_(
    "available | away | offline on every server; reassign (away, and your conversations go"
    " back to the team) on a real Libredesk; busy only on servers that have it (the"
    " documented API)"
)

#: The hidden command the tray starts the sign-in window with (not for people).
SIGNIN_DIALOG_COMMAND = "_signin-dialog"


def _positive_in(tr: Translator) -> Any:
    """The ``SECONDS`` type of the options, with its errors in ``tr``'s language."""

    def positive(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            words = tr._("not a number of seconds: {value}")
            raise argparse.ArgumentTypeError(words.format(value=repr(text))) from None
        if not 0 < value <= 7 * 86400:
            words = tr._("must be between 0 and 604800 seconds: {value}")
            raise argparse.ArgumentTypeError(words.format(value=repr(text)))
        return value

    # argparse names the type in its error ("invalid positive value"), so keep the name.
    positive.__name__ = "positive"
    return positive


def _positive(text: str) -> float:
    positive: float = _positive_in(ENGLISH)(text)
    return positive


def _seconds_or_never_in(tr: Translator) -> Any:
    """A number of seconds, or 0 for never; its errors in ``tr``'s language."""
    positive = _positive_in(tr)

    def seconds_or_never(text: str) -> float:
        try:
            if float(text) == 0:
                return 0.0
        except ValueError:
            pass
        value: float = positive(text)
        return value

    return seconds_or_never


def _seconds_or_never(text: str) -> float:
    value: float = _seconds_or_never_in(ENGLISH)(text)
    return value


def _epilog(tr: Translator = ENGLISH) -> str:
    rows = "\n".join(f"  {code.value}  {tr._(MEANINGS[code])}" for code in Exit)
    return tr._("exit codes:\n{rows}").format(rows=rows)


def build_parser(tr: Translator = ENGLISH) -> argparse.ArgumentParser:
    from presence_agent.config import Config

    defaults = Config()
    _positive = _positive_in(tr)
    _seconds_or_never = _seconds_or_never_in(tr)
    _ = tr._
    parser = argparse.ArgumentParser(
        prog="presence-agent",
        description=_("Keep your Libredesk availability true to whether you are at your desk."),
        epilog=_epilog(tr),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"presence-agent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    login = sub.add_parser(
        "login",
        help=_("check your API key and secret with the server, then store them"),
        description=_(
            "Check the API key and secret with the server, then store the secret in"
            " the OS keyring and the server and key in your config file."
        ),
    )
    login.add_argument(
        "--server",
        metavar="URL",
        help=_(
            "your Libredesk address, e.g. https://desk.example.com (a bare host means"
            " https://); default: the server your administrator preset, or your last login's"
        ),
    )
    login.add_argument("--api-key", required=True, help=_("API key from your Libredesk profile"))
    login.add_argument(
        "--api-secret-stdin",
        action="store_true",
        help=_("read the API secret from standard input instead of a hidden prompt (for scripts)"),
    )
    login.add_argument(
        "--auth",
        choices=("token", "basic"),
        help=_(
            "how the key and secret are sent: token (Libredesk's own) or basic (HTTP Basic"
            " auth, for proxies that need it); default: {default}, or the preset"
        ).format(default=defaults.auth),
    )
    login.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help=_(
            "allow plain http:// to a host that is not this machine (the secret travels in clear)"
        ),
    )
    login.add_argument(
        "--ca-bundle",
        metavar="FILE",
        help=_(
            "PEM file of CA certificates to trust for this server (a company CA);"
            " default: the system's certificates"
        ),
    )

    sub.add_parser(
        "logout",
        help=_("set yourself offline, then remove the API secret (like Sign out in the tray)"),
    )

    run = sub.add_parser("run", help=_("run the agent (the tray app unless --no-tray)"))
    run.add_argument("--no-tray", action="store_true", help=_("run headless, printing each change"))
    run.add_argument(
        "--away-after",
        type=_positive,
        metavar="SECONDS",
        help=_(
            "seconds without input before away (default: away_after in the config, {default})"
        ).format(default=f"{defaults.away_after:g}"),
    )
    run.add_argument(
        "--stop-assignments-after",
        type=_seconds_or_never,
        metavar="SECONDS",
        help=_(
            "seconds without input before no new conversations are assigned (away_manual, real"
            " Libredesk only; default: stop_assignments_after in the config, {default};"
            " 0 = never)"
        ).format(default=f"{defaults.stop_assignments_after:g}"),
    )
    run.add_argument(
        "--reassign-after",
        type=_seconds_or_never,
        metavar="SECONDS",
        help=_(
            "seconds without input before your conversations go back to the team"
            " (away_and_reassigning, real Libredesk only; default: reassign_after in the"
            " config, {default}; 0 = never)"
        ).format(default=f"{defaults.reassign_after:g}"),
    )
    run.add_argument(
        "--keepalive-interval",
        type=_positive,
        metavar="SECONDS",
        help=_(
            "seconds between /ws pings on a real Libredesk (default: keepalive_interval in"
            " the config, {default})"
        ).format(default=f"{defaults.keepalive_interval:g}"),
    )
    run.add_argument(
        "--start-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help=_(
            "wait at most this long for the desktop's tray before starting (start at login"
            " uses it; default: %(default)g)"
        ),
    )

    setp = sub.add_parser(
        "set",
        help=_(
            "set your status by hand (idle detection never overrides it), for a while if you like"
        ),
        description=_(
            "Set your status by hand. STATUS: {choices}. With --for or --until"
            " it ends by itself: back to Available if you are at your desk then, else idle Away."
        ).format(choices=_(SET_CHOICES)),
    )
    setp.add_argument(
        "status", metavar="STATUS", help=_("available, away, reassign, offline, busy")
    )
    timed = setp.add_mutually_exclusive_group()
    timed.add_argument(
        "--for", dest="for_", metavar="DURATION", help=_("for this long: 90s, 45m, 1h30m, 2h")
    )
    timed.add_argument(
        "--until",
        metavar="TIME",
        help=_(
            "until this local time: 13:00 (its next occurrence), 1:30pm, tomorrow 9:00,"
            " 2026-12-24 9:00"
        ),
    )

    sub.add_parser("status", help=_("show your status on the server and in the running agent"))

    auto = sub.add_parser("autostart", help=_("start the agent at login"))
    auto.add_argument("action", choices=("enable", "disable", "status"))

    doctor = sub.add_parser(
        "doctor", help=_("check idle detection, keyring, tray, settings and server; say how to fix")
    )
    doctor.add_argument(
        "--json", action="store_true", help=_("print everything as one JSON object (for fleets)")
    )

    demo = sub.add_parser(
        "demo",
        help=_("see it work against a stand-in server on this machine (nothing of yours is used)"),
    )
    demo.add_argument(
        "--away-after",
        type=_positive,
        default=5.0,
        metavar="SECONDS",
        help=_("seconds without input before the demo sets you away (default: %(default)g)"),
    )
    demo.add_argument(
        "--duration",
        type=_positive,
        metavar="SECONDS",
        help=_("stop after this long (default: until Ctrl-C; the simulated day ends by itself)"),
    )
    demo.add_argument(
        "--simulate",
        action="store_true",
        help=_("play the simulated day even where a display exists (it is what runs without one)"),
    )

    preset = sub.add_parser(
        "preset",
        help=_("(administrators) preset settings for every user of this computer"),
        description=_(
            "Write settings into the system-wide preset file (for every user of this"
            " computer; needs administrator rights), or with --user into your own file. Installers"
            " call it (the Windows installer's /SERVER=). See docs/rollout.md."
        ),
    )
    preset.add_argument(
        "--server", metavar="URL", help=_("the Libredesk address (a bare host means https://)")
    )
    preset.add_argument(
        "--away-after",
        type=_positive,
        metavar="SECONDS",
        help=_("seconds without input before away"),
    )
    preset.add_argument(
        "--stop-assignments-after",
        type=_seconds_or_never,
        metavar="SECONDS",
        help=_("seconds without input before no new conversations (real Libredesk; 0 = never)"),
    )
    preset.add_argument(
        "--reassign-after",
        type=_seconds_or_never,
        metavar="SECONDS",
        help=_("seconds without input before conversations go back to the team (0 = never)"),
    )
    preset.add_argument(
        "--lock",
        action="append",
        default=[],
        metavar="KEY",
        help=_("a key users cannot change in their own file (repeat for more), e.g. server"),
    )
    preset.add_argument(
        "--user", action="store_true", help=_("write your own config file instead of the preset")
    )

    pause = sub.add_parser("pause", help=_("pause idle detection in the running agent"))
    pause.add_argument(
        "minutes", nargs="?", type=float, help=_("for this many minutes (default: until resume)")
    )
    sub.add_parser("resume", help=_("resume idle detection in the running agent"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else list(argv)
    from presence_agent import coredump, credentials, quiet

    # First: any command may hold the secret (the agent, its keyring helper, login...).
    coredump.forbid_core_dumps()
    quiet.install()  # library warnings go to the log, not the terminal
    if args_list[:1] == [credentials.HELPER_COMMAND]:
        # The running agent's keyring calls (credentials.KeyringHelper): not for
        # people, so not in the help.
        return credentials.helper_main(sys.stdin, sys.stdout)
    if args_list[:1] == [SIGNIN_DIALOG_COMMAND]:
        from presence_agent import signin_dialog

        return signin_dialog.main(args_list[1:], translator())
    tr = translator()
    parser = build_parser(tr)
    args = parser.parse_args(args_list)
    command = args.command or "run"
    if args.command is None:
        args = parser.parse_args(["run"])
    handler = _COMMANDS[command]
    try:
        return int(handler(args, tr))
    except KeyboardInterrupt:
        return 130


def translator(env: Mapping[str, str] | None = None) -> Translator:
    """The person's language, chosen once here at the entry and passed to every command.

    The ``language`` config key, else the environment, else the OS's UI language
    (presence_agent/i18n.py). A config that cannot be read says so in its own command;
    the words then follow the desktop.
    """
    import os

    from presence_agent import config, i18n
    from presence_agent.paths import Paths
    from presence_agent.uilang import system_languages

    try:
        configured: str | None = config.load(Paths.default(runtime_dir=False)).language
    except (config.ConfigError, OSError):
        configured = None
    return i18n.translator_for(configured, os.environ if env is None else env, system_languages)


# -- commands ---------------------------------------------------------------------


def _fail(message: str, code: int = Exit.FAILED, out: TextIO | None = None) -> int:
    print(f"presence-agent: {message}", file=out or sys.stderr)
    return code


def _paths() -> Any:
    from presence_agent.paths import Paths

    return Paths.default()


def login_hint(paths: Any, tr: Translator = ENGLISH) -> str:
    """The login command to run, as written: without ``--server`` when one is configured."""
    from presence_agent import config

    try:
        server = config.load(paths).server
    except config.ConfigError:
        server = None
    # A command as written: its words are the program's, only the placeholder is a person's.
    key = tr._("KEY")
    if server:
        return f"presence-agent login --api-key {key}"
    return f"presence-agent login --server https://desk.example.com --api-key {key}"


def cmd_login(args: argparse.Namespace, tr: Translator = ENGLISH) -> int:
    from presence_agent import control
    from presence_agent.signin import SignInError, check_input, sign_in

    paths = _paths()
    try:
        # Offline checks first, so a typo costs no secret prompt.
        check_input(
            paths,
            args.server,
            args.api_key,
            allow_insecure_http=args.allow_insecure_http,
            tr=tr,
        )
        secret = _read_secret(args.api_secret_stdin, tr)
        if secret is None:
            return _fail(
                tr._("no API secret: type it at the prompt, or pipe it in with --api-secret-stdin"),
                Exit.USAGE,
            )
        summary = sign_in(
            paths,
            args.server,
            args.api_key,
            secret,
            args.auth,
            args.allow_insecure_http,
            args.ca_bundle,
            tr=tr,
        )
    except SignInError as exc:
        return _fail(str(exc), Exit.USAGE if exc.usage else Exit.FAILED)
    with contextlib.suppress(control.NotRunning):
        control.ask(paths, {"cmd": "reload"}, timeout=3)
    print(summary)
    return Exit.OK


def _read_secret(from_stdin: bool, tr: Translator = ENGLISH) -> str | None:
    if from_stdin:
        line = sys.stdin.readline()
        secret = line.rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            return None
        import getpass

        secret = getpass.getpass(tr._("API secret: "))
    return secret or None


class _CommandError(Exception):
    """A command cannot go on; the text is for a person, ``code`` from the table."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _configured_client(paths: Any, tr: Translator = ENGLISH) -> Any:
    """A client from the stored config and keyring, and the config."""
    from presence_agent import config
    from presence_agent.client import LibredeskClient, LibredeskError, make_ssl_context
    from presence_agent.credentials import Credentials, KeyringUnavailable

    try:
        cfg = config.load(paths)
    except config.ConfigError as exc:
        raise _CommandError(exc.render(tr), Exit.USAGE) from None
    if not cfg.server or not cfg.api_key:
        words = tr._("not signed in: run `{command}`").format(command=login_hint(paths, tr))
        raise _CommandError(words, Exit.SIGNED_OUT)
    try:
        secret = Credentials().get(cfg.server, cfg.api_key)
    except KeyringUnavailable as exc:
        raise _CommandError(str(exc), Exit.FAILED) from None
    if not secret:
        words = tr._("signed out (no API secret stored for {server}): run `{command}`")
        raise _CommandError(
            words.format(server=cfg.server, command=login_hint(paths, tr)), Exit.SIGNED_OUT
        )
    try:
        client = LibredeskClient(
            cfg.server, cfg.api_key, secret, auth=cfg.auth, verify=make_ssl_context(cfg.ca_bundle)
        )
    except LibredeskError as exc:  # a CA bundle broken since the config was read
        raise _CommandError(exc.render(tr), Exit.FAILED) from None
    return client, cfg


def _with_client(paths: Any, action: Any, tr: Translator = ENGLISH) -> int:
    from presence_agent.client import LibredeskError

    try:
        client, cfg = _configured_client(paths, tr)
    except _CommandError as exc:
        return _fail(str(exc), exc.code)
    try:
        with client:
            result: int = action(client, cfg)
            return result
    except LibredeskError as exc:
        return _fail(exc.render(tr))
    except OSError as exc:  # an unreadable CA bundle
        return _fail(f"{cfg.server}: {exc.strerror or exc}")


def _refused(answer: dict[str, Any], tr: Translator, default: str) -> str:
    """The running agent's refusal for a person: its "busy" (an English protocol word) in
    their language, else its message, else ``default``."""
    from presence_agent import control

    if answer.get("busy") is True:
        return tr._(control.BUSY)
    return str(answer.get("message") or default)


def _running(paths: Any, payload: dict[str, Any], timeout: float = 3) -> dict[str, Any] | None:
    """The running agent's answer, or ``None`` when no agent runs."""
    from presence_agent import control

    try:
        return control.ask(paths, payload, timeout=timeout)
    except control.NotRunning:
        return None


def cmd_logout(args: argparse.Namespace, tr: Translator = ENGLISH) -> int:
    """Like the tray's Sign out: offline first (briefly bounded), then remove the secret."""
    from presence_agent.signin import SignInError, sign_out

    paths = _paths()
    answer = _running(paths, {"cmd": "sign_out"}, timeout=15)
    if answer is not None:
        if not answer.get("ok"):
            message = _refused(answer, tr, tr._("sign out failed"))
            return _fail(message, _answer_code(answer))
        print(answer.get("message") or tr._("Signed out."))
        return Exit.OK
    went_offline = _offline_directly(paths, tr)
    try:
        summary = sign_out(paths, tr=tr)
    except SignInError as exc:
        return _fail(str(exc), Exit.USAGE if exc.usage else Exit.FAILED)
    if went_offline is not None:
        print(went_offline)
    print(summary)
    return Exit.OK


def _offline_directly(paths: Any, tr: Translator = ENGLISH) -> str | None:
    """With no agent running: tell the server ``offline`` before the secret goes.

    Best effort, bounded: a server that cannot be reached must not keep the
    person from signing out. Returns a line to print, or ``None`` when there
    was nothing to do (not signed in, already offline).
    """
    from presence_agent.client import LibredeskError
    from presence_agent.events import Desired
    from presence_agent.vocab import Source, Status

    try:
        client, cfg = _configured_client(paths, tr)
    except _CommandError:
        return None
    try:
        with client:
            agent = _learn_dialect(client, cfg, timeout=5)
            if client.read_status(agent.status_word).status is Status.OFFLINE:
                return None
            client.set_status(Desired(Status.OFFLINE, Source.USER), timeout=5)
    except (LibredeskError, OSError, ValueError) as exc:
        words = tr._("could not set you offline first ({problem}); signing out anyway")
        problem = exc.render(tr) if isinstance(exc, LibredeskError) else exc
        print(f"presence-agent: {words.format(problem=problem)}", file=sys.stderr)
        return None
    return tr._("Set offline.")


def cmd_run(args: argparse.Namespace, tr: Translator = ENGLISH) -> int:
    from presence_agent import app

    if args.start_delay > 0:
        from presence_agent import autostart

        # At login: wait for the tray host, but not a moment longer than needed.
        autostart.start_delay(min(args.start_delay, 600))
    overrides = {
        "away_after": args.away_after,
        "stop_assignments_after": args.stop_assignments_after,
        "reassign_after": args.reassign_after,
        "keepalive_interval": args.keepalive_interval,
    }
    return app.run(_paths(), overrides, tray=not args.no_tray, tr=tr)


def cmd_set(args: argparse.Namespace, tr: Translator = ENGLISH) -> int:
    from presence_agent.vocab import Status

    word = _STATUS_WORDS.get(args.status.strip().lower())
    if word is None:
        words = tr._("unknown status {status}; use one of: {choices}")
        return _fail(
            words.format(status=repr(args.status[:40]), choices=tr._(SET_CHOICES)), Exit.USAGE
        )
    status = Status(word)
    try:
        until = _timer_end(args, status, tr)
    except ValueError as exc:
        return _fail(str(exc), Exit.USAGE)
    paths = _paths()
    if until is not None:
        return _set_timed(paths, status, until, tr)
    answer = _running(paths, {"cmd": "set", "status": status.value}, timeout=20)
    if answer is None:
        return _set_directly(paths, status, None, tr)
    if not answer.get("ok"):
        return _fail(_refused(answer, tr, tr._("failed")), _answer_code(answer))
    message = str(answer.get("message") or tr._("done"))
    print(f"{message[:1].upper()}{message[1:]}.")
    return Exit.OK


def _answer_code(answer: dict[str, Any]) -> int:
    """The exit code for a refusal from the running agent."""
    codes = {"signed_out": Exit.SIGNED_OUT, "usage": Exit.USAGE}
    return codes.get(str(answer.get("code")), Exit.FAILED)


def _timer_end(args: argparse.Namespace, status: Any, tr: Translator = ENGLISH) -> float | None:
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
            tr._(
                "{option}: a timed status ends in Available, so 'available {option}' would"
                " change nothing; choose busy, away, reassign or offline"
            ).format(option=option)
        )
    try:
        if args.for_ is not None:
            return time.time() + parse_duration(args.for_, tr)
        tz = local_timezone()
        return parse_until(args.until, datetime.now(tz), tz, tr).timestamp()
    except ValueError as exc:
        raise ValueError(f"{option}: {exc}") from None


def _until_text(until: float, tr: Translator = ENGLISH) -> str:
    """``13:00 (in 42 min)``, ``tomorrow 09:00 (in 16 h)``: the day shown when not today."""
    from datetime import datetime

    from presence_agent.schedule import local_timezone
    from presence_agent.timespec import format_clock, format_span

    tz = local_timezone()
    now = datetime.now(tz)
    end = datetime.fromtimestamp(until, tz)
    return tr._("{time} (in {span})").format(
        time=format_clock(end, now, tz, tr), span=format_span(until - now.timestamp(), tr)
    )


def _set_timed(paths: Any, status: Any, until: float, tr: Translator = ENGLISH) -> int:
    request = {"cmd": "set_timed", "status": status.value, "until": until, "set_by": "cli"}
    answer = _running(paths, request, timeout=20)
    if answer is None:
        return _set_directly(paths, status, until, tr)
    if not answer.get("ok"):
        message = _refused(answer, tr, tr._("failed"))
        if message.startswith("unknown command"):  # an older agent's (English) answer
            message = tr._("the running agent cannot time a status: restart it (it is older)")
        return _fail(message, _answer_code(answer))
    if answer.get("queued") or answer.get("status") != status.value:
        message = str(answer.get("message") or tr._("done"))
        print(f"{message[:1].upper()}{message[1:]}.")
        return Exit.OK if answer.get("queued") else Exit.FAILED
    words = tr._("{status} until {end}.")
    print(words.format(status=tr._(status.label), end=_until_text(until, tr)))
    return Exit.OK


def _set_directly(
    paths: Any, status: Any, until: float | None = None, tr: Translator = ENGLISH
) -> int:
    from presence_agent.events import Desired, TimedStatus
    from presence_agent.timers import AgendaStore, Kept
    from presence_agent.vocab import Source, UnsupportedStatusError

    def action(client: Any, cfg: Any) -> int:
        _learn_dialect(client, cfg)
        try:
            server = client.set_status(Desired(status, Source.USER))
        except UnsupportedStatusError as exc:
            return _fail(str(exc), Exit.USAGE)
        now = tr._(server.status.label)
        if server.status is not status:
            words = tr._("Asked for {asked}; the server keeps {status}.")
            print(words.format(asked=tr._(status.label), status=now))
            return Exit.FAILED
        store = AgendaStore(paths.state_dir)
        if until is None:
            store.save(Kept())  # a person's choice replaces any timer, and is nobody else's
            print(tr._("Now {status}.").format(status=now))
            return Exit.OK
        # Kept for the agent, which ends it when it next runs (at once if already due).
        store.save(Kept(TimedStatus(status, until, time.time(), "cli")))
        words = tr._(
            "Now {status}, until {end}. The agent is not"
            " running: start it to have the status end by itself."
        )
        print(words.format(status=now, end=_until_text(until, tr)))
        return Exit.OK

    return _with_client(paths, action, tr)


def _learn_dialect(client: Any, cfg: Any, timeout: float | None = None) -> Any:
    from presence_agent.vocab import Dialect

    agent = client.me(timeout=timeout)
    if cfg.dialect == "auto":
        client.detect_dialect(agent, timeout=timeout)
    else:
        client.dialect = Dialect(cfg.dialect)
    return agent


def cmd_status(args: argparse.Namespace, tr: Translator = ENGLISH) -> int:
    from presence_agent.client import LibredeskError

    paths = _paths()
    running = _running(paths, {"cmd": "status"})
    try:
        client, cfg = _configured_client(paths, tr)
    except _CommandError as exc:
        if running is not None:
            _print_running(running, tr)
        return _fail(str(exc), exc.code)
    try:
        with client:
            agent = _learn_dialect(client, cfg)
            server = client.read_status(agent.status_word)
    except (LibredeskError, OSError) as exc:
        # The running agent's view on stdout; the one line of what went wrong on stderr.
        from presence_agent.client import Unreachable

        if running is not None:
            words = (
                tr._("{status} (the running agent's view; the server is unreachable)")
                if isinstance(exc, Unreachable)
                else tr._("{status} (the running agent's view; the server is not answering usably)")
            )
            print(words.format(status=running.get("label")))
            _print_running(running, tr)
            print("  " + tr._("version: {version}").format(version=f"presence-agent {__version__}"))
        if isinstance(exc, LibredeskError):
            problem = exc.render(tr)
        else:
            problem = exc.strerror if exc.strerror else str(exc)
        return _fail(problem if cfg.server in problem else f"{cfg.server}: {problem}")
    from presence_agent.events import Why
    from presence_agent.status_text import REASONS

    name = tr._(server.status.label)
    if server.by_idle is True:
        name = tr._("{status} ({reason})").format(status=name, reason=tr._(REASONS[Why.IDLE]))
    elif server.by_idle is False:
        name = tr._("{status} ({reason})").format(status=name, reason=tr._(REASONS[Why.MANUAL]))
    from presence_agent.routing import meaning, word_of

    # What it means for customers on a real server (docs/libredesk.md), as the tray says it.
    meant = meaning(word_of(server.status, server.by_idle), client.dialect)
    print(name + (f" · {tr._(meant)}" if meant else ""))
    who = agent.name or agent.email or tr._("agent #{id}").format(id=agent.id)
    words = tr._("server: {server} ({dialect} dialect), agent: {who}")
    print("  " + words.format(server=cfg.server, dialect=client.dialect.value, who=who))
    if running is None:
        print("  " + tr._("agent: not running (start it with `presence-agent run`)"))
        from presence_agent.timers import AgendaStore

        kept = AgendaStore(paths.state_dir).load().timer
        if kept is not None:
            words = tr._("timer: {status} until {end}, ended by the agent when it runs")
            print(
                "  " + words.format(status=tr._(kept.status.label), end=_until_text(kept.until, tr))
            )
    else:
        _print_running(running, tr)
    print("  " + tr._("version: {version}").format(version=f"presence-agent {__version__}"))
    return Exit.OK


def _print_running(running: dict[str, Any], tr: Translator = ENGLISH) -> None:
    label = running.get("label")
    held = running.get("held_by")
    if running.get("paused"):
        words = tr._("agent: running, shows {status} - idle detection paused")
    elif held and "in use" in str(held):
        words = tr._("agent: running, shows {status} - in a call ({what})")
    elif held:
        words = tr._("agent: running, shows {status} - {what}")
    else:
        words = tr._("agent: running, shows {status}")
    line = words.format(status=label, what=tr._(str(held)) if held else held)
    if running.get("problem"):
        line = f"{line} - {running['problem']}"
    print(f"  {line}")
    queued = _status_or_none(running.get("pending"))
    if queued is not None:
        if running.get("connected"):
            words = tr._("asked for: {status}, waiting for the server's answer")
        else:
            words = tr._("asked for: {status}, to be sent when connected to the server")
        print("  " + words.format(status=tr._(queued.label)))
    for line in _agenda_lines(running.get("agenda"), tr):
        print(f"  {line}")


def _status_or_none(word: object) -> Status | None:
    """The :class:`~presence_agent.vocab.Status` named ``word``, if it names one."""
    from presence_agent.vocab import Status

    try:
        return Status(word) if word else None
    except ValueError:
        return None


def _agenda_lines(agenda: Any, tr: Translator = ENGLISH) -> list[str]:
    """``timer: Away · back at 13:00 (in 42 min)``, ``working hours: Off shift · starts 09:00``."""
    from presence_agent.events import AgendaView, TimedStatus
    from presence_agent.schedule import local_timezone
    from presence_agent.shift_text import back_at, off_shift
    from presence_agent.vocab import Status

    if not isinstance(agenda, dict):
        return []
    timer = agenda.get("timer")
    try:
        timed = (
            None
            if not isinstance(timer, dict)
            else TimedStatus(Status(timer["status"]), float(timer["until"]), 0.0)
        )
        view = AgendaView(
            timer=timed,
            scheduled=bool(agenda.get("scheduled")),
            on_shift=bool(agenda.get("on_shift", True)),
            next_start=_float_or_none(agenda.get("next_start")),
        )
    except (KeyError, TypeError, ValueError):
        return []
    tz = local_timezone()
    now = time.time()
    lines = []
    if view.timer is not None:
        lines.append(
            tr._("timer: {status} · {back}").format(
                status=tr._(view.timer.status.label), back=back_at(view, now, tz, tr)
            )
        )
    shift = off_shift(view, now, tz, tr)
    if view.scheduled:
        lines.append(tr._("working hours: {shift}").format(shift=shift or tr._("on shift")))
    return lines


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def cmd_autostart(args: argparse.Namespace, tr: Translator = ENGLISH) -> int:
    from presence_agent import autostart

    return autostart.cli(args.action, sys.stdout, tr=tr)


def cmd_doctor(args: argparse.Namespace, tr: Translator = ENGLISH) -> int:
    from presence_agent import doctor

    return doctor.run(_paths(), sys.stdout, as_json=args.json, tr=tr)


def cmd_demo(args: argparse.Namespace, tr: Translator = ENGLISH) -> int:
    from presence_agent import demo

    return demo.run(
        away_after=args.away_after,
        duration=args.duration,
        out=sys.stdout,
        simulate=True if args.simulate else None,
        tr=tr,
    )


def cmd_preset(args: argparse.Namespace, tr: Translator = ENGLISH) -> int:
    from presence_agent import config
    from presence_agent.urls import InsecureURL, normalize_server_url

    paths = _paths()
    changes: dict[str, Any] = {}
    if args.server is not None:
        try:
            changes["server"] = normalize_server_url(
                args.server, opt_in=tr._("write allow_insecure_http = true into the file yourself")
            )
        except InsecureURL as exc:
            return _fail(str(exc), Exit.USAGE)
    if args.away_after is not None:
        changes["away_after"] = args.away_after
    steps = {
        key: value
        for key, value in (
            ("stop_assignments_after", args.stop_assignments_after),
            ("reassign_after", args.reassign_after),
        )
        if value is not None
    }
    changes.update(steps)
    if args.lock:
        if args.user:
            return _fail(
                tr._("--lock is for the system-wide preset only (leave out --user)"), Exit.USAGE
            )
        changes[config.LOCKED_KEY] = sorted(set(args.lock))
    if not changes:
        return _fail(
            tr._("nothing to preset: add --server URL, --away-after S or --lock KEY"), Exit.USAGE
        )
    if args.user:
        target = paths.config_file
    elif paths.site_config_files:
        target = paths.site_config_files[0]
    else:  # pragma: no cover - platformdirs always names one
        return _fail(tr._("this system has no place for presets"), Exit.FAILED)
    try:
        if "away_after" in changes or steps:
            # The steps' order as the file will hold them (docs/libredesk.md), named by flag.
            held = config.read_file(target, allow_locks=not args.user)
            plan = {key: held[key] for key in config.PLAN_KEYS if key in held}
            plan.update({key: changes[key] for key in config.PLAN_KEYS if key in changes})
            flags: dict[str, config.Where] = {
                key: f"--{key.replace('_', '-')}" for key in plan if key in changes
            }
            flags.update({key: config.key_in(target, key) for key in plan if key not in changes})
            config.check_plan(config.plan_defaults(config.Config(**plan), set(plan)), flags)
        config.update_file(target, changes, system=not args.user)
    except config.ConfigError as exc:
        return _fail(exc.render(tr), Exit.USAGE)
    except PermissionError:
        words = tr._(
            "cannot write {file}: presets for every user need administrator rights"
            " (sudo on Linux and macOS, an administrator prompt on Windows), or add --user"
        )
        return _fail(words.format(file=target), Exit.FAILED)
    except OSError as exc:
        words = tr._("cannot write {file}: {problem}")
        return _fail(words.format(file=target, problem=exc.strerror or exc), Exit.FAILED)
    shown = ", ".join(f"{key} = {value!r}" for key, value in changes.items())
    print(tr._("Wrote {settings} to {file}.").format(settings=shown, file=target))
    return Exit.OK


def _control_simple(payload: dict[str, Any], done: str, tr: Translator = ENGLISH) -> int:
    paths = _paths()
    answer = _running(paths, payload, timeout=5)
    if answer is None:
        return _fail(
            tr._("presence-agent is not running: start it with `presence-agent run`"),
            Exit.NOT_RUNNING,
        )
    if not answer.get("ok"):
        return _fail(_refused(answer, tr, tr._("failed")), _answer_code(answer))
    print(done)
    return Exit.OK


def cmd_pause(args: argparse.Namespace, tr: Translator = ENGLISH) -> int:
    if args.minutes is not None and not 0 < args.minutes <= 7 * 24 * 60:
        return _fail(tr._("minutes must be more than 0 and at most a week (10080)"), Exit.USAGE)
    seconds = None if args.minutes is None else args.minutes * 60
    if args.minutes is None:
        done = tr._("Idle detection paused until `presence-agent resume`.")
    elif float(args.minutes).is_integer():
        n = int(args.minutes)
        done = tr.ngettext(
            "Idle detection paused for {n} minute.", "Idle detection paused for {n} minutes.", n
        ).format(n=n)
    else:
        # A fraction takes the plural in every shipped language (1.5 minutes, 1,5 Minuten).
        done = tr.ngettext(
            "Idle detection paused for {n} minute.", "Idle detection paused for {n} minutes.", 2
        ).format(n=f"{args.minutes:g}")
    return _control_simple({"cmd": "pause", "seconds": seconds}, done, tr)


def cmd_resume(args: argparse.Namespace, tr: Translator = ENGLISH) -> int:
    return _control_simple({"cmd": "resume"}, tr._("Idle detection resumed."), tr)


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
    "preset": cmd_preset,
    "resume": cmd_resume,
}
