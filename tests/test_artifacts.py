"""The artifacts users install, installed as a user would, then used with the installed command.

``packaging/build-all.sh`` builds them once into ``dist/`` (CI runs it, then sets
``PRESENCE_AGENT_ARTIFACTS=1``): the wheel and sdist, the standalone binary and
the .deb. Each is installed on this machine the way its users install it:

* the wheel with ``pipx install ./dist/presence_agent-*.whl`` (its own venv, a
  shim on PATH);
* the .deb with ``apt-get install ./dist/presence-agent_*.deb`` (as root; then
  removed again);
* the binary copied into ``~/.local/bin``.

Then, with only that install on PATH (never the development venv): ``--version``,
``doctor``, ``autostart enable`` (the entry runs the installed launcher), and a
short headless ``run`` against the test server: login, available at start, idle
away, offline on SIGTERM.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import presence_agent
from presence_agent.autostart._xdg import parse_entry, split_exec
from tests.agent_process import AgentProcess, login, run_cli
from tests.libredesk_server import LibredeskServer

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
VERSION = presence_agent.__version__
KEY = "artifact-key"
SECRET = "artifact-secret-Zq9"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux artifacts"),
]


def _artifact(pattern: str) -> Path:
    if os.environ.get("PRESENCE_AGENT_ARTIFACTS") != "1":
        pytest.skip("build them with packaging/build-all.sh, then set PRESENCE_AGENT_ARTIFACTS=1")
    found = sorted(DIST.glob(pattern))
    if not found:
        pytest.fail(f"no dist/{pattern}: packaging/build-all.sh should have built it")
    return found[-1]


def installed_env(env: dict[str, str], bin_dir: Path) -> dict[str, str]:
    """The desktop env with only ``bin_dir`` and the system's dirs on PATH: no dev venv."""
    clean = {k: v for k, v in env.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    clean["PATH"] = os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])
    return clean


