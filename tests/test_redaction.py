"""The one redaction point (presence_agent/redaction.py), and the paths that go through it:
the REST client (against httpx.MockTransport servers that echo what they were sent), the
engine's published problems, doctor's lines and the log filter."""

from __future__ import annotations

import base64
import io
import logging
from urllib.parse import quote, quote_plus

import httpx
import pytest

from presence_agent import doctor
from presence_agent.client import LibredeskClient, LibredeskError
from presence_agent.events import Desired
from presence_agent.logs import Redactor as LogRedactor
from presence_agent.paths import Paths
from presence_agent.redaction import REDACTED, Redactor, printable, secret_forms
from presence_agent.vocab import Source, Status

KEY = "canary-key"
#: Characters that change under base64 and URL encoding, a colon, and non-ASCII.
SECRET = "Canary+s3cr:t/x=y&z-ü"
ESCAPES = "\x1b]0;owned\x07\x1b[2J\u202e"


def every_form() -> list[str]:
    pair = f"{KEY}:{SECRET}"
    return [
        SECRET,
        pair,
        base64.b64encode(pair.encode()).decode(),
        base64.b64encode(SECRET.encode()).decode(),
        quote(SECRET, safe=""),
        quote_plus(SECRET),
        quote(pair, safe=""),
        f"token {pair}",
        f"Basic {base64.b64encode(pair.encode()).decode()}",
    ]


def assert_clean(text: str) -> None:
    for form in every_form():
        assert form not in text, (form, text)
    for part in ("s3cr", "\x1b", "\x07", "\u202e"):
        assert part not in text, (part, text)


# -- the pure part ----------------------------------------------------------------------------


@pytest.mark.parametrize("form", every_form())
def test_every_form_the_agent_sends_is_redacted(form: str) -> None:
    redactor = Redactor.for_credentials(KEY, SECRET)
    text = redactor.clean(f"the server said: {form} (end)")
    assert_clean(text)
    assert REDACTED in text
    assert text.startswith("the server said: ")
    assert text.endswith(" (end)")


def test_a_pair_goes_whole_not_as_a_key_next_to_a_redaction() -> None:
    assert Redactor.for_credentials(KEY, SECRET).clean(f"{KEY}:{SECRET}") == REDACTED


def test_forms_of_an_empty_secret_are_none() -> None:
    assert secret_forms(KEY, "") == frozenset()
    assert Redactor.for_credentials(KEY, "").clean("canary-key stays") == "canary-key stays"


def test_control_characters_are_replaced_and_printable_unicode_kept() -> None:
    shown = printable(f"Zoë 山田 🙂{ESCAPES}\ttab\nline\x00nul\x9bcsi")
    assert shown == "Zoë 山田 🙂\ufffd]0;owned\ufffd\ufffd[2J\ufffd tab line\ufffdnul\ufffdcsi"
    assert printable("a\nb", multiline=True) == "a\nb"
    assert printable("no\xa0break") == "no break"


def test_a_secret_split_by_a_line_break_is_still_found() -> None:
    redactor = Redactor.for_credentials(None, "two words")
    assert redactor.clean("x two\nwords y") == f"x {REDACTED} y"


def test_secrets_added_later_are_redacted_too() -> None:
    redactor = Redactor()
    assert redactor.clean(SECRET) == printable(SECRET)
    redactor.add(SECRET, KEY)
    assert_clean(redactor.clean(" ".join(every_form())))


