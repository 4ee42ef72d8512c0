"""Choosing pystray's backend, and saying "no tray here" before blocking.

pystray picks and initialises its backend when first imported, so every case that imports it
runs in a fresh interpreter (a subprocess), never in the test process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from presence_agent.tray._backend import TrayUnavailable, check_session

# Runs run_tray() with no agent behind it: every check that can fail must fail before the
# services are touched, so ``None`` is enough to prove that.
PROBE = textwrap.dedent(
    """\
    import sys
    from presence_agent.tray import TrayUnavailable, run_tray
    try:
        run_tray(None, None, None, None)
    except TrayUnavailable as exc:
        print("UNAVAILABLE", exc)
        sys.exit(0)
    print("NO-ERROR")
    sys.exit(1)
    """
)


def _probe(env: dict[str, str]) -> str:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - started < 30  # never hangs
    return result.stdout.strip()


def _bare_env(**changes: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "PYSTRAY_BACKEND", "DBUS_SESSION_BUS_ADDRESS")
    }
    env.update(changes)
    return env


def test_no_display_is_unavailable_before_pystray_is_imported() -> None:
    with pytest.raises(TrayUnavailable, match="no graphical session"):
        check_session({}, "linux")
    check_session({}, "win32")  # Windows and macOS always have somewhere to put an icon
    check_session({}, "darwin")
    assert _probe(_bare_env()).startswith("UNAVAILABLE no graphical session")


@pytest.mark.desktop
def test_a_display_without_a_tray_host_is_unavailable(xvfb: str, session_bus: str) -> None:
    env = {"DISPLAY": xvfb, "DBUS_SESSION_BUS_ADDRESS": session_bus}
    with pytest.raises(TrayUnavailable, match="no system tray found"):
        check_session(env, "linux")


@pytest.mark.desktop
@pytest.mark.tray
def test_an_unknown_backend_is_unavailable(desktop_env: dict[str, str], trayer: object) -> None:
    out = _probe({**desktop_env, "PYSTRAY_BACKEND": "nonsense"})
    assert out.startswith("UNAVAILABLE no usable tray backend (nonsense:")


@pytest.mark.desktop
@pytest.mark.tray
def test_no_session_bus_is_unavailable_not_a_hang(
    desktop_env: dict[str, str], trayer: object
) -> None:
    """pystray's GTK backend needs the session bus; without one its run() would fail after
    starting a thread that nothing releases. We refuse before that."""
    env = {
        **desktop_env,
        "PYSTRAY_BACKEND": "gtk",
        "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus",
    }
    out = _probe(env)
    assert out.startswith("UNAVAILABLE no D-Bus session bus for the tray")
