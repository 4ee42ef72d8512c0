"""What people read: the simulated demo where there is no display, and the help texts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from presence_agent import __version__
from presence_agent.demo import DAY
from tests.agent_process import run_cli
from tests.desktop import no_desktop_env


@pytest.fixture
def no_display(tmp_path: Path) -> dict[str, str]:
    return no_desktop_env(tmp_path / "no_display")


def test_demo_without_a_display_plays_a_simulated_day(no_display: dict[str, str]) -> None:
    result = run_cli(["demo", "--away-after", "1"], no_display, timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"presence-agent demo {__version__}: a stand-in Libredesk")
    assert lines[1].startswith("SIMULATED DAY - there is no display here")
    assert lines[-1] == "simulated day over."
    # Every step of the script, in order, each followed by what the real server then held.
    narrated = [line.removeprefix("  [simulated] ") for line in lines if "[simulated]" in line]
    assert narrated == [step.narration for step in DAY]
    server = [re.sub(r"^\d\d:\d\d:\d\d ", "", line) for line in lines if " server: " in line]
    assert server == [
        "server: online (user)",
        "server: away (idle)",
        "server: online (idle)",
        "server: away (idle)",
        "server: away_manual (idle)",  # the escalation: no new conversations
        "server: online (user)",  # back in one PUT (user: the idle guard)
        "server: away_manual (user)",
        "server: offline (user)",
    ]
    assert "!!" not in result.stdout
    assert result.stderr == ""
    # Nothing of the user's was touched.
    assert not (Path(no_display["XDG_CONFIG_HOME"]) / "presence-agent").exists()


def test_help_shows_defaults_and_explains_every_flag(no_display: dict[str, str]) -> None:
    login = run_cli(["login", "--help"], no_display).stdout
    assert "--auth {token,basic}" in login
    assert "default: token" in login
    assert "a bare host means" in login
    demo = run_cli(["demo", "--help"], no_display).stdout
    assert "seconds without input before the demo sets you away (default: 5)" in " ".join(
        demo.split()
    )
    run = " ".join(run_cli(["run", "--help"], no_display).stdout.split())
    assert "away_after in the config, 300" in run


def test_set_help_does_not_offer_busy_as_if_every_server_had_it(
    no_display: dict[str, str],
) -> None:
    text = " ".join(run_cli(["set", "--help"], no_display).stdout.split())
    assert "busy only on servers that have it" in text
    assert "available | busy | away" not in text


def test_preset_writes_the_idle_steps_and_checks_their_order(no_display: dict[str, str]) -> None:
    from presence_agent import config

    ok = run_cli(
        ["preset", "--user", "--stop-assignments-after", "600", "--reassign-after", "1800"],
        no_display,
    )
    assert ok.returncode == 0, ok.stderr
    user = Path(no_display["XDG_CONFIG_HOME"]) / "presence-agent" / "config.toml"
    assert config.read_file(user) == {"stop_assignments_after": 600.0, "reassign_after": 1800.0}
    bad = run_cli(["preset", "--user", "--away-after", "900"], no_display)
    assert bad.returncode == 2, bad.stdout
    assert f"{user}: key 'stop_assignments_after' must be more than away_after" in bad.stderr
    assert config.read_file(user) == {"stop_assignments_after": 600.0, "reassign_after": 1800.0}
