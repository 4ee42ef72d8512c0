"""The test desktop is real: Xvfb, xdotool input, pynput, the Secret Service, trayer, and a
pystray GTK icon whose menu is driven like a person would (right-click, arrow keys, Return).

These tests also pin down pystray behaviour the tray module relies on; see
test_pystray_gtk_menu_click_in_trayer for the recipe.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.desktop import (
    SCREEN,
    SecretServiceInfo,
    TrayHost,
    bus_service_dir,
    click,
    key,
    mouse_jiggle,
    mouse_location,
    move_mouse,
    open_menus,
    popup_windows,
    require_module,
    running_trayer,
    screenshot,
    tray_icons,
    wait_until,
)

pytestmark = pytest.mark.desktop


def test_xvfb_answers_with_the_requested_screen(xvfb: str) -> None:
    info = subprocess.run(
        ["xdpyinfo"],
        env={**os.environ, "DISPLAY": xvfb},
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout
    assert f"dimensions:    {SCREEN[0]}x{SCREEN[1]} pixels" in info


def test_xdotool_moves_the_real_pointer(xvfb: str) -> None:
    for x, y in ((123, 456), (700, 300), (1, 1)):
        move_mouse(xvfb, x, y)
        assert mouse_location(xvfb) == (x, y)


def test_pynput_listeners_in_this_process_see_xdotool_input(
    xvfb: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pynput's Xlib backend connects to $DISPLAY when imported and when a listener starts.
    monkeypatch.setenv("DISPLAY", xvfb)
    from pynput import keyboard, mouse

    moves: list[tuple[int, int]] = []
    keys: list[object] = []
    clicks: list[tuple[str, bool]] = []
    lock = threading.Lock()

    def on_move(x: int, y: int, *_: object) -> None:
        with lock:
            moves.append((x, y))

    def on_click(_x: int, _y: int, button: object, pressed: bool, *_: object) -> None:
        with lock:
            clicks.append((str(getattr(button, "name", button)), pressed))

    def on_press(pressed: object, *_: object) -> None:
        with lock:
            keys.append(pressed)

    move_mouse(xvfb, 10, 10)
    with (
        mouse.Listener(on_move=on_move, on_click=on_click) as pointer,
        keyboard.Listener(on_press=on_press) as keys_listener,
    ):
        pointer.wait()
        keys_listener.wait()

        move_mouse(xvfb, 321, 234)
        wait_until(lambda: (321, 234) in moves, timeout=10, what="pynput to see the move")

        with lock:
            before = len(moves)
        mouse_jiggle(xvfb, 10)
        wait_until(lambda: len(moves) - before >= 10, timeout=10, what="10 jiggle moves")
        assert mouse_location(xvfb) == (321, 234)

        click(xvfb, 1)
        wait_until(lambda: ("left", False) in clicks, timeout=10, what="the click")

        key(xvfb, "a")
        wait_until(lambda: keyboard.KeyCode.from_char("a") in keys, timeout=10, what="key a")


def test_session_bus_is_private_and_activates_nothing_from_the_host(session_bus: str) -> None:
    assert session_bus != os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    reply = subprocess.run(
        [
            "dbus-send",
            f"--bus={session_bus}",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.ListActivatableNames",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout
    assert "org.freedesktop.secrets" not in reply
    assert "org.a11y.Bus" not in reply
    assert bus_service_dir(session_bus).is_dir()


def test_desktop_env_moves_home_and_platformdirs_under_tmp(
    desktop_env: dict[str, str], tmp_path: Path
) -> None:
    script = textwrap.dedent(
        """\
        import os, platformdirs
        for path in (platformdirs.user_config_dir("presence-agent"),
                     platformdirs.user_state_dir("presence-agent"),
                     platformdirs.user_log_dir("presence-agent"),
                     platformdirs.user_cache_dir("presence-agent"),
                     platformdirs.user_runtime_dir("presence-agent"),
                     os.path.expanduser("~")):
            print(path)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=desktop_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    assert len(out) == 6
    for path in out:
        assert Path(path).is_relative_to(tmp_path), path
    assert "PYTHON_KEYRING_BACKEND" not in desktop_env
    assert desktop_env["PYTHONUNBUFFERED"] == "1"
    assert os.stat(desktop_env["XDG_RUNTIME_DIR"]).st_mode & 0o777 == 0o700


