"""The Windows and macOS builds: hosted-runner workflows, checked here on Linux.

Their syntax and shape (every job on a hosted runner, every action pinned to a
major version, every ``run`` step a call to a repository script with bash), then a
dry run of every step: the scripts run for real up to what only Windows or
macOS can do (reading the version and identity, checking every input file,
composing each command), and print the rest. The Inno Setup script is checked
for what its compiler would reject first: every ``{#define}`` and ``{code:...}``
it uses exists, and its Pascal blocks balance.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

import presence_agent

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
RUNNERS = {"windows.yml": "windows-latest", "macos.yml": "macos-latest"}


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    return data


def steps(path: Path) -> list[dict[str, Any]]:
    return [step for job in load(path)["jobs"].values() for step in job["steps"]]


def test_there_is_a_workflow_for_each_hosted_runner() -> None:
    assert {p.name for p in WORKFLOWS} >= set(RUNNERS)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_shape(path: Path) -> None:
    data = load(path)
    # YAML reads a bare `on:` as True; both spellings mean the triggers.
    triggers = data.get("on", data.get(True))
    assert triggers
    assert "workflow_dispatch" in triggers
    assert data["permissions"] == {"contents": "read"}
    for name, job in data["jobs"].items():
        assert job["runs-on"] == RUNNERS[path.name], name
        assert 0 < job["timeout-minutes"] <= 60
        assert job["defaults"]["run"]["shell"] == "bash"
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), step
            if "uses" in step:
                assert re.fullmatch(r"actions/[a-z-]+@v\d+", step["uses"]), step["uses"]
            else:
                assert step.get("name"), step
                script = step["run"].split()[0]
                assert (ROOT / script).is_file(), script
                assert os.access(ROOT / script, os.X_OK), script


@pytest.mark.parametrize(
    ("path", "step"),
    [(p, s) for p in WORKFLOWS for s in steps(p) if "run" in s],
    ids=lambda v: v.name if isinstance(v, Path) else v["name"][:40],
)
def test_every_step_dry_runs_on_linux(path: Path, step: dict[str, Any]) -> None:
    result = subprocess.run(
        ["bash", "-c", step["run"]],
        cwd=ROOT,
        env={**os.environ, "DRY_RUN": "1", "PYTHON": sys.executable, **step.get("env", {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dry-run:" in result.stdout, "each step names the command it would run"


def test_the_windows_dry_run_passes_the_identity_and_the_silent_switches() -> None:
    def dry(step: str) -> str:
        return subprocess.run(
            ["packaging/windows/build.sh", step],
            cwd=ROOT,
            env={**os.environ, "DRY_RUN": "1", "PYTHON": sys.executable},
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    version = presence_agent.__version__
    installer = dry("installer")
    assert f"/DAppVersion={version}" in installer
    assert f"/DAppURL={presence_agent.PROJECT_URL}" in installer
    smoke = dry("smoke")
    for switch in ("/VERYSILENT", "/SUPPRESSMSGBOXES", "/SERVER=desk.example.com"):
        assert switch in smoke


def test_the_macos_dry_run_builds_the_bundle_and_image() -> None:
    out = subprocess.run(
        ["bash", "-c", "for s in app dmg smoke; do packaging/macos/build-app.sh $s; done"],
        cwd=ROOT,
        env={**os.environ, "DRY_RUN": "1", "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "packaging/presence-agent.spec" in out
    assert f"presence-agent-{presence_agent.__version__}.dmg" in out
    assert "preset --user --server desk.example.com" in out


# -- the Inno Setup script ---------------------------------------------------------------


ISS = ROOT / "packaging" / "windows" / "presence-agent.iss"


def test_every_define_the_script_uses_is_defined() -> None:
    text = ISS.read_text()
    defined = set(re.findall(r"^\s*#define (\w+)", text, re.MULTILINE))
    used = set(re.findall(r"\{#(\w+)\}", text))
    assert used <= defined, used - defined


def test_every_code_function_it_names_exists() -> None:
    text = ISS.read_text()
    code = text[text.index("[Code]") :]
    functions = set(re.findall(r"^function (\w+)\(", code, re.MULTILINE))
    named = set(re.findall(r"\{code:(\w+)", text)) | set(re.findall(r"Check: (\w+)", text))
    assert named <= functions, named - functions


def test_the_pascal_blocks_balance() -> None:
    code = ISS.read_text().split("[Code]", 1)[1]
    code = re.sub(r"\{[^}]*\}|'[^']*'", "", code)  # comments and strings
    words = re.findall(r"\b(begin|end)\b", code, re.IGNORECASE)
    depth = 0
    for word in words:
        depth += 1 if word.lower() == "begin" else -1
        assert depth >= 0
    assert depth == 0


def test_the_sections_are_inno_setups() -> None:
    sections = re.findall(r"^\[(\w+)\]", ISS.read_text(), re.MULTILINE)
    known = {"Setup", "Languages", "Tasks", "Files", "Icons", "Registry", "Run", "Code"}
    assert set(sections) <= known
    assert sections[-1] == "Code"


def test_the_silent_install_preset_runs_the_apps_own_preset_command() -> None:
    text = ISS.read_text()
    assert 'Parameters: "preset {code:PresetArgs}"' in text
    assert "PrivilegesRequiredOverridesAllowed=commandline" in text
    assert "{param:SERVER|}" in text
