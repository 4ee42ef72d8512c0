"""No word reaches a person untranslated: everything is rendered through a pseudo-language.

The pseudo catalog, made here at test time, turns every message into ``⟦message⟧``. The
tray's menu, first line, tooltip and notifications, the status words, the timers and
shifts, the agenda's notices, ``doctor``'s report and the CLI's help are rendered through
it for many states; after every ``⟦...⟧`` is taken out, what is left may hold values
(times, numbers, the server's URL, a file's path, command lines as written) but no word.
A word left over is a string some code shows without passing it through its Translator.
"""

from __future__ import annotations

import argparse
import gettext
import io
import json
import re
from dataclasses import fields, replace
from datetime import timezone
from pathlib import Path

import httpx
import pytest

from presence_agent import cli, doctor
from presence_agent.agenda import Held, extend_action
from presence_agent.client import LibredeskClient, LibredeskError
from presence_agent.config import Config
from presence_agent.events import AgendaView, Snapshot, TimedStatus, Why
from presence_agent.i18n import Translator
from presence_agent.paths import Paths
from presence_agent.shift_text import status_line as shift_line
from presence_agent.shift_text import timed_choices
from presence_agent.status_text import headline, routing_headline
from presence_agent.tray._model import (
    Item,
    MenuContext,
    build_menu,
    idle_notice,
    status_line,
    tooltip,
)
from presence_agent.vocab import Dialect, Status, statuses_for
from tests.test_agenda import agenda, at

NOW = 1_780_000_000.0
OPEN, CLOSE = "⟦", "⟧"


class Pseudo(gettext.NullTranslations):
    """Every message marked: ``⟦Away⟧``. Plural forms by English's rule."""

    def gettext(self, message: str) -> str:
        return f"{OPEN}{message}{CLOSE}"

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return self.gettext(msgid1 if n == 1 else msgid2)


PSEUDO = Translator("pseudo", True, Pseudo())


class FieldsPseudo(gettext.NullTranslations):
    """Every literal run between ``{fields}`` marked: ``{where}⟦ must be true or false⟧``.

    :data:`PSEUDO` marks the whole format string, so a parameter filled in lands inside the
    marks whatever it is; this one leaves each parameter outside, where an English word
    passed as a parameter shows."""

    def gettext(self, message: str) -> str:
        parts = re.split(r"(\{[^{}]*\})", message)
        return "".join(
            part if part.startswith("{") or not part.strip() else f"{OPEN}{part}{CLOSE}"
            for part in parts
        )

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return self.gettext(msgid1 if n == 1 else msgid2)


FIELDS_PSEUDO = Translator("pseudo", True, FieldsPseudo())
#: What may stand outside the marks: values, never words.
VALUES = [
    r"https?://[\w.:/-]+",  # the server
    r"(?:/[\w.@-]+)+",  # paths
    r"presence-agent(?: \S+)?",  # the program's name and commands as written
    r"--[\w-]+",  # a flag, as written
]


def unmarked(text: str) -> str:
    """What is left of ``text`` once every ``⟦...⟧`` (nested too) and every value is out."""
    rest = text
    while True:
        stripped = re.sub(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}", " ", rest)
        if stripped == rest:
            break
        rest = stripped
    for value in VALUES:
        rest = re.sub(value, " ", rest)
    return rest


def assert_marked(text: str) -> None:
    words = re.findall(r"[^\W\d_]{2,}", unmarked(text))
    assert not words, f"unmarked words {words} in {text!r}"


def snapshots() -> list[Snapshot]:
    base = Snapshot(
        status=Status.AVAILABLE,
        why=Why.START,
        since_wall=NOW - 600,
        connected=True,
        dialect=Dialect.DOCUMENTED,
    )
    real = replace(base, dialect=Dialect.LIBREDESK, choices=statuses_for(Dialect.LIBREDESK))
    timer = AgendaView(timer=TimedStatus(Status.AWAY, NOW + 42 * 60, NOW - 60))
    off = AgendaView(scheduled=True, on_shift=False, next_start=NOW + 3 * 86400)
    return [
        Snapshot(),
        Snapshot(signed_out=True),
        Snapshot(connected=False),
        base,
        replace(base, status=Status.AWAY, why=Why.IDLE, by_idle=True),
        replace(base, status=Status.AWAY, why=Why.MANUAL),
        replace(base, status=Status.BUSY, why=Why.ELSEWHERE),
        replace(base, status=Status.AWAY, why=Why.LOCKED, by_idle=True),
        replace(base, status=Status.AWAY, why=Why.SLEEP, by_idle=True),
        replace(base, status=Status.OFFLINE, why=Why.SHIFT_END),
        replace(base, paused=True),
        replace(base, paused=True, paused_until_wall=NOW + 1800),
        replace(base, held_by="microphone in use"),
        replace(base, held_by="an app holds idle off (GNOME)"),
        replace(base, status=Status.AWAY, why=Why.MANUAL, agenda=timer),
        replace(base, agenda=off),
        replace(base, since_wall=NOW - 30 * 86400),
        real,
        replace(real, status=Status.AWAY, why=Why.IDLE, by_idle=True),
        replace(real, status=Status.AWAY, why=Why.MANUAL),
        replace(real, status=Status.REASSIGNING, why=Why.MANUAL),
    ]