def test_keyring_round_trips_through_the_real_secret_service(
    secret_service: SecretServiceInfo, desktop_env: dict[str, str]
) -> None:
    assert desktop_env["DBUS_SESSION_BUS_ADDRESS"] == secret_service.bus_address
    script = textwrap.dedent(
        """\
        import keyring
        backend = keyring.get_keyring()
        print(type(backend).__module__, type(backend).__name__)
        keyring.set_password("presence-agent-test-roundtrip", "agent@example.com", "tok-123")
        print(keyring.get_password("presence-agent-test-roundtrip", "agent@example.com"))
        keyring.delete_password("presence-agent-test-roundtrip", "agent@example.com")
        print(keyring.get_password("presence-agent-test-roundtrip", "agent@example.com"))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=desktop_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # keyring picked the Secret Service by itself (no PYTHON_KEYRING_BACKEND), stored the
    # secret, read it back and deleted it.
    assert result.stdout.splitlines() == [
        "keyring.backends.SecretService Keyring",
        "tok-123",
        "None",
    ]


@pytest.mark.tray
def test_trayer_starts_and_maps_its_panel(trayer: TrayHost, tmp_path: Path) -> None:
    panel = trayer.panel
    assert panel.y == 0
    assert panel.x + panel.width == SCREEN[0]  # top right
    assert trayer.icons() == []
    shot = screenshot(trayer.display, tmp_path / "trayer.png")
    assert shot.size == SCREEN


# --------------------------------------------------------------------------- pystray spike

# A stand-in for the app's tray: three items whose callbacks print; "Quit" stops the icon.
# "stop" on stdin stops it too. Run with PYSTRAY_BACKEND=gtk.
PYSTRAY_SCRIPT = textwrap.dedent(
    """\
    import sys, threading, warnings
    from PIL import Image
    import pystray
    from gi.repository import GLib

    def say(*words):
        print(*words, flush=True)

    def item(label):
        def on_click(icon, _item):
            say("CLICKED", label)
            if label == "Quit":
                icon.stop()
        return pystray.MenuItem(label, on_click)

    icon = pystray.Icon(
        "pa-spike",
        Image.new("RGBA", (32, 32), (0, 160, 0, 255)),
        "presence-agent spike",
        pystray.Menu(item("Available"), item("Away"), item("Quit")),
    )
    embedded = None

    def watch_embedding():
        global embedded
        with warnings.catch_warnings():  # Gtk.StatusIcon is deprecated in GTK 3.14+
            warnings.simplefilter("ignore", DeprecationWarning)
            now = icon._status_icon.is_embedded()
        if now != embedded:
            embedded = now
            say("EMBEDDED", now)
        return True

    def read_stdin():
        for line in sys.stdin:
            if line.strip() == "stop":
                icon.stop()
                return

    def setup(icon):
        icon.visible = True
        GLib.timeout_add(100, watch_embedding)
        threading.Thread(target=read_stdin, daemon=True).start()
        say("READY", type(icon).__module__)

    try:
        icon.run(setup)
    except GLib.Error as error:
        # The known trap: stop() ends in Notifier.hide(), a D-Bus call to
        # org.freedesktop.Notifications, which raises when no such service exists.
        say("STOP-ERROR", error.message)
    say("EXITED")
    """
)


class _TrayScript:
    """The pystray script running as a subprocess, its stdout going to a file."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        script = workdir / "tray_spike.py"
        script.write_text(PYSTRAY_SCRIPT)
        self.output = workdir / "tray_spike.out"
        with self.output.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(script)],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**env, "PYSTRAY_BACKEND": "gtk"},
            )

    def text(self) -> str:
        return self.output.read_text()

    def lines(self) -> list[str]:
        return self.text().splitlines()

    def wait_for_line(self, line: str, timeout: float = 20) -> None:
        def seen() -> bool:
            if self.proc.poll() is not None and line not in self.lines():
                raise AssertionError(f"exited with {self.proc.returncode}:\n{self.text()}")
            return line in self.lines()

        wait_until(seen, timeout=timeout, what=f"{line!r} from the tray script")

    def stop(self) -> int:
        assert self.proc.stdin is not None
        if self.proc.poll() is None:
            self.proc.stdin.write(b"stop\n")
        self.proc.stdin.close()
        return self.proc.wait(timeout=20)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=20)


