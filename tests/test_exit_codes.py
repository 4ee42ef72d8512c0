"""One exit-code table (presence_agent/exitcodes.py, the README), asserted per command.

Each test runs the installed ``presence-agent`` command in private HOME/XDG dirs,
as a user or a script would, and checks the code and that the message on stderr
says what to do, runnable as written.
"""

from __future__ import annotations

import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from presence_agent.exitcodes import MEANINGS, Exit
from tests.agent_process import AgentProcess, login, run_cli
from tests.desktop import no_desktop_env
from tests.libredesk_server import LibredeskServer

ROOT = Path(__file__).resolve().parent.parent
KEY = "exit-key"
SECRET = "exit-secret-Zq9"


@pytest.fixture
def plain_env(tmp_path: Path) -> dict[str, str]:
    """No display, no bus, no keyring: an ssh session or a cron job."""
    return no_desktop_env(tmp_path / "plain_env")


def config_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) / "presence-agent" / "config.toml"


def preset_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_CONFIG_DIRS"].split(":")[0]) / "presence-agent" / "config.toml"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def code_of(args: list[str], env: dict[str, str], **kw: object) -> tuple[int, str, str]:
    result = run_cli(args, env, **kw)  # type: ignore[arg-type]
    return result.returncode, result.stdout, result.stderr


# -- the table ----------------------------------------------------------------------------------


def test_the_readme_table_is_the_one_in_the_code() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| (\d) \| (.+?) \|$", readme, re.MULTILINE))
    assert {int(code) for code in rows} == {int(code) for code in Exit}
    for code in Exit:
        assert rows[str(code.value)] == MEANINGS[code]


def test_help_lists_the_exit_codes(plain_env: dict[str, str]) -> None:
    code, out, _ = code_of(["--help"], plain_env)
    assert code == Exit.OK
    for exit_code in Exit:
        assert f"  {exit_code.value}  {MEANINGS[exit_code]}" in out


# -- 2: bad input, for every command that takes any --------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["login"],  # --api-key is required
        ["login", "--server", "ftp://desk.example.com", "--api-key", KEY, "--api-secret-stdin"],
        ["run", "--away-after", "-5"],
        ["set", "lunch"],
        ["pause", "-3"],
        ["doctor", "--yaml"],
        ["demo", "--away-after", "0"],
        ["autostart", "toggle"],
        ["status", "--verbose"],
    ],
    ids=lambda a: " ".join(a)[:40],
)
def test_bad_input_is_2(plain_env: dict[str, str], args: list[str]) -> None:
    code, _, err = code_of(args, plain_env, stdin="x\n")
    assert code == Exit.USAGE, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args", [["status"], ["set", "away"], ["run", "--no-tray"], ["logout"], ["doctor"]]
)
def test_a_broken_config_file_is_bad_input(plain_env: dict[str, str], args: list[str]) -> None:
    write(config_file(plain_env), "away_after = [\n")
    code, out, err = code_of(args, plain_env)
    if args == ["doctor"]:
        # doctor reports it as a failed check (1) and goes on with the others.
        assert code == Exit.FAILED
        assert "FAIL config: " in out
        assert str(config_file(plain_env)) in out
    else:
        assert code == Exit.USAGE, err
        assert str(config_file(plain_env)) in err


def test_login_without_any_server_says_what_to_add(plain_env: dict[str, str]) -> None:
    code, _, err = code_of(
        ["login", "--api-key", KEY, "--api-secret-stdin"], plain_env, stdin="s\n"
    )
    assert code == Exit.USAGE
    assert "add --server https://desk.example.com" in err


def test_login_to_another_server_than_the_locked_one_is_2(plain_env: dict[str, str]) -> None:
    write(preset_file(plain_env), 'server = "https://desk.example.com"\nlocked = ["server"]\n')
    code, _, err = code_of(
        ["login", "--server", "other.example.com", "--api-key", KEY, "--api-secret-stdin"],
        plain_env,
        stdin="s\n",
    )
    assert code == Exit.USAGE
    assert "locked" in err
    assert str(preset_file(plain_env)) in err
    assert not config_file(plain_env).exists()


# -- 4: not signed in, the same for every command -----------------------------------------------


@pytest.mark.parametrize("args", [["status"], ["set", "away"], ["run", "--no-tray"]])
def test_not_signed_in_is_4_with_a_login_line_that_runs(
    plain_env: dict[str, str], args: list[str]
) -> None:
    code, _, err = code_of(args, plain_env)
    assert code == Exit.SIGNED_OUT, err
    assert "not signed in: run `presence-agent login --server https://desk.example.com" in err


def test_with_a_preset_server_the_hint_leaves_out_the_server(plain_env: dict[str, str]) -> None:
    write(preset_file(plain_env), 'server = "https://desk.example.com"\n')
    code, _, err = code_of(["status"], plain_env)
    assert code == Exit.SIGNED_OUT
    assert "run `presence-agent login --api-key KEY`" in err


def test_logout_when_not_signed_in_is_fine(plain_env: dict[str, str]) -> None:
    code, out, _ = code_of(["logout"], plain_env)
    assert (code, out.strip()) == (Exit.OK, "Not signed in.")


# -- 5: pause and resume need a running agent ---------------------------------------------------


@pytest.mark.parametrize("args", [["pause"], ["pause", "30"], ["resume"]])
def test_pause_and_resume_without_an_agent_are_5(
    plain_env: dict[str, str], args: list[str]
) -> None:
    code, _, err = code_of(args, plain_env)
    assert code == Exit.NOT_RUNNING
    assert "start it with `presence-agent run`" in err


# -- 0 ------------------------------------------------------------------------------------------


