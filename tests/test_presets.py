"""Presets that stay central, end to end: a real preset file in $XDG_CONFIG_DIRS.

An admin writes the preset (``presence-agent preset``, as the installers do), a
person signs in without ``--server``, ``doctor --json`` shows where every value
came from, and a locked key in the person's own file is refused with a message
that names both files.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from presence_agent import config
from tests.agent_process import AgentProcess, run_cli
from tests.libredesk_server import LibredeskServer

pytestmark = pytest.mark.desktop

KEY = "preset-key"
SECRET = "preset-secret-Zq9"


def preset_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_CONFIG_DIRS"].split(":")[0]) / "presence-agent" / "config.toml"


def user_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) / "presence-agent" / "config.toml"


def doctor_json(env: dict[str, str]) -> dict[str, Any]:
    result = run_cli(["doctor", "--json"], env, timeout=90)
    assert result.returncode in (0, 1), result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_a_preset_server_signs_in_stays_central_and_locks(env: dict[str, str]) -> None:
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as server:
        result = run_cli(["preset", "--server", server.url, "--lock", "server"], env)
        assert result.returncode == 0, result.stderr
        assert str(preset_file(env)) in result.stdout
        assert config.read_file(preset_file(env), allow_locks=True) == {
            "server": server.url,
            "locked": ["server"],
        }

        # login without --server: the preset's server, and nothing of it copied.
        result = run_cli(
            ["login", "--api-key", KEY, "--api-secret-stdin"], env, stdin=SECRET + "\n"
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"Signed in to {server.url} as ")
        assert config.read_file(user_file(env)) == {"api_key": KEY}

        report = doctor_json(env)
        settings = report["settings"]
        assert isinstance(settings, dict)
        assert settings["server"] == {
            "value": server.url,
            "from": str(preset_file(env)),
            "locked_by": str(preset_file(env)),
        }
        assert settings["api_key"]["from"] == str(user_file(env))
        assert settings["away_after"] == {"value": 300.0, "from": None, "locked_by": None}
        assert report["version"]
        assert report["files"]["config"] == str(user_file(env))
        assert any(c["part"] == "server" and c["ok"] for c in report["checks"])

        # The person edits the locked key in their own file: ignored, and doctor says why.
        user_file(env).write_text(f'api_key = "{KEY}"\nserver = "https://elsewhere.example.com"\n')
        report = doctor_json(env)
        refusals = [c for c in report["checks"] if c["part"] == "config" and not c["ok"]]
        assert len(refusals) == 1
        assert str(user_file(env)) in refusals[0]["text"]
        assert str(preset_file(env)) in refusals[0]["text"]
        assert "administrator" in refusals[0]["text"]
        assert not refusals[0]["needed"]
        plain = run_cli(["doctor"], env, timeout=90).stdout
        assert f'server = "{server.url}"  ({preset_file(env)}, locked by your administrator)' in (
            plain
        )

        # The agent uses the preset's server all the same.
        server.clear_requests()
        with AgentProcess(["run", "--no-tray"], env) as agent:
            assert agent.wait_output(lambda line: "Available" in line, 15), agent.output()
            assert server.requests("GET"), "the agent talks to the preset's server"
            assert agent.terminate(signal.SIGTERM) == 0
        assert server.puts()[-1] == ("offline", "user")

        # login cannot move a locked server either.
        result = run_cli(
            [
                "login",
                "--server",
                "https://elsewhere.example.com",
                "--api-key",
                KEY,
                "--api-secret-stdin",
            ],
            env,
            stdin=SECRET + "\n",
        )
        assert result.returncode == 2
        assert "locked" in result.stderr
        assert str(preset_file(env)) in result.stderr

        # The admin moves the server centrally: the person follows without doing anything.
        run_cli(["preset", "--server", "https://moved.example.com"], env)
        assert doctor_json(env)["settings"]["server"]["value"] == "https://moved.example.com"