def test_the_log_filter_redacts_every_form_and_escapes() -> None:
    redactor = LogRedactor()
    redactor.add(SECRET, KEY)
    logger = logging.getLogger("test-redaction")
    logger.propagate = False
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(redactor)
    logger.addHandler(handler)
    try:
        logger.warning("server: %s%s", every_form()[2], ESCAPES)
        try:
            raise ValueError(f"{every_form()[8]}{ESCAPES}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert_clean(out.getvalue())
    assert out.getvalue().count(REDACTED) == 2
    assert "Traceback" in out.getvalue()


# -- the client: a server that echoes what it was sent ---------------------------------------


def echoed(request: httpx.Request) -> str:
    """What a hostile server echoes: the header, its decoded pair, the secret URL-encoded."""
    header = request.headers["Authorization"]
    scheme, _, value = header.partition(" ")
    decoded = base64.b64decode(value).decode() if scheme == "Basic" else value
    return f"denied {header} ({decoded}, {quote(SECRET, safe='')}){ESCAPES}"


def agent(first_name: str = "Ada", status: str = "online") -> dict[str, object]:
    return {
        "id": 7,
        "first_name": first_name,
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "availability_status": status,
    }


def client_for(answer: httpx.MockTransport, auth: str) -> LibredeskClient:
    return LibredeskClient(
        "https://desk.example.com",
        KEY,
        SECRET,
        auth=auth,  # type: ignore[arg-type]
        transport=answer,
    )


@pytest.mark.parametrize("auth", ["token", "basic"])
@pytest.mark.parametrize("code", [400, 401, 403, 429, 500])
def test_an_echoed_message_is_clean_in_every_error(code: int, auth: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = {"status": "error", "message": echoed(request), "data": None}
        return httpx.Response(code, json=body)

    with client_for(httpx.MockTransport(answer), auth) as client:
        for call in (client.me, lambda: client.set_status(Desired(Status.AWAY, Source.USER))):
            with pytest.raises(LibredeskError) as info:
                call()
            text = str(info.value)
            assert_clean(text)
            assert REDACTED in text
            assert f"{code}" in text


@pytest.mark.parametrize("auth", ["token", "basic"])
def test_an_echoed_name_and_status_word_are_clean(auth: str) -> None:
    def named(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "success", "data": agent(echoed(request))})

    with client_for(httpx.MockTransport(named), auth) as client:
        found = client.me()
    assert_clean(found.name)
    assert REDACTED in found.name
    assert found.name.endswith("Lovelace")

    def worded(request: httpx.Request) -> httpx.Response:
        data = agent(status=echoed(request))
        return httpx.Response(200, json={"status": "success", "data": data})

    with client_for(httpx.MockTransport(worded), auth) as client:
        found = client.me()
        assert_clean(found.status_word)
        with pytest.raises(LibredeskError) as info:
            client.read_status(found.status_word)
        with pytest.raises(LibredeskError) as put:
            client.set_status(Desired(Status.AWAY, Source.USER))
    assert_clean(str(info.value))
    assert_clean(str(put.value))


def test_a_long_message_is_cut_after_redacting_not_before() -> None:
    """Cut first, a secret's head could stay at the end of the shown text."""
    text = "x" * 270 + SECRET

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"status": "error", "message": text})

    with (
        client_for(httpx.MockTransport(answer), "token") as client,
        pytest.raises(LibredeskError) as info,
    ):
        client.me()
    assert "Canary" not in str(info.value)


# -- doctor's lines ---------------------------------------------------------------------------


def test_doctor_cleans_every_line_it_prints(tmp_path) -> None:
    def hostile(ctx: doctor.Context) -> list[doctor.Line]:
        ctx.secret = SECRET
        return [doctor.Line("server", False, f"said {every_form()[7]}{ESCAPES}", SECRET)]

    paths = Paths(
        config_dir=tmp_path / "config",
        state_dir=tmp_path / "state",
        log_dir=tmp_path / "log",
        runtime_dir=tmp_path / "run",
    )
    for as_json in (False, True):
        out = io.StringIO()
        context = doctor.Context(paths, environ={}, platform="linux")
        doctor.run(paths, out, [hostile], context=context, as_json=as_json)
        assert_clean(out.getvalue())
        assert REDACTED in out.getvalue()


# -- the engine: every problem and the name it publishes -------------------------------------


def test_the_engine_publishes_every_outside_text_clean() -> None:
    """What the tray, the control channel and run --no-tray show all come from here."""
    from presence_agent.events import Agent, Connected, SignedOut, Trouble, WorkerFailed
    from presence_agent.vocab import Dialect, ServerStatus
    from tests.fakes import EngineHarness

    echo = f"closed: {every_form()[8]} {every_form()[7]}{ESCAPES}"
    h = EngineHarness(redact=Redactor.for_credentials(KEY, SECRET).clean)
    name = f"Ada {every_form()[2]}{ESCAPES}"
    h.post(
        Connected(Agent(7, "online", name, None), Dialect.LIBREDESK, ServerStatus(Status.AVAILABLE))
    )
    assert_clean(h.snap().agent_name)
    assert h.snap().agent_name.startswith("Ada <redacted>")
    for event in (Trouble(echo), WorkerFailed("keepalive", echo, 1.0), SignedOut(echo)):
        h.post(event)
        problem = h.snap().problem or ""
        assert_clean(problem)
        assert problem.startswith("closed: Basic <redacted> token <redacted>")


def test_without_the_secret_the_engine_still_strips_terminal_escapes() -> None:
    from presence_agent.events import Trouble
    from tests.fakes import EngineHarness

    h = EngineHarness()
    h.post(Trouble(f"down{ESCAPES}"))
    assert h.snap().problem == "down\ufffd]0;owned\ufffd\ufffd[2J\ufffd"