def test_version_and_help_are_0(plain_env: dict[str, str]) -> None:
    from presence_agent import __version__

    code, out, err = code_of(["--version"], plain_env)
    assert (code, out.strip(), err) == (Exit.OK, f"presence-agent {__version__}", "")
    for command in ("login", "run", "set", "demo", "doctor", "status"):
        assert code_of([command, "--help"], plain_env)[0] == Exit.OK


def test_no_runtime_dir_prints_no_library_warning(plain_env: dict[str, str]) -> None:
    """su, ssh, cron: no XDG_RUNTIME_DIR. The answer, and nothing else, reaches the terminal."""
    env = dict(plain_env)
    del env["XDG_RUNTIME_DIR"]
    for args in (["status"], ["doctor"], ["set", "away"], ["autostart", "status"]):
        _, _, err = code_of(args, env)
        assert "Warning" not in err, (args, err)
        assert ".py:" not in err, (args, err)  # no source path either


# -- with a real agent, a real keyring and the test server -------------------------------------


@pytest.fixture
def server() -> Iterator[LibredeskServer]:
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as srv:
        yield srv


@pytest.mark.desktop
def test_a_second_run_is_3(env: dict[str, str], server: LibredeskServer) -> None:
    assert login(env, server.url, KEY, SECRET).returncode == Exit.OK
    with AgentProcess(["run", "--no-tray"], env) as agent:
        assert server.wait_for_put("online", "user", timeout=15), agent.output()
        code, _, err = code_of(["run", "--no-tray"], env)
        assert code == Exit.ALREADY_RUNNING
        assert "already running" in err
        # pause and resume reach it: 0.
        assert code_of(["pause", "5"], env)[0] == Exit.OK
        assert code_of(["resume"], env)[0] == Exit.OK
        assert agent.terminate(signal.SIGTERM) == Exit.OK


@pytest.mark.desktop
def test_login_failures_are_1_and_the_server_down_is_1(
    env: dict[str, str], server: LibredeskServer
) -> None:
    result = login(env, server.url, KEY, "wrong-secret")
    assert result.returncode == Exit.FAILED
    assert "nothing stored" in result.stderr
    assert login(env, server.url, KEY, SECRET).returncode == Exit.OK
    assert code_of(["status"], env)[0] == Exit.OK
    assert code_of(["set", "away"], env)[0] == Exit.OK
    server.stop()
    code, _, err = code_of(["status"], env)
    assert code == Exit.FAILED
    assert server.url in err
    assert len(err.splitlines()) == 1
    code, _, err = code_of(["set", "available"], env)
    assert code == Exit.FAILED
    assert "Traceback" not in err


@pytest.mark.desktop
def test_set_busy_on_a_real_libredesk_is_bad_input(
    env: dict[str, str], server: LibredeskServer
) -> None:
    assert login(env, server.url, KEY, SECRET).returncode == Exit.OK
    code, _, err = code_of(["set", "busy"], env)
    assert code == Exit.USAGE
    assert "no 'Busy' status" in err
    with AgentProcess(["run", "--no-tray"], env) as agent:
        assert server.wait_for_put("online", "user", timeout=15), agent.output()
        code, _, err = code_of(["set", "busy"], env)
        assert code == Exit.USAGE, err
        assert agent.terminate() == Exit.OK


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("the CLI runs here as on Linux")


# -- set, status and logout with the server down, and logout like the tray's Sign out ---------


@pytest.mark.desktop
def test_set_while_the_server_is_down_is_queued_then_sent(
    env: dict[str, str], server: LibredeskServer
) -> None:
    assert login(env, server.url, KEY, SECRET).returncode == Exit.OK
    with AgentProcess(["run", "--no-tray"], env) as agent:
        assert server.wait_for_put("online", "user", timeout=15), agent.output()
        server.restart(down_for=12, block=False)
        code, out, err = code_of(["set", "away"], env)
        assert code == Exit.OK, (out, err, agent.output())
        assert out.startswith("Queued, will be sent when the server answers"), out
        # status: the running agent's view, and that the server is unreachable.
        code, out, err = code_of(["status"], env)
        assert code == Exit.FAILED
        assert "the running agent's view; the server is unreachable" in out
        assert "  agent: running, shows " in out
        assert len(err.splitlines()) == 1
        # Back up: the queued choice is delivered, as a person's choice.
        assert server.wait_for(lambda: server.status == "away_manual", timeout=60), agent.output()
        assert server.puts()[-1] == ("away_manual", "user")
        assert agent.terminate() == Exit.OK


@pytest.mark.desktop
def test_logout_goes_offline_first_like_the_trays_sign_out(
    env: dict[str, str], server: LibredeskServer
) -> None:
    assert login(env, server.url, KEY, SECRET).returncode == Exit.OK
    with AgentProcess(["run", "--no-tray"], env) as agent:
        assert server.wait_for_put("online", "user", timeout=15), agent.output()
        assert code_of(["set", "away"], env)[0] == Exit.OK
        code, out, err = code_of(["logout"], env)
        assert code == Exit.OK, err
        assert out.startswith("Set offline. Signed out of "), out
        assert server.status == "offline"
        assert server.puts()[-1] == ("offline", "user")
        assert agent.wait_output(lambda line: "Signed out" in line, 15), agent.output()
        assert agent.terminate() == Exit.OK
    # With no agent running, logout tells the server itself.
    assert login(env, server.url, KEY, SECRET).returncode == Exit.OK
    assert code_of(["set", "away"], env)[0] == Exit.OK
    assert server.status == "away_manual"
    code, out, _ = code_of(["logout"], env)
    assert code == Exit.OK
    assert out.splitlines() == ["Set offline.", f"Signed out of {server.url}."]
    assert server.puts()[-1] == ("offline", "user")
    assert code_of(["status"], env)[0] == Exit.SIGNED_OUT
