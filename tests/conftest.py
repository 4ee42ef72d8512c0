"""Shared pytest configuration.

The real-desktop fixtures (Xvfb, private D-Bus session bus, gnome-keyring Secret Service,
trayer, desktop_env) live in tests/desktop.py, the real proxy (desk_proxy) in
tests/tinyproxy.py, a second local user (neighbour, shared_root) in tests/local_users.py;
importing them here registers them for every test. Their helpers
(move_mouse, key, click, screenshot, tray_icons, ...) are imported from tests.desktop
directly where needed.
"""

from pathlib import Path

import pytest

from tests import secret_scan
from tests.desktop import (
    Input,
    SecretServiceInfo,
    desktop_env,
    secret_service,
    session_bus,
    trayer,
    xvfb,
)
from tests.local_users import neighbour, shared_root
from tests.tinyproxy import desk_proxy

__all__ = [
    "desk_proxy",
    "desktop_env",
    "env",
    "neighbour",
    "secret_service",
    "session_bus",
    "shared_root",
    "trayer",
    "user_input",
    "xvfb",
]


@pytest.fixture
def env(desktop_env: dict[str, str], secret_service: SecretServiceInfo) -> dict[str, str]:
    """A desktop for the real agent process: display, bus, an unlocked keyring, private dirs."""
    return desktop_env


@pytest.fixture
def user_input(env: dict[str, str]) -> Input:
    """The person at the keyboard: real pointer moves on the test display."""
    return Input(env["DISPLAY"])


# -- the session-wide secrets scan (tests/secret_scan.py) -------------------------------------

_SCAN_BASETEMP = pytest.StashKey[Path]()
_SCAN_FINDINGS = pytest.StashKey[list[secret_scan.Finding]]()


def pytest_configure(config: pytest.Config) -> None:
    # Before any test module imports tests.agent_process's helpers.
    secret_scan.install_output_recorder()
    # The checkout's compiled catalogs, fresh from po/ (an editable install built them
    # once; a .po edited since would otherwise be tested stale). hatch_build.py.
    import hatch_build

    hatch_build.compile_catalogs()


@pytest.fixture(scope="session", autouse=True)
def _secret_scan_basetemp(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Remember pytest's basetemp (every test's HOME and XDG dirs live under it)."""
    request.config.stash[_SCAN_BASETEMP] = tmp_path_factory.getbasetemp()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """After every test and fixture teardown: a secret in any file or output fails the run."""
    findings = secret_scan.session_findings(session.config.stash.get(_SCAN_BASETEMP, None))
    session.config.stash[_SCAN_FINDINGS] = findings
    if findings and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    findings = terminalreporter.config.stash.get(_SCAN_FINDINGS, [])
    if findings:
        terminalreporter.write_sep("=", "secret scan FAILED: a test secret leaked", red=True)
        for finding in findings[:50]:
            terminalreporter.write_line(str(finding))
