"""The tray app end to end, as a person uses it.

Real parts only: ``presence-agent login --api-secret-stdin`` into a real gnome-keyring, then the
real ``presence-agent run`` process with pystray's GTK backend docked in trayer on Xvfb, driven
with real pointer clicks and key presses (xdotool), against the Libredesk test server on
127.0.0.1. The icon is checked by its pixels on the screen.

Set ``PRESENCE_AGENT_SCREENSHOTS=<dir>`` to keep screenshots of the tray, its menu and the
sign-in dialog (that is how docs/screenshots/ is made).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from tests.desktop import (
    Input,
    SecretServiceInfo,
    TrayHost,
    Window,
    click,
    key,
    move_mouse,
    open_menus,
    popup_windows,
    screenshot,
    tray_icons,
    wait_until,
)
from tests.libredesk_server import LibredeskServer

pytestmark = [pytest.mark.desktop, pytest.mark.tray, pytest.mark.slow]

KEY = "tray-agent-key"
SECRET = "tray-S3cr:et-Zq9-ünï"  # distinctive, so a leak into any output would be found
GREEN = (0x00, 0x9E, 0x73)
ORANGE = (0xE6, 0x9F, 0x00)
SHOTS = os.environ.get("PRESENCE_AGENT_SCREENSHOTS")
WAIT = 30.0  # generous: a 2-core CI machine may be busy with the rest of the suite


def _agent_argv() -> list[str]:
    """The installed console script next to this interpreter, as a user runs it."""
    script = Path(sys.executable).with_name("presence-agent")
    return [str(script)] if script.exists() else [sys.executable, "-m", "presence_agent"]


class Agent:
    """A running ``presence-agent`` process; its output goes to a file."""

    def __init__(self, env: dict[str, str], workdir: Path, *args: str) -> None:
        self.output = workdir / "agent.out"
        with self.output.open("wb") as out:
            self.proc = subprocess.Popen(
                [*_agent_argv(), *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait(self, timeout: float = WAIT) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the agent did not exit:\n{self.text()}") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def _cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_agent_argv(), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _login(env: dict[str, str], server: LibredeskServer) -> None:
    result = _cli(
        env,
        "login",
        "--server",
        server.url,
        "--api-key",
        KEY,
        "--api-secret-stdin",
        stdin=SECRET + "\n",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Signed in to {server.url}")


@pytest.fixture
def env(desktop_env: dict[str, str], secret_service: SecretServiceInfo) -> dict[str, str]:
    # The GTK backend by name: what this suite proves works in trayer. The default choice
    # (AppIndicator, then GTK) is covered by test_default_backend_choice_docks_too.
    return {**desktop_env, "PYSTRAY_BACKEND": "gtk"}


@pytest.fixture
def agents(env: dict[str, str], tmp_path: Path) -> Iterator[list[Agent]]:
    started: list[Agent] = []
    yield started
    for agent in started:
        agent.kill()


def _start(agents: list[Agent], env: dict[str, str], tmp_path: Path, *args: str) -> Agent:
    workdir = tmp_path / f"agent{len(agents)}"
    workdir.mkdir()
    agent = Agent(env, workdir, *args)
    agents.append(agent)
    return agent


def _icon(host: TrayHost, agent: Agent, title: str) -> Window:
    """The agent's icon once docked with a tooltip (title) starting with ``title``."""

    def docked() -> Window | None:
        if agent.proc.poll() is not None:
            raise AssertionError(f"the agent exited with {agent.proc.returncode}:\n{agent.text()}")
        for icon in host.icons():
            if icon.name.startswith(title):
                return icon
        return None

    try:
        return wait_until(docked, timeout=WAIT, what=f"an icon titled {title!r}")
    except TimeoutError:
        names = [icon.name for icon in host.icons()]
        raise AssertionError(f"icons: {names}\n{agent.text()}") from None


def _pixels(display: str, icon: Window, path: Path) -> Image.Image:
    shot = screenshot(display, path)
    return shot.convert("RGB").crop((icon.x, icon.y, icon.x + icon.width, icon.y + icon.height))


