"""The sign-in window as the tray opens it: ``presence-agent _signin-dialog``, GTK on Linux.

On the test display (Xvfb), with the real Secret Service and the test server:
the window is GTK's (the desktop's look), it is screenshotted (kept in the test's
tmp dir, and copied to ``$PRESENCE_AGENT_SCREENSHOTS`` when set, which is how
docs/screenshots/signin.png is made); then a person types the server, the key
and the secret and presses Enter, and is signed in. A bare host is taken as
https:// (the refusal test types one). The ttk fallback (where there is no GTK; chosen
here with ``PRESENCE_AGENT_SIGNIN_TOOLKIT=tk``) is screenshotted and signs in too
(docs/screenshots/signin-tk.png).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from presence_agent.signin_dialog import HEADING, TITLE
from tests.agent_process import AgentProcess, run_cli
from tests.desktop import Window, app_windows, key, move_mouse, screenshot, wait_until
from tests.libredesk_server import LibredeskServer

pytestmark = [pytest.mark.desktop, pytest.mark.tray]

KEY = "window-key"
SECRET = "window-secret-Zq9"


def _window(display: str) -> Window:
    def find() -> Window | None:
        # GTK titles the window with its header bar's title; Tk with TITLE.
        return next((w for w in app_windows(display) if w.name in (HEADING, TITLE)), None)

    return wait_until(find, timeout=30, what="the sign-in window")


def _xprop(display: str, window: Window) -> str:
    return subprocess.run(
        ["xprop", "-display", display, "-id", str(window.id)],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout


def _type(display: str, text: str) -> None:
    subprocess.run(
        ["xdotool", "type", "--delay", "20", text],
        env={**os.environ, "DISPLAY": display},
        check=True,
        timeout=30,
    )


def _keep(shot: Path, name: str) -> None:
    target = os.environ.get("PRESENCE_AGENT_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(target) / name)


def test_the_gtk_sign_in_window_signs_in_with_a_bare_host(
    env: dict[str, str], tmp_path: Path
) -> None:
    display = env["DISPLAY"]
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as server:
        with AgentProcess(["_signin-dialog"], env) as dialog:
            window = _window(display)
            props = _xprop(display, window)
            assert 'WM_CLASS(STRING) = "presence-agent"' in props
            assert "_GTK_" in props, "drawn by GTK, the desktop's toolkit"
            # The pointer over the window gives it the keyboard (no window manager here).
            move_mouse(display, window.x + window.width // 2, window.y + window.height // 2)

            shot = screenshot(display, tmp_path / "screen.png")
            crop = shot.crop(
                (window.x, window.y, window.x + window.width, window.y + window.height)
            )
            crop.save(tmp_path / "signin.png")
            _keep(tmp_path / "signin.png", "signin.png")
            colours = crop.convert("RGB").getcolors(maxcolors=1 << 16)
            assert colours is None or len(colours) > 20, "the window drew its widgets"

            # The test server speaks plain http on 127.0.0.1, so it is typed with its scheme.
            _type(display, server.url)
            key(display, "Tab")
            _type(display, KEY)
            key(display, "Tab")
            _type(display, SECRET)
            key(display, "Return")
            assert dialog.proc.wait(30) == 0, dialog.output()
            assert any(line.startswith(f"Signed in to {server.url}") for line in dialog.stdout)
            assert SECRET not in dialog.output()
        result = run_cli(["status"], env)
        assert result.returncode == 0, result.stderr


def test_the_tk_fallback_window_signs_in(env: dict[str, str], tmp_path: Path) -> None:
    display = env["DISPLAY"]
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as server:
        tk_env = {**env, "PRESENCE_AGENT_SIGNIN_TOOLKIT": "tk"}
        with AgentProcess(["_signin-dialog"], tk_env) as dialog:
            window = _window(display)
            props = _xprop(display, window)
            assert 'WM_CLASS(STRING) = "presence-agent"' in props
            assert "_GTK_" not in props, "drawn by Tk, the fallback"
            move_mouse(display, window.x + window.width // 2, window.y + window.height // 2)

            box = (window.x, window.y, window.x + window.width, window.y + window.height)

            def drawn() -> object:
                first = screenshot(display, tmp_path / "screen.png").crop(box)
                second = screenshot(display, tmp_path / "screen.png").crop(box)
                colours = second.convert("RGB").getcolors(maxcolors=1 << 16)
                widgets = colours is None or len(colours) > 20
                return second if widgets and first.tobytes() == second.tobytes() else None

            crop = wait_until(drawn, timeout=15, what="the window to draw its widgets")
            crop.save(tmp_path / "signin-tk.png")  # type: ignore[attr-defined]
            _keep(tmp_path / "signin-tk.png", "signin-tk.png")

            _type(display, server.url)
            key(display, "Tab")
            _type(display, KEY)
            key(display, "Tab")
            _type(display, SECRET)
            key(display, "Return")
            assert dialog.proc.wait(30) == 0, dialog.output()
            assert any(line.startswith(f"Signed in to {server.url}") for line in dialog.stdout)
            assert SECRET not in dialog.output()
        assert run_cli(["status"], env).returncode == 0


def test_the_window_shows_a_refusal_and_escape_cancels(env: dict[str, str]) -> None:
    display = env["DISPLAY"]
    with AgentProcess(["_signin-dialog"], env) as dialog:
        window = _window(display)
        move_mouse(display, window.x + window.width // 2, window.y + window.height // 2)
        _type(display, "desk.invalid")  # a bare host: https://desk.invalid, which fails
        key(display, "Tab")
        _type(display, KEY)
        key(display, "Tab")
        _type(display, SECRET)
        key(display, "Return")
        # Still open after the refusal, then Escape closes it: exit 1, nothing stored.
        with pytest.raises(subprocess.TimeoutExpired):
            dialog.proc.wait(3)
        key(display, "Escape")
        assert dialog.proc.wait(15) == 1, dialog.output()
    config = Path(env["XDG_CONFIG_HOME"]) / "presence-agent" / "config.toml"
    assert not config.exists()