def exercise(env: dict[str, str], launcher: Path) -> None:
    """What every installed artifact must do, run as ``presence-agent`` from PATH."""
    assert shutil.which("presence-agent", path=env["PATH"]) == str(launcher)
    program = ["presence-agent"]

    result = run_cli(["--version"], env, program=program)
    assert (result.returncode, result.stdout.strip()) == (0, f"presence-agent {VERSION}")

    # The compiled catalogs came along (built by the package build from po/, hatch_build.py).
    result = run_cli(["set", "lunch"], {**env, "LANGUAGE": "de"}, program=program)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("presence-agent: unbekannter Status 'lunch'"), result.stderr

    result = run_cli(["doctor"], env, program=program, timeout=90)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert result.stdout.startswith(f"presence-agent {VERSION} ")
    assert "Traceback" not in result.stdout + result.stderr
    assert "No module named" not in result.stdout + result.stderr

    result = run_cli(["autostart", "enable"], env, program=program)
    assert result.returncode == 0, result.stderr
    assert "source tree" not in result.stderr  # an installed app is a lasting login item
    entry = Path(env["XDG_CONFIG_HOME"]) / "autostart" / "presence-agent.desktop"
    argv = split_exec(parse_entry(entry.read_text())["Exec"])
    assert argv[0] == str(launcher), argv
    assert argv[1:3] == ["run", "--start-delay"]
    tool = shutil.which("desktop-file-validate")
    if tool:
        check = subprocess.run([tool, str(entry)], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr

    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as server:
        result = login(env, server.url, KEY, SECRET, program=program)
        assert result.returncode == 0, result.stderr
        with AgentProcess(["run", "--no-tray", "--away-after", "2"], env, program) as agent:
            assert server.wait_for_put("online", "user", timeout=30), agent.output()
            assert server.wait_for_put("away", "idle", timeout=15), agent.output()
            status = run_cli(["status"], env, program=program)
            assert status.returncode == 0, status.stderr
            assert "agent: running, shows Away (idle)" in status.stdout
            assert f"version: presence-agent {VERSION}" in status.stdout
            assert agent.terminate(signal.SIGTERM) == 0, agent.output()
        assert server.puts()[-1] == ("offline", "user")
        assert "Traceback" not in agent.output()
        log = Path(env["XDG_STATE_HOME"]) / "presence-agent" / "log" / "presence-agent.log"
        assert log.read_text().startswith(f"presence-agent {VERSION} (Python ")


# -- the wheel and the sdist ----------------------------------------------------------------


def test_the_wheel_carries_the_package_and_its_assets() -> None:
    wheel = _artifact(f"presence_agent-{VERSION}-py3-none-any.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "presence_agent/cli.py" in names
    assert "presence_agent/assets/presence-agent.png" in names
    assert "presence_agent/assets/tray-icons.toml" in names
    # Compiled at build time from po/*.po, never committed (hatch_build.py).
    for language in ("en", "de", "es", "fr", "pt_BR"):
        assert f"presence_agent/locale/{language}/LC_MESSAGES/presence-agent.mo" in names
    metadata = zipfile.ZipFile(wheel).read(f"presence_agent-{VERSION}.dist-info/METADATA").decode()
    assert f"Project-URL: Homepage, {presence_agent.PROJECT_URL}" in metadata
    assert "abhinavxd" not in metadata


def test_the_sdist_builds_a_wheel_by_itself(tmp_path: Path) -> None:
    sdist = _artifact(f"presence_agent-{VERSION}.tar.gz")
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    top = f"presence_agent-{VERSION}"
    for needed in (
        "pyproject.toml",
        "README.md",
        "presence_agent/cli.py",
        "assets/presence-agent.png",
        "hatch_build.py",
        "po/de.po",
    ):
        assert f"{top}/{needed}" in names, needed
    # The catalogs' sources travel; their compiled form is build output.
    assert not [name for name in names if name.endswith(".mo")]
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(sdist)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.glob("presence_agent-*.whl"))


@pytest.mark.desktop
def test_pipx_install_of_the_wheel(env: dict[str, str], tmp_path: Path) -> None:
    wheel = _artifact(f"presence_agent-{VERSION}-py3-none-any.whl")
    pipx = shutil.which("pipx")
    if pipx is None:
        pytest.fail("pipx is missing (Debian: pipx); scripts/bootstrap installs it")
    bin_dir = Path(env["HOME"]) / ".local" / "bin"
    pipx_env = {
        **env,
        "PIPX_HOME": str(Path(env["HOME"]) / ".local" / "share" / "pipx"),
        "PIPX_BIN_DIR": str(bin_dir),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    result = subprocess.run(
        [pipx, "install", str(wheel)],
        env=pipx_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    launcher = bin_dir / "presence-agent"
    assert launcher.is_symlink(), "pipx puts a shim on PATH"
    exercise(installed_env(env, bin_dir), launcher)


# -- the standalone binary --------------------------------------------------------------------


@pytest.mark.desktop
def test_the_standalone_binary_from_the_users_bin(env: dict[str, str]) -> None:
    binary = _artifact("presence-agent")
    bin_dir = Path(env["HOME"]) / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    shutil.copy2(binary, bin_dir / "presence-agent")
    exercise(installed_env(env, bin_dir), bin_dir / "presence-agent")


# -- the .deb -----------------------------------------------------------------------------------


@pytest.fixture
def installed_deb() -> Iterator[Path]:
    deb = _artifact(f"presence-agent_{VERSION}_*.deb")
    if os.geteuid() != 0:
        pytest.skip("installing the .deb needs root (CI runs as root)")
    if Path("/usr/bin/presence-agent").exists():
        pytest.fail("/usr/bin/presence-agent exists already; this test installs and removes it")
    apt = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", str(deb)],
        env=apt,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    try:
        yield deb
    finally:
        subprocess.run(
            ["apt-get", "remove", "-y", "-q", "presence-agent"],
            env=apt,
            capture_output=True,
            timeout=300,
            check=False,
        )
    assert not Path("/usr/bin/presence-agent").exists()


def test_the_deb_names_the_project_and_its_maintainers() -> None:
    deb = _artifact(f"presence-agent_{VERSION}_*.deb")
    fields = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Maintainer", "Homepage", "Version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"Maintainer: {presence_agent.MAINTAINER}" in fields
    assert f"Homepage: {presence_agent.PROJECT_URL}" in fields
    assert f"Version: {VERSION}" in fields


@pytest.mark.desktop
def test_apt_install_of_the_deb(env: dict[str, str], installed_deb: Path) -> None:
    usr_bin = Path("/usr/bin/presence-agent")
    assert usr_bin.is_symlink()
    assert Path("/usr/share/applications/presence-agent.desktop").is_file()
    assert Path("/usr/share/icons/hicolor/256x256/apps/presence-agent.png").is_file()
    # Only /usr/bin on PATH (the bin dir given is empty): the entry must say /usr/bin.
    empty = Path(env["HOME"]) / "empty-bin"
    empty.mkdir()
    exercise(installed_env(env, empty), usr_bin)