def _wait_for_colour(
    display: str, icon: Window, colour: tuple[int, int, int], path: Path
) -> Image.Image:
    """The icon's pixels on screen, once at least 15 % of them are near ``colour``."""

    def shows() -> Image.Image | None:
        pixels = _pixels(display, icon, path)
        return pixels if _share_near(pixels, colour) > 0.15 else None

    return wait_until(shows, timeout=WAIT, interval=0.2, what=f"the icon to show {colour}")


def _share_near(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 40) -> float:
    raw = image.convert("RGB").tobytes()
    pixels = [raw[i : i + 3] for i in range(0, len(raw), 3)]
    near = sum(
        1 for p in pixels if all(abs(c - w) <= tolerance for c, w in zip(p, colour, strict=True))
    )
    return near / len(pixels)


def _open_menu(display: str, icon: Window) -> Window:
    move_mouse(display, *icon.centre)
    click(display, 3)
    [menu] = wait_until(lambda: open_menus(display), timeout=WAIT, what="the tray menu to open")
    return menu


def _save(shot: Image.Image, box: tuple[int, int, int, int], name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shot.crop(box).save(Path(SHOTS) / name)


def _no_secret_anywhere(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


def _log_text(env: dict[str, str]) -> str:
    logs = list(Path(env["XDG_STATE_HOME"]).rglob("*.log"))
    return "".join(log.read_text(errors="replace") for log in logs)


@pytest.mark.parametrize(
    ("dialect", "downs", "away_word"),
    [
        # (The status line, inactive, is skipped.) Available, Busy, Away, Offline: the
        # first Down selects the first item.
        ("documented", 3, "away"),
        # Available, Away, "Away, reassign my conversations", Offline; a manual away is
        # away_manual on the real server.
        ("libredesk", 2, "away_manual"),
    ],
)
def test_choose_away_from_the_menu_then_quit(
    env: dict[str, str],
    trayer: TrayHost,
    agents: list[Agent],
    tmp_path: Path,
    dialect: str,
    downs: int,
    away_word: str,
) -> None:
    display = trayer.display
    with LibredeskServer(dialect=dialect, api_key=KEY, api_secret=SECRET) as server:  # type: ignore[arg-type]
        _login(env, server)
        agent = _start(agents, env, tmp_path, "run")

        # Starting is the person's own act: offline becomes available, source user.
        assert server.wait_for_put(server_word(dialect, "available"), "user", timeout=WAIT)
        icon = _icon(trayer, agent, "presence-agent: Available")
        # The tooltip and the image are set one after the other: poll the screen.
        before = _wait_for_colour(display, icon, GREEN, tmp_path / "before.png")

        # One instance per user, in tray mode too.
        second = _cli(env, "run")
        assert second.returncode == 3, second.stderr
        assert "already running" in second.stderr

        if SHOTS and dialect == "documented":
            move_mouse(display, *icon.centre)
            [tip] = wait_until(
                lambda: [w for w in popup_windows(display) if "TOOLTIP" in w.types],
                timeout=WAIT,
                what="the tooltip",
            )
            shot = screenshot(display, tmp_path / "tooltip.png")
            _save(
                shot,
                (tip.x - 16, 0, trayer.panel.x + trayer.panel.width, tip.y + tip.height + 16),
                "tray.png",
            )

        menu = _open_menu(display, icon)
        if dialect == "documented":
            shot = screenshot(display, tmp_path / "menu.png")
            _save(
                shot,
                (menu.x - 24, 0, trayer.panel.x + trayer.panel.width, menu.y + menu.height + 16),
                "menu.png",
            )
        # Away opens its durations (Right); the first is "Until I change it".
        key(display, *["Down"] * downs, "Right", "Return")

        put = server.wait_for_put(away_word, "user", timeout=WAIT)
        assert put is not None, f"{server.puts()}\n{agent.text()}"
        # The icon follows the server's answer: orange clock, and the tooltip says why.
        icon = _icon(trayer, agent, "presence-agent: Away (manual)")

        after = _wait_for_colour(display, icon, ORANGE, tmp_path / "after.png")
        assert _share_near(after, GREEN) < 0.02
        assert sum(ImageStat.Stat(ImageChops.difference(before, after)).mean) > 30

        # Quit from the menu: the last item.
        _open_menu(display, icon)
        key(display, "End", "Return")
        assert agent.wait() == 0, agent.text()
        assert server.puts()[-1] == ("offline", "user")
        assert wait_until(lambda: tray_icons(display) == [], what="the icon to go") is True
        assert server.status == "offline"
        _no_secret_anywhere(agent.text(), _log_text(env))


def server_word(dialect: str, status: str) -> str:
    if dialect == "libredesk" and status == "available":
        return "online"
    return status


def test_the_icon_follows_idleness_and_pushes_and_idleness_spares_a_manual_away(
    env: dict[str, str], trayer: TrayHost, agents: list[Agent], tmp_path: Path
) -> None:
    display = trayer.display
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as server:
        _login(env, server)
        agent = _start(agents, env, tmp_path, "run", "--away-after", "3")
        assert server.wait_for_put("online", "user", timeout=WAIT), agent.text()

        # Nobody touches anything: away (idle), and the icon says so.
        assert server.wait_for_put("away", "idle", timeout=WAIT), agent.text()
        icon = _icon(trayer, agent, "presence-agent: Away (idle)")
        _wait_for_colour(display, icon, ORANGE, tmp_path / "idle.png")

        # Back at the desk: available again (source idle), and green.
        count = len(server.puts())
        move_mouse(display, 300, 300)
        assert server.wait_for_put("online", "idle", timeout=WAIT, after=count), agent.text()
        icon = _icon(trayer, agent, "presence-agent: Available")
        _wait_for_colour(display, icon, GREEN, tmp_path / "back.png")

        # A manual away made in the web app is pushed over /ws: the icon follows at once...
        pushed = time.monotonic()
        server.set_status("away_manual")
        icon = _icon(trayer, agent, "presence-agent: Away (set elsewhere)")
        assert time.monotonic() - pushed < 5, "a push is shown at once, not at the next poll"
        _wait_for_colour(display, icon, ORANGE, tmp_path / "elsewhere.png")
        # ...and neither idleness nor input afterwards undoes it.
        count = len(server.puts())
        time.sleep(4.0)  # longer than the threshold
        move_mouse(display, 310, 310)
        time.sleep(1.0)
        assert server.puts()[count:] == [], agent.text()
        assert server.status == "away_manual"
        assert _icon(trayer, agent, "presence-agent: Away (set elsewhere)")

        # Online again in the web app: green again.
        server.set_status("online")
        icon = _icon(trayer, agent, "presence-agent: Available")
        _wait_for_colour(display, icon, GREEN, tmp_path / "online.png")

        agent.proc.send_signal(signal.SIGTERM)
        assert agent.wait() == 0, agent.text()
        assert server.status == "offline"


def test_pause_and_start_at_login_from_the_menu(
    env: dict[str, str], trayer: TrayHost, agents: list[Agent], tmp_path: Path
) -> None:
    display = trayer.display
    entry = Path(env["XDG_CONFIG_HOME"]) / "autostart" / "presence-agent.desktop"
    with LibredeskServer(api_key=KEY, api_secret=SECRET) as server:
        _login(env, server)
        agent = _start(agents, env, tmp_path, "run")
        icon = _icon(trayer, agent, "presence-agent: Available")

        # Available, Busy, Away, Offline, Pause idle detection ▸ (Right opens it), For 30 minutes.
        _open_menu(display, icon)
        key(display, *["Down"] * 5, "Right", "Return")
        icon = wait_until(
            lambda: [i for i in trayer.icons() if "Idle detection paused until" in i.name],
            timeout=WAIT,
            what="the tooltip to say paused",
        )[0]
        status = _cli(env, "status")
        assert "idle detection paused" in status.stdout, status.stdout + status.stderr

        # The same place now resumes.
        _open_menu(display, icon)
        key(display, *["Down"] * 5, "Return")
        icon = wait_until(
            lambda: [
                i
                for i in trayer.icons()
                if i.name.startswith("presence-agent: Available") and "paused" not in i.name
            ],
            timeout=WAIT,
            what="the tooltip to drop the pause",
        )[0]

        # Start at login: the item before Quit; it writes the XDG autostart entry.
        assert not entry.exists()
        _open_menu(display, icon)
        key(display, "End", "Up", "Return")
        wait_until(entry.exists, timeout=WAIT, what="the autostart entry")
        assert "presence-agent" in entry.read_text()
        _open_menu(display, icon)
        key(display, "End", "Up", "Return")
        wait_until(
            lambda: not entry.exists() or "Hidden=true" in entry.read_text(),
            timeout=WAIT,
            what="the autostart entry to go",
        )

        agent.proc.send_signal(signal.SIGTERM)
        assert agent.wait() == 0, agent.text()
        assert server.puts()[-1] == ("offline", "user")


def test_without_a_tray_host_it_says_so_and_runs_headless(
    env: dict[str, str], agents: list[Agent], tmp_path: Path
) -> None:
    assert tray_icons(env["DISPLAY"]) == []
    with LibredeskServer(api_key=KEY, api_secret=SECRET) as server:
        _login(env, server)
        agent = _start(agents, env, tmp_path, "run")
        assert server.wait_for_put("available", "user", timeout=WAIT), agent.text()
        wait_until(lambda: "running headless" in agent.text(), timeout=WAIT, what="the notice")
        assert "no system tray found" in agent.text()
        # Headless, each change is printed; wait for the server's answer to land.
        wait_until(lambda: " Available (" in agent.text(), timeout=WAIT, what="Available")
        # Still the whole agent: SIGTERM quits in order, offline included.
        agent.proc.send_signal(signal.SIGTERM)
        assert agent.wait() == 0, agent.text()
        assert server.puts()[-1] == ("offline", "user")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_tray_in_order(
    env: dict[str, str], trayer: TrayHost, agents: list[Agent], tmp_path: Path, sig: int
) -> None:
    """SIGTERM (logout, systemd) and SIGINT (Ctrl+C; pystray resets it, the tray puts the
    agent's handler back) both quit like the menu does."""
    with LibredeskServer(api_key=KEY, api_secret=SECRET) as server:
        _login(env, server)
        agent = _start(agents, env, tmp_path, "run")
        _icon(trayer, agent, "presence-agent: Available")
        agent.proc.send_signal(sig)
        assert agent.wait() == 0, agent.text()
        assert server.puts()[-1] == ("offline", "user")
        assert wait_until(lambda: trayer.icons() == [], what="the icon to go") is True


def test_a_quit_while_the_icon_is_coming_up_does_not_hang(
    env: dict[str, str], trayer: TrayHost, agents: list[Agent], tmp_path: Path
) -> None:
    """SIGTERM as soon as the agent has started, typically before pystray's loop runs (when
    its stop() would do nothing): it still exits, promptly and cleanly."""
    with LibredeskServer(api_key=KEY, api_secret=SECRET) as server:
        _login(env, server)
        agent = _start(agents, env, tmp_path, "run")
        # Logged once the signal handlers are in, while pystray is still being set up.
        wait_until(lambda: "tray backend: " in _log_text(env), interval=0.01, what="the backend")
        agent.proc.send_signal(signal.SIGTERM)
        assert agent.wait() == 0, agent.text()
        assert wait_until(lambda: trayer.icons() == [], what="no icon") is True


def test_default_backend_choice_docks_too(
    desktop_env: dict[str, str],
    secret_service: SecretServiceInfo,
    trayer: TrayHost,
    agents: list[Agent],
    tmp_path: Path,
) -> None:
    """No PYSTRAY_BACKEND: AppIndicator if its typelib is there (it falls back to an XEmbed
    icon in trayer), else GTK; never pystray's menu-less xorg backend."""
    assert "PYSTRAY_BACKEND" not in desktop_env
    with LibredeskServer(api_key=KEY, api_secret=SECRET) as server:
        _login(desktop_env, server)
        agent = _start(agents, desktop_env, tmp_path, "run")
        icon = _icon(trayer, agent, "presence-agent: Available")
        _open_menu(trayer.display, icon)
        key(trayer.display, "End", "Return")
        assert agent.wait() == 0, agent.text()
        assert "tray backend: xorg" not in _log_text(desktop_env)
        assert server.puts()[-1] == ("offline", "user")


# -- sign in from the tray --------------------------------------------------------------------


def _xdotool(display: str, *args: str) -> str:
    result = subprocess.run(
        ["xdotool", *args],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.stdout if result.returncode == 0 else ""


def test_sign_in_and_out_from_the_tray_menu(
    env: dict[str, str], trayer: TrayHost, agents: list[Agent], tmp_path: Path
) -> None:
    display = trayer.display
    with LibredeskServer(api_key=KEY, api_secret=SECRET) as server:
        agent = _start(agents, env, tmp_path, "run")
        icon = _icon(trayer, agent, "presence-agent: signed out")

        # Signed out, nothing configured: the status items and "Open Libredesk" are inactive,
        # so from the end: Quit, Start at login, Sign in….
        _open_menu(display, icon)
        key(display, "End", "Up", "Up", "Return")
        dialog = wait_until(
            lambda: _xdotool(
                display, "search", "--onlyvisible", "--name", "Sign in to Libredesk"
            ).split(),
            timeout=WAIT,
            what="the sign-in dialog",
        )[0]
        # The sign-in window (GTK) has the keyboard, its empty server field focused.
        wait_until(
            lambda: _xdotool(display, "getwindowfocus").strip() == dialog,
            timeout=WAIT,
            what="the dialog to take the keyboard",
        )
        _xdotool(display, "type", "--delay", "15", server.url)
        key(display, "Tab")
        _xdotool(display, "type", "--delay", "15", KEY)
        key(display, "Tab")
        _xdotool(display, "type", "--delay", "15", SECRET)
        if SHOTS:
            geometry = dict(
                line.split("=", 1)
                for line in _xdotool(display, "getwindowgeometry", "--shell", dialog).split()
                if "=" in line
            )
            x, y = int(geometry["X"]), int(geometry["Y"])
            w, h = int(geometry["WIDTH"]), int(geometry["HEIGHT"])
            shot = screenshot(display, tmp_path / "signin.png")
            _save(shot, (x, y, x + w, y + h), "signin.png")
        key(display, "Return")

        # The dialog verified, stored, and the running agent picked the credentials up.
        assert server.wait_for_put("available", "user", timeout=WAIT), agent.text()
        _icon(trayer, agent, "presence-agent: Available")
        assert not _xdotool(display, "search", "--onlyvisible", "--name", "Sign in to Libredesk")
        status = _cli(env, "status")
        assert status.returncode == 0, status.stderr
        assert status.stdout.startswith("Available")

        # Sign out: offline first (nobody is left to answer), then the secret goes.
        icon = _icon(trayer, agent, "presence-agent: Available")
        _open_menu(display, icon)
        key(display, *["Down"] * 7, "Return")  # ... Pause, Open Libredesk, Sign out
        assert server.wait_for_put("offline", "user", timeout=WAIT), agent.text()
        icon = _icon(trayer, agent, "presence-agent: signed out")
        status = _cli(env, "status")
        assert status.returncode == 4  # not signed in (presence_agent/exitcodes.py)
        assert "no API secret stored for" in status.stderr
        assert "run `presence-agent login --api-key KEY`" in status.stderr

        # Quit, from the signed-out menu.
        _open_menu(display, icon)
        key(display, "End", "Return")
        assert agent.wait() == 0, agent.text()
        _no_secret_anywhere(agent.text(), _log_text(env))
        # Nothing of GTK's or a library's reaches the terminal in normal use.
        for noise in ("CRITICAL", "Warning", "WARNING **"):
            assert noise not in agent.text(), agent.text()


# -- idle notifications ------------------------------------------------------------------------

# A stand-in org.freedesktop.Notifications service on the private bus: it records each
# notification's summary and body, one per line.
NOTIFICATIONS_SERVICE = textwrap.dedent(
    """\
    import sys
    from gi.repository import Gio, GLib

    XML = '''<node><interface name="org.freedesktop.Notifications">
      <method name="Notify">
        <arg type="s" direction="in"/><arg type="u" direction="in"/>
        <arg type="s" direction="in"/><arg type="s" direction="in"/>
        <arg type="s" direction="in"/><arg type="as" direction="in"/>
        <arg type="a{sv}" direction="in"/><arg type="i" direction="in"/>
        <arg type="u" direction="out"/></method>
      <method name="CloseNotification"><arg type="u" direction="in"/></method>
      <method name="GetCapabilities"><arg type="as" direction="out"/></method>
      <method name="GetServerInformation">
        <arg type="s" direction="out"/><arg type="s" direction="out"/>
        <arg type="s" direction="out"/><arg type="s" direction="out"/></method>
    </interface></node>'''
    log = open(sys.argv[1], "a", buffering=1)
    counter = [0]

    def call(conn, sender, path, iface, method, params, invocation):
        if method == "Notify":
            args = params.unpack()
            log.write(f"{args[3]}|{args[4]}\\n")
            counter[0] += 1
            invocation.return_value(GLib.Variant("(u)", (counter[0],)))
        elif method == "GetCapabilities":
            invocation.return_value(GLib.Variant("(as)", (["body"],)))
        elif method == "GetServerInformation":
            invocation.return_value(GLib.Variant("(ssss)", ("test", "test", "1", "1.2")))
        else:
            invocation.return_value(None)

    def acquired(conn, name):
        log.write("READY\\n")

    def bus_acquired(conn, name):
        info = Gio.DBusNodeInfo.new_for_xml(XML).interfaces[0]
        conn.register_object("/org/freedesktop/Notifications", info, call, None, None)

    Gio.bus_own_name(Gio.BusType.SESSION, "org.freedesktop.Notifications",
                     Gio.BusNameOwnerFlags.NONE, bus_acquired, acquired, None)
    GLib.MainLoop().run()
    """
)


@pytest.fixture
def notifications(env: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    script = tmp_path / "notifications.py"
    script.write_text(NOTIFICATIONS_SERVICE)
    record = tmp_path / "notifications.txt"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(record)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: record.exists() and "READY" in record.read_text(),
            what="the notification service to own its name",
        )
        yield record
    finally:
        proc.terminate()
        proc.wait(10)


def test_idle_away_shows_a_notification(
    env: dict[str, str],
    trayer: TrayHost,
    agents: list[Agent],
    tmp_path: Path,
    notifications: Path,
) -> None:
    with LibredeskServer(api_key=KEY, api_secret=SECRET) as server:
        _login(env, server)
        agent = _start(agents, env, tmp_path, "run", "--away-after", "2")
        _icon(trayer, agent, "presence-agent: Available")
        # Nobody touches anything: idle detection sets away, and says so.
        assert server.wait_for_put("away", "idle", timeout=WAIT), agent.text()
        icon = _icon(trayer, agent, "presence-agent: Away (idle)")
        wait_until(
            lambda: "presence-agent|You're now Away (idle 2 seconds)" in notifications.read_text(),
            timeout=WAIT,
            what="the notification",
        )
        # The first input brings Available back, announced too.
        move_mouse(trayer.display, icon.x - 200, icon.y + 300)
        move_mouse(trayer.display, icon.x - 180, icon.y + 320)
        assert server.wait_for_put("available", "idle", timeout=WAIT), agent.text()
        wait_until(
            lambda: "presence-agent|You're Available again" in notifications.read_text(),
            timeout=WAIT,
            what="the second notification",
        )
        agent.proc.send_signal(signal.SIGTERM)
        assert agent.wait() == 0, agent.text()


# -- timed statuses ----------------------------------------------------------------------------


def _first_menu_item(env: dict[str, str], starting: str) -> str:
    """The newest first-item label the agent read back from its live GTK menu."""

    def found() -> str | None:
        lines = [
            line.split("tray menu first item: ", 1)[1]
            for line in _log_text(env).splitlines()
            if "tray menu first item: " in line
        ]
        return lines[-1] if lines and lines[-1].startswith(starting) else None

    return wait_until(found, timeout=WAIT, what=f"a first menu item {starting!r}")


def test_away_for_15_minutes_from_the_menu_then_shorter_timers_from_the_cli(
    env: dict[str, str], trayer: TrayHost, agents: list[Agent], tmp_path: Path, user_input: Input
) -> None:
    display = trayer.display
    config = Path(env["XDG_CONFIG_HOME"]) / "presence-agent" / "config.toml"
    with LibredeskServer(api_key=KEY, api_secret=SECRET) as server:
        _login(env, server)
        config.write_text(config.read_text() + 'log_level = "DEBUG"\n')
        user_input.touch()
        agent = _start(agents, env, tmp_path, "run", "--away-after", "4")
        icon = _icon(trayer, agent, "presence-agent: Available")

        # Away ▸ (Right opens it: "Until I change it"), Down: "For 15 minutes".
        user_input.touch()
        _open_menu(display, icon)
        key(display, *["Down"] * 3, "Right", "Down", "Return")
        put = server.wait_for_put("away", "user", timeout=WAIT)
        assert put is not None, f"{server.puts()}\n{agent.text()}"
        until = time.localtime(time.time() + 15 * 60)
        # The remaining time, in the tooltip (read from the X window) and the first item.
        icon = wait_until(
            lambda: [
                i for i in trayer.icons() if "(in 15 min)" in i.name or "(in 14 min)" in i.name
            ],
            timeout=WAIT,
            what="the tooltip to say the time left",
        )[0]
        assert icon.name.startswith("presence-agent: Away (manual)"), icon.name
        first = _first_menu_item(env, "Away · back at ")
        assert first.endswith(("(in 15 min)", "(in 14 min)")), first
        assert time.strftime("%H:%M", until)[:4] in first  # the end, to the minute
        assert "(in 1" in _cli(env, "status").stdout

        # Shortened from the CLI, ending while the person types: Available.
        count = len(server.puts())
        result = _cli(env, "set", "away", "--for", "3s")
        assert result.returncode == 0, result.stderr
        for _ in range(10):
            user_input.touch()
            time.sleep(0.4)
        assert server.wait_for_put("available", "user", timeout=WAIT, after=count), agent.text()
        _icon(trayer, agent, "presence-agent: Available (timer ended)")

        # Busy for 5 s, nobody there: an away the agent owns; input brings Available.
        count = len(server.puts())
        assert _cli(env, "set", "busy", "--for", "5s").returncode == 0
        assert server.wait_for_put("away", "user", timeout=WAIT, after=count), agent.text()
        _icon(trayer, agent, "presence-agent: Away (timer ended)")
        count = len(server.puts())
        user_input.touch()
        assert server.wait_for_put("available", "user", timeout=WAIT, after=count), agent.text()

        agent.proc.send_signal(signal.SIGTERM)
        assert agent.wait() == 0, agent.text()


@pytest.mark.parametrize("auth", ["token", "basic"])
def test_the_tooltip_shows_an_echoed_secret_redacted(
    env: dict[str, str],
    trayer: TrayHost,
    agents: list[Agent],
    tmp_path: Path,
    auth: str,
    user_input: Input,
) -> None:
    """The tooltip trayer holds (the icon window's title) while the server echoes the secret
    in a 500's message: the problem is there, with the code, and the secret in no form."""
    from tests import test_e2e_hostile as hostile
    from tests.libredesk_server import ME_PATH

    with LibredeskServer(api_key=hostile.KEY, api_secret=hostile.SECRET) as server:
        result = _cli(
            env,
            *("login", "--server", server.url, "--api-key", hostile.KEY, "--auth", auth),
            "--api-secret-stdin",
            stdin=hostile.SECRET + "\n",
        )
        assert result.returncode == 0, result.stderr
        server.inject_echo(ME_PATH, "message", status=500, count=1000)
        user_input.touch()
        agent = _start(agents, env, tmp_path, "run")

        seen: list[str] = []

        def redacted() -> str | None:
            names = [icon.name for icon in trayer.icons()]
            hostile.assert_clean("\n".join(names), f"the tooltip ({auth})")
            seen[:] = names
            return next((name for name in names if "<redacted>" in name), None)

        try:
            tooltip = wait_until(redacted, timeout=WAIT, what="the problem in the tooltip")
        except TimeoutError:
            logs = _log_text(env)[-3000:]
            raise AssertionError(f"tooltips: {seen}\n{agent.text()}\n{logs}") from None
        assert "500" in tooltip, tooltip
        agent.proc.send_signal(signal.SIGTERM)
        assert agent.wait() == 0, agent.text()
        hostile.assert_clean(agent.text(), f"the tray agent's output ({auth})")