def labels(entries: tuple[object, ...]) -> list[str]:
    found = []
    for entry in entries:
        if isinstance(entry, Item):
            found.append(entry.label)
            found.extend(labels(entry.submenu))
    return found


@pytest.mark.parametrize("snap", snapshots(), ids=lambda s: f"{s.status}-{s.why.value}")
def test_the_tray_and_the_status_words_are_all_translated(snap: Snapshot) -> None:
    utc = timezone.utc
    for can_sign_in in (True, False):
        ctx = MenuContext(
            server_url="https://desk.example.com",
            autostart=True,
            can_sign_in=can_sign_in,
            tz=utc,
            tr=PSEUDO,
        )
        for label in labels(build_menu(snap, ctx, NOW)):
            assert_marked(label)
    assert_marked(status_line(snap, NOW, utc, PSEUDO))
    assert_marked(tooltip(snap, NOW, utc, PSEUDO))
    assert_marked(headline(snap, PSEUDO))
    assert_marked(routing_headline(snap, NOW, PSEUDO))
    assert_marked(shift_line(headline(snap, PSEUDO), snap.agenda, NOW, utc, PSEUDO))
    for choice in timed_choices(snap.agenda, NOW, utc, PSEUDO):
        assert_marked(choice.label)


def test_idle_notifications_are_translated() -> None:
    before = Snapshot(status=Status.AVAILABLE, connected=True, why=Why.IDLE)
    for why in (Why.IDLE, Why.LOCKED, Why.SLEEP):
        after = replace(before, status=Status.AWAY, by_idle=True, why=why)
        for away_after in (45.0, 60.0, 300.0, 7200.0):
            notice = idle_notice(before, after, away_after, PSEUDO)
            assert notice is not None
            assert_marked(notice)
    back = idle_notice(
        replace(before, status=Status.AWAY, by_idle=True),
        replace(before, status=Status.AVAILABLE, why=Why.IDLE),
        300.0,
        PSEUDO,
    )
    assert back is not None
    assert_marked(back)