def _check_stop_outcome(lines: list[str]) -> None:
    """The script exited cleanly; if stop() hit the trap, it was the Notifications one."""
    assert lines[-1] == "EXITED", lines
    for line in lines:
        if line.startswith("STOP-ERROR"):
            assert "org.freedesktop.Notifications" in line, line


@pytest.fixture
def tray_script(desktop_env: dict[str, str], tmp_path: Path) -> Iterator[_TrayScript]:
    require_module("gi", "PyGObject comes with the gtk extra: run scripts/bootstrap")
    script = _TrayScript(desktop_env, tmp_path)
    yield script
    script.kill()


@pytest.mark.tray
def test_pystray_gtk_menu_click_in_trayer(
    trayer: TrayHost, tray_script: _TrayScript, tmp_path: Path
) -> None:
    display = trayer.display
    tray_script.wait_for_line("READY pystray._gtk")
    tray_script.wait_for_line("EMBEDDED True")
    [icon] = wait_until(trayer.icons, what="the icon to dock in trayer")
    assert icon.width >= 16
    assert icon.height >= 16

    shot = screenshot(display, tmp_path / "icon.png")
    assert shot.convert("RGB").getpixel(icon.centre) == (0, 160, 0)

    # Right-click the icon: Gtk.StatusIcon's popup-menu signal opens the pystray menu.
    move_mouse(display, *icon.centre)
    click(display, 3)
    [menu] = wait_until(lambda: open_menus(display), what="the menu to open")
    assert menu.y >= icon.y + icon.height  # it opens below the panel, not under the pointer
    screenshot(display, tmp_path / "menu.png")

    # The first Down selects the first item, so three Downs land on the third ("Quit").
    key(display, "Down", "Down", "Down", "Return")
    tray_script.wait_for_line("CLICKED Quit")
    assert tray_script.proc.wait(timeout=20) == 0
    lines = tray_script.lines()
    assert [line for line in lines if line.startswith("CLICKED")] == ["CLICKED Quit"]
    _check_stop_outcome(lines)
    assert open_menus(display) == []
    assert popup_windows(display) == []  # the tooltip went with the icon


@pytest.mark.tray
def test_pystray_gtk_second_item_and_late_tray_host(
    desktop_env: dict[str, str], tray_script: _TrayScript, tmp_path: Path
) -> None:
    """With no tray host, the icon runs undocked (no hang, no error) and docks in a trayer
    started later, as on a login where the app starts before the panel."""
    display = desktop_env["DISPLAY"]
    tray_script.wait_for_line("READY pystray._gtk")
    tray_script.wait_for_line("EMBEDDED False")
    assert tray_icons(display) == []

    with running_trayer(display, desktop_env, tmp_path) as host:
        tray_script.wait_for_line("EMBEDDED True")
        [icon] = wait_until(host.icons, what="the icon to dock in the late trayer")
        move_mouse(display, *icon.centre)
        click(display, 3)
        wait_until(lambda: open_menus(display), what="the menu to open")
        key(display, "Down", "Down", "Return")
        tray_script.wait_for_line("CLICKED Away")
        assert tray_script.proc.poll() is None  # "Away" does not stop the icon

    # trayer gone: the icon is undocked again but keeps running until stopped.
    tray_script.wait_for_line("EMBEDDED False")
    assert tray_script.stop() == 0
    _check_stop_outcome(tray_script.lines())
