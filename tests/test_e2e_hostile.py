"""The real agent against a hostile server (tests/libredesk_server.py's echo, trickle and
gzip-bomb faults): what the person sees holds no secret in any form and no terminal escape,
every command ends within its bound, a bomb costs no more than the cap, and the running
agent keeps running and says what is wrong."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from presence_agent import control
from tests import secret_scan
from tests.agent_process import AgentProcess, agent_argv, login, run_cli
from tests.desktop import Input
from tests.libredesk_server import (
    AVAILABILITY_PATH,
    ME_PATH,
    EchoField,
    LibredeskServer,
    TricklePart,
)

pytestmark = pytest.mark.desktop

KEY = "canary-key"
#: The canary: characters that change under base64 and URL encoding, and a colon.
SECRET = secret_scan.register_secret("Canary+s3cr:t/x=y&z", KEY)
AUTHS = ("token", "basic")
CODES = (400, 401, 403, 429, 500)
#: Every CLI command that talks to the server ends within this: its 15 s budget, and
#: start-up and the keyring on a loaded machine (without the budget: never).
CLI_BOUND = 30.0


def forms() -> list[str]:
    pair = f"{KEY}:{SECRET}"
    basic = base64.b64encode(pair.encode()).decode()
    return [SECRET, pair, basic, quote(SECRET, safe=""), quote_plus(SECRET), "s3cr:t"]


def fragments() -> set[str]:
    """Pieces of the secret a cut-off quote would leave, which no redaction can recognise:
    every 7 characters of it, and every 12 of the ``Basic`` value past the key's bytes."""
    pieces = {SECRET[i : i + 7] for i in range(len(SECRET) - 6)}
    basic = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    start = (len(KEY) + 1) // 3 * 4 + 4  # the first base64 group holding only secret bytes
    pieces |= {basic[i : i + 12] for i in range(start, len(basic) - 11)}
    return pieces


def assert_clean(text: str, where: str) -> None:
    secret_scan.record_output(where, text)
    for form in forms():
        assert form not in text, f"{form!r} in {where}:\n{text}"
    for piece in fragments():
        assert piece not in text, f"{piece!r} (part of the secret) in {where}:\n{text}"
    for control_char in ("\x1b", "\x07", "\u202e"):
        assert control_char not in text, f"{control_char!r} in {where}:\n{text}"


def shown(result: subprocess.CompletedProcess[str]) -> str:
    return f"{result.stdout}\n{result.stderr}"