def test_the_agendas_notices_are_translated() -> None:
    """A working day through the agenda (tests/test_agenda.py's office hours): the shift's
    start, the reminder before its end and the end, each notice marked."""
    hours = agenda(tr=PSEUDO)
    held = Held(Status.OFFLINE, by_idle=False, manual=False)
    seen = []
    for minute in range(7 * 60, 20 * 60, 5):
        change, notices = hours.step(at(9, minute // 60, minute % 60), held, True)
        seen.extend(notices)
        if change is not None:
            held = Held(change.status, by_idle=False, manual=False)
    assert len(seen) >= 2, seen
    for notice in seen:
        assert_marked(notice.title)
        if notice.body:
            assert_marked(notice.body)
    assert_marked(extend_action(PSEUDO)[1])


def test_doctor_and_the_help_are_translated(tmp_path: Path) -> None:
    paths = Paths(
        config_dir=tmp_path / "config",
        state_dir=tmp_path / "state",
        log_dir=tmp_path / "log",
        runtime_dir=tmp_path / "run",
    )
    out = io.StringIO()
    ctx = doctor.Context(paths, environ={}, platform="linux", tr=PSEUDO)
    doctor.run(paths, out, [doctor.check_config, doctor.check_server], context=ctx)
    for line in out.getvalue().splitlines()[1:]:  # the first: the version, no words
        _name, _, rest = line.strip().partition(" = ")
        if rest:  # a setting: its key and value are the config's own words
            continue
        assert_marked(line)
    parser = cli.build_parser(PSEUDO)
    # The top help and each command's. argparse's own words ("usage:", "options:", "show
    # this help message and exit") come from its own catalogs, the command names and
    # METAVARS are the program's: all taken out, with the text's line breaks (argparse
    # wraps the marked help across lines).
    texts = [parser.format_help()]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            texts.extend(sub.format_help() for sub in action.choices.values())
    structure = (
        r"usage:|options:|positional arguments:|show this help message and exit"
        r"|show program's version number and exit|-h, --help"
        r"|\{[\w,|-]+\}|\b[A-Z][A-Z_]+\b|\b(?:login|logout|run|set|status|autostart|doctor"
        r"|demo|preset|pause|resume|enable|disable|action|minutes)\b|--[\w-]+"
    )
    for text in texts:
        assert_marked(re.sub(structure, " ", text.replace("\n", " ")))


#: A config file's own words, which stay as written in every language: a key as quoted
#: (``'away_after'``), the values a key may hold (``"auto"``, ``true``) and a TOML example.
CONFIG_WORDS = (
    r"'[\w-]+'|\"\w+\"|\[\"\w+\"\]|\b(?:true|false)\b|\b(?:en|de|es|fr|pt_BR)\b"
    + r"|\b(?:"
    + "|".join(field.name for field in fields(Config))
    + r")\b"
)


@pytest.mark.parametrize(
    ("user", "site"),
    [
        ('away_after = "soon"', None),
        ("away_after = 0", None),
        ("away_after = true", None),
        ('auth = "kerberos"', None),
        ('language = "not a language"', None),
        ('api_key = "a b"', None),
        ("api_key = 5", None),
        ("stop_assignments_after = -1", None),
        ('holiday = "yes"', None),
        ('locked = ["server"]', None),
        ("", "locked = 5"),
        ("", 'locked = ["holiday"]'),
        ('ca_bundle = "/nonexistent/ca.pem"', None),
    ],
)
def test_a_config_error_is_translated(tmp_path: Path, user: str, site: str | None) -> None:
    from presence_agent import config

    site_dir = tmp_path / "site"
    paths = Paths(
        config_dir=tmp_path / "config",
        state_dir=tmp_path / "state",
        log_dir=tmp_path / "log",
        runtime_dir=tmp_path / "run",
        site_config_dirs=(site_dir,) if site is not None else (),
    )
    paths.config_dir.mkdir()
    paths.config_file.write_text(user + "\n")
    if site is not None:
        site_dir.mkdir()
        (site_dir / "config.toml").write_text(site + "\n")
    with pytest.raises(config.ConfigError) as caught:
        config.load_layers(paths)
    # Each literal run marked on its own, so a parameter that is English words (not a
    # message of its own) stands outside every mark.
    shown = caught.value.render(FIELDS_PSEUDO)
    assert_marked(re.sub(CONFIG_WORDS, " ", shown))
    # The English, for logs, is the same words unmarked.
    assert str(caught.value) == shown.replace(OPEN, "").replace(CLOSE, "")


KEY, SECRET = "agent-key", "s3cr3t-Canary"


def _failing_client(answer: httpx.Response) -> LibredeskClient:
    return LibredeskClient(
        "https://desk.example", KEY, SECRET, transport=httpx.MockTransport(lambda _r: answer)
    )


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500),
        httpx.Response(503, headers={"Retry-After": "30"}),
        httpx.Response(401),
        httpx.Response(403),
        httpx.Response(429),
        httpx.Response(404),
        httpx.Response(422),
        httpx.Response(200, text="<html>portal</html>"),
        httpx.Response(200, json={"status": "error"}),
        httpx.Response(200, json={"status": "success", "data": 5}),
    ],
)
def test_a_server_error_is_translated(answer: httpx.Response) -> None:
    with _failing_client(answer) as client, pytest.raises(LibredeskError) as caught:
        client.me()
    shown = caught.value.render(FIELDS_PSEUDO)
    assert_marked(shown)
    assert str(caught.value) == shown.replace(OPEN, "").replace(CLOSE, "")


def test_an_unreachable_server_is_translated() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    client = LibredeskClient(
        "https://desk.example", KEY, SECRET, transport=httpx.MockTransport(refuse)
    )
    with client, pytest.raises(LibredeskError) as caught:
        client.me()
    # The OS's reason ("Connection refused") is a parameter: its own words, as given.
    shown = caught.value.render(FIELDS_PSEUDO).replace("Connection refused", " ")
    assert_marked(shown)


def test_a_translated_server_error_is_redacted_too() -> None:
    """The server's message is a parameter from outside: its secret is cleaned in the
    translated text as in the English (both pass the client's redaction)."""
    answer = httpx.Response(500, json={"message": f"db down; auth was {KEY}:{SECRET}"})
    with _failing_client(answer) as client, pytest.raises(LibredeskError) as caught:
        client.me()
    for text in (str(caught.value), caught.value.render(FIELDS_PSEUDO)):
        assert SECRET not in text
        assert "db down" in text


def test_the_running_agents_busy_answer_is_translated() -> None:
    from presence_agent.control import BUSY_ANSWER

    answer = json.loads(BUSY_ANSWER)
    assert_marked(cli._refused(answer, PSEUDO, PSEUDO._("failed")))