@pytest.fixture(params=AUTHS)
def auth(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(auth: str) -> Iterator[LibredeskServer]:
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as srv:
        yield srv


def sign_in(env: dict[str, str], server: LibredeskServer, auth: str) -> None:
    result = login(env, server.url, KEY, SECRET, "--auth", auth)
    assert result.returncode == 0, shown(result)


def log_text(env: dict[str, str]) -> str:
    root = Path(env["XDG_STATE_HOME"]).parent
    return "\n".join(p.read_text(errors="replace") for p in root.rglob("*.log*") if p.is_file())


# -- 1, 7: an echoed secret, terminal escapes ---------------------------------------------------


def test_an_echoed_secret_never_reaches_the_terminal(
    env: dict[str, str], server: LibredeskServer, auth: str
) -> None:
    sign_in(env, server, auth)
    for code in CODES:
        for argv in (["status"], ["set", "away"], ["doctor"], ["doctor", "--json"]):
            server.inject_echo(ME_PATH, "message", status=code)
            result = run_cli(argv, env, timeout=CLI_BOUND)
            text = shown(result)
            assert_clean(text, f"{argv} after an echoed {code} ({auth})")
            assert result.returncode != 0, (argv, code, text)
            assert "<redacted>" in text, (argv, code, text)
            assert str(code) in text, (argv, code, text)
            if argv[-1] == "--json":
                report = json.loads(result.stdout)
                assert not report["ok"]
        server.inject_echo(ME_PATH, "message", status=code)
        result = login(env, server.url, KEY, SECRET, "--auth", auth)
        assert_clean(shown(result), f"login after an echoed {code} ({auth})")
        assert result.returncode != 0
        assert "<redacted>" in shown(result)
        server.clear_faults()
    # The agent's name and an unknown status word, echoed with a 200.
    for field in ("first_name", "status"):
        for argv in (["status"], ["doctor"], ["doctor", "--json"]):
            server.inject_echo(ME_PATH, field, count=3)
            result = run_cli(argv, env, timeout=CLI_BOUND)
            assert_clean(shown(result), f"{argv} with an echoed {field} ({auth})")
            if field == "first_name" or argv == ["status"]:  # doctor never shows the word
                assert "<redacted>" in shown(result), shown(result)
            server.clear_faults()
        server.inject_echo(ME_PATH, field, count=3)
        result = login(env, server.url, KEY, SECRET, "--auth", auth)
        assert_clean(shown(result), f"login with an echoed {field} ({auth})")
        server.clear_faults()
    assert_clean(log_text(env), "the log files")


def test_every_echo_field_on_both_paths_never_reaches_the_terminal(
    env: dict[str, str], server: LibredeskServer, auth: str
) -> None:
    """The rest of the matrix the test above leaves: the PUT's answer (``set``) echoing in
    each field, ``message`` with every error code and the name and status word in the 200
    answers they can come in, and ``set`` on GET /me's name and word. One real process per
    cell; the client's own handling of each cell is tests/test_redaction.py's."""
    sign_in(env, server, auth)
    cells: list[tuple[str, EchoField, int]] = [
        (AVAILABILITY_PATH, "message", code) for code in CODES
    ]
    cells += [
        (path, field, 200)
        for path in (ME_PATH, AVAILABILITY_PATH)
        for field in ("first_name", "status")
    ]
    for path, field, code in cells:
        server.inject_echo(path, field, status=code, count=3)
        result = run_cli(["set", "away"], env, timeout=CLI_BOUND)
        text = shown(result)
        where = f"set away with {field} echoed in {path}'s {code} ({auth})"
        assert_clean(text, where)
        if field != "first_name":  # the name is not what set prints; a word it cannot read is
            assert result.returncode != 0, (where, text)
            assert "<redacted>" in text, (where, text)
        server.clear_faults()
    assert_clean(log_text(env), f"the log files ({auth})")


def test_the_running_agent_shows_an_echo_clean_everywhere(
    env: dict[str, str], server: LibredeskServer, auth: str, user_input: Input
) -> None:
    sign_in(env, server, auth)
    server.inject_echo(ME_PATH, "message", status=500, count=1000)
    user_input.touch()
    with AgentProcess(["run", "--no-tray"], env) as agent:
        assert agent.wait_output(lambda out: "<redacted>" in out, timeout=20), agent.output()
        # The control channel's answer: what the tray's first line and tooltip render.
        runtime = Path(env["XDG_RUNTIME_DIR"]) / "presence-agent"
        answer = control.request(runtime, {"cmd": "status"}, timeout=5)
        text = json.dumps(answer, ensure_ascii=False)
        assert_clean(text, f"the control channel's status answer ({auth})")
        assert "<redacted>" in (answer.get("problem") or ""), answer
        status = run_cli(["status"], env, timeout=CLI_BOUND)
        assert_clean(shown(status), f"status next to a running agent ({auth})")
        assert "<redacted>" in shown(status)
        server.clear_faults()
        server.inject_echo(ME_PATH, "first_name", count=1000)
        assert server.wait_for_put("online", "user", timeout=30), agent.output()

        def named() -> bool:
            answer = control.request(runtime, {"cmd": "status"}, timeout=5)
            assert_clean(json.dumps(answer, ensure_ascii=False), f"the agent's name ({auth})")
            return "<redacted>" in (answer.get("agent") or "")

        assert server.wait_for(named, timeout=10), agent.output()
        assert agent.terminate() == 0
        assert_clean(agent.output(), f"run --no-tray output ({auth})")
    assert_clean(log_text(env), f"the log files ({auth})")


def test_the_running_agent_shows_an_echoed_status_word_clean(
    env: dict[str, str], server: LibredeskServer, auth: str, user_input: Input
) -> None:
    """A status word it cannot read, echoing the secret, in GET /me's 200: the running agent's
    problem (what the tray renders), its output and ``status`` next to it stay clean."""
    sign_in(env, server, auth)
    server.inject_echo(ME_PATH, "status", count=1000)
    user_input.touch()
    with AgentProcess(["run", "--no-tray"], env) as agent:
        assert agent.wait_output(lambda out: "<redacted>" in out, timeout=20), agent.output()
        runtime = Path(env["XDG_RUNTIME_DIR"]) / "presence-agent"
        answers: list[dict[str, object]] = []

        def problem_shown() -> bool:
            # Polled: between two attempts the agent may be trying again, with no problem.
            answer = control.request(runtime, {"cmd": "status"}, timeout=5)
            assert_clean(json.dumps(answer, ensure_ascii=False), f"the status answer ({auth})")
            answers.append(answer)
            return "<redacted>" in str(answer.get("problem") or "")

        assert server.wait_for(problem_shown, timeout=20), answers[-3:]
        status = run_cli(["status"], env, timeout=CLI_BOUND)
        assert_clean(shown(status), f"status next to an agent reading an echoed word ({auth})")
        assert agent.terminate() == 0
        assert_clean(agent.output(), f"run --no-tray output, echoed word ({auth})")
    assert_clean(log_text(env), f"the log files, echoed word ({auth})")


# -- 3: a trickling server ----------------------------------------------------------------------


@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_trickling_server_bounds_every_command(
    env: dict[str, str], part: TricklePart, user_input: Input
) -> None:
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as server:
        sign_in(env, server, "token")
        # All at once (each one waits out its own budget): the bound is each one's.
        commands = (
            ["status"],
            ["set", "away"],
            ["doctor"],
            ["login", "--server", server.url, "--api-key", KEY, "--api-secret-stdin"],
        )
        server.inject_trickle(ME_PATH, part, interval=2.0, count=len(commands))

        def timed(argv: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
            began = time.monotonic()
            result = subprocess.run(
                [*agent_argv(), *argv],
                env=env,
                input=SECRET + "\n",
                capture_output=True,
                text=True,
                timeout=CLI_BOUND + 30,
                check=False,
            )
            return time.monotonic() - began, result

        with ThreadPoolExecutor(len(commands)) as pool:
            results = list(pool.map(timed, commands))
        for argv, (took, result) in zip(commands, results, strict=True):
            assert_clean(shown(result), f"{argv[0]} against a trickle")
            assert took < CLI_BOUND, (argv, took, shown(result))
            assert result.returncode != 0, (argv, shown(result))
            assert f"{server.url} did not answer in time" in shown(result), (argv, result)
        server.clear_faults()

        # The running agent says so, in the tray's text and in `status`, and keeps going.
        server.inject_trickle(ME_PATH, part, interval=2.0, count=1000)
        user_input.touch()
        with AgentProcess(["run", "--no-tray"], env) as agent:
            said = agent.wait_output(lambda out: "did not answer in time" in out, timeout=40)
            assert said, agent.output()
            runtime = Path(env["XDG_RUNTIME_DIR"]) / "presence-agent"
            answer = control.request(runtime, {"cmd": "status"}, timeout=5)
            assert "did not answer in time" in (answer.get("problem") or ""), answer
            status = run_cli(["status"], env, timeout=CLI_BOUND + 10)
            assert "did not answer in time" in shown(status), shown(status)
            server.clear_faults()
            assert server.wait_for_put("online", "user", timeout=60), agent.output()
            # Quitting while the server trickles the offline answer stays bounded too.
            server.inject_trickle(AVAILABILITY_PATH, part, interval=2.0, count=10)
            started = time.monotonic()
            assert agent.terminate() == 0
            assert time.monotonic() - started < 10


# -- 9: a gzip bomb -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """1 GiB of zeros, gzipped (about 1 MB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (16 << 20)
    parts = [packer.compress(block) for _ in range(64)]
    parts.append(packer.flush())
    data = b"".join(parts)
    assert len(data) < (2 << 20)
    return data


def peak_rss_kib(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """The peak RSS of ``presence-agent ARGV`` (its own, measured by a parent that runs
    only it), and what it printed."""
    probe = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stderr.write(r.stdout + r.stderr)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, *agent_argv(), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(result.stdout.strip()), result.stderr


def test_a_gzip_bomb_costs_no_more_than_the_cap(
    env: dict[str, str], bomb: bytes, user_input: Input
) -> None:
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as server:
        sign_in(env, server, "token")
        baseline, _ = peak_rss_kib(["status"], env)
        for path in (ME_PATH, AVAILABILITY_PATH):
            server.inject_body(path, bomb, headers={"Content-Encoding": "gzip"}, count=5)
        peak, output = peak_rss_kib(["status"], env)
        assert "Libredesk never does" in output, output
        # The cap is 1 MiB; the compressed bomb is about 1 MB more.
        assert peak - baseline < 12 * 1024, (baseline, peak)
        asked = server.requests("GET", ME_PATH)[-1].header("Accept-Encoding")
        assert asked == "identity"
        server.clear_faults()

        # The running agent: a bomb is its problem, its memory stays small, and it goes on.
        server.inject_body(ME_PATH, bomb, headers={"Content-Encoding": "gzip"}, count=3)
        user_input.touch()
        with AgentProcess(["run", "--no-tray"], env) as agent:
            said = agent.wait_output(lambda out: "Libredesk never does" in out, timeout=30)
            assert said, agent.output()
            assert server.wait_for_put("online", "user", timeout=60), agent.output()
            status = Path(f"/proc/{agent.proc.pid}/status").read_text()
            high_water_kib = int(status.split("VmHWM:")[1].split()[0])
            # Expanding the bomb's chunks cost 170 MB before; the agent's own budget is 45 MB.
            assert high_water_kib < 80 * 1024, status
            assert agent.terminate() == 0


# -- 4, 6: a bad ca_bundle, URLs httpx would refuse ---------------------------------------------


def config_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) / "presence-agent" / "config.toml"


@pytest.mark.parametrize("kind", ["missing", "garbage", "directory"])
def test_a_bad_ca_bundle_is_named_never_a_traceback(
    env: dict[str, str], tmp_path: Path, kind: str
) -> None:
    bundle = {"missing": tmp_path / "gone.pem", "directory": tmp_path}.get(
        kind, tmp_path / "garbage.pem"
    )
    if kind == "garbage":
        bundle.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n")
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as server:
        sign_in(env, server, "token")
        with config_file(env).open("a") as file:
            file.write(f'ca_bundle = "{bundle}"\n')
        for argv in (["status"], ["set", "away"], ["doctor"], ["doctor", "--json"], ["run"]):
            result = run_cli([*argv, "--no-tray"] if argv == ["run"] else argv, env)
            text = shown(result)
            assert "Traceback" not in text, (argv, text)
            assert result.returncode != 0, (argv, text)
            assert str(bundle) in text, (argv, text)
            assert "ca_bundle" in text, (argv, text)
            assert str(config_file(env)) in text, (argv, text)
        result = login(env, server.url, KEY, SECRET, "--ca-bundle", str(bundle))
        assert "Traceback" not in shown(result)
        assert result.returncode == 2, shown(result)
        assert str(bundle) in shown(result)
        assert server.requests("PUT") == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a\x01b",
        "http://127.0.0.1/a\r\nb",
        "http://127.0.0.1/" + "a" * (64 << 10),
        "https://desk\u202e.example.com",
    ],
    ids=["control", "crlf", "64KiB", "bidi"],
)
def test_login_and_a_config_refuse_a_url_httpx_would_refuse(env: dict[str, str], url: str) -> None:
    result = login(env, url, KEY, SECRET)
    assert "Traceback" not in shown(result)
    assert result.returncode == 2, shown(result)
    assert "not a server URL" in shown(result)
    assert not config_file(env).exists()
    config_file(env).parent.mkdir(parents=True, exist_ok=True)
    config_file(env).write_text(f"server = {json.dumps(url)}\napi_key = {json.dumps(KEY)}\n")
    for argv in (["status"], ["doctor"], ["run", "--no-tray"]):
        result = run_cli(argv, env)
        assert "Traceback" not in shown(result), (argv, shown(result))
        assert result.returncode != 0
        assert f"{config_file(env)}: key 'server': not a server URL" in shown(result)
    config_file(env).unlink()
