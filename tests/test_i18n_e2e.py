"""The person's language end to end: the real tray, its notifications, the sign-in window
and the CLI, each as a separate real process whose environment names the language.

- Under ``LANGUAGE=de`` the real tray (pystray's GTK backend in trayer on Xvfb) shows German:
  the tooltip, the first menu item and every item as read back from the live GTK menu, and
  an idle notification as a notification service on the session bus received it.
- The sign-in window's title is German (``xdotool search --name``), and it and the open tray
  menu fit their longest words: both lie wholly on the screen and grow with the words rather
  than cut them (compared with English). A screenshot of each, per language, is kept with
  ``PRESENCE_AGENT_SCREENSHOTS=<dir>``.
- ``presence-agent status`` and a CLI error speak French under ``LANGUAGE=fr``, and English
  under ``LANGUAGE=xx`` (a language with no catalog: a fallback, never an error).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.desktop import SCREEN, TrayHost, key, screenshot, wait_until
from tests.libredesk_server import LibredeskServer
from tests.test_tray_e2e import (
    KEY,
    SECRET,
    WAIT,
    Agent,
    _agent_argv,
    _cli,
    _icon,
    _log_text,
    _open_menu,
    _start,
    _xdotool,
    agents,
    env,
    notifications,
)

__all__ = ["agents", "env", "notifications"]

SHOTS = os.environ.get("PRESENCE_AGENT_SCREENSHOTS")


def _german(env: dict[str, str]) -> dict[str, str]:
    # LANG names an English locale on purpose: LANGUAGE comes first (gettext's order).
    return {**env, "LANGUAGE": "de", "LANG": "C.UTF-8", "PYSTRAY_BACKEND": "gtk"}


def _login(env: dict[str, str], server: LibredeskServer) -> subprocess.CompletedProcess[str]:
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
    return result


def _debug_log(env: dict[str, str]) -> None:
    config = Path(env["XDG_CONFIG_HOME"]) / "presence-agent" / "config.toml"
    config.write_text(config.read_text() + 'log_level = "DEBUG"\n')


def _menu_items(env: dict[str, str], first: str) -> list[str]:
    """The newest labels the agent read back from its live GTK menu, once the first is ``first``."""

    def found() -> list[str] | None:
        lines = [
            line.split("tray menu items: ", 1)[1].split(" | ")
            for line in _log_text(env).splitlines()
            if "tray menu items: " in line
        ]
        return lines[-1] if lines and lines[-1][0].startswith(first) else None

    return wait_until(found, timeout=WAIT, what=f"menu items starting {first!r}")


def _save(shot_path: Path, box: tuple[int, int, int, int], name: str) -> None:
    if SHOTS:
        from PIL import Image

        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        with Image.open(shot_path) as shot:
            shot.crop(box).save(Path(SHOTS) / name)


def _menu_width(
    env: dict[str, str], trayer: TrayHost, agent: Agent, title: str, shot: Path, name: str
) -> int:
    """Open the menu, check it lies wholly on the screen, keep its picture; its width."""
    display = trayer.display
    icon = _icon(trayer, agent, title)
    menu = _open_menu(display, icon)
    screenshot(display, shot)
    key(display, "Escape")
    assert menu.x >= 0, menu
    assert menu.y >= 0, menu
    assert menu.x + menu.width <= SCREEN[0], menu
    assert menu.y + menu.height <= SCREEN[1], menu
    _save(shot, (menu.x, menu.y, menu.x + menu.width, menu.y + menu.height), name)
    return menu.width


@pytest.mark.desktop
@pytest.mark.tray
@pytest.mark.slow
def test_the_tray_and_its_notifications_speak_german(
    env: dict[str, str],
    trayer: TrayHost,
    agents: list[Agent],
    tmp_path: Path,
    notifications: Path,
) -> None:
    german = _german(env)
    with LibredeskServer(api_key=KEY, api_secret=SECRET) as server:
        login = _login(german, server)
        assert login.stdout.startswith(f"Bei {server.url} als "), login.stdout
        _debug_log(german)
        agent = _start(agents, german, tmp_path, "run", "--away-after", "2")
        # The tooltip, read from the X window: the status in Libredesk's own German word.
        _icon(trayer, agent, "presence-agent: Erreichbar")
        items = _menu_items(german, "Erreichbar")
        assert items[1:] == [
            "",  # a separator
            "Erreichbar",
            "Beschäftigt",
            "Abwesend",
            "Nicht erreichbar",
            "",
            "Inaktivitätserkennung pausieren",
            "Libredesk öffnen",
            "Abmelden",
            "Beim Anmelden starten",
            "Beenden",
        ], items
        # Nobody touches anything: idle detection sets away, and says so, in German.
        assert server.wait_for_put("away", "idle", timeout=WAIT), agent.text()
        wait_until(
            lambda: (
                "presence-agent|Sie sind jetzt abwesend (seit 2 Sekunden inaktiv)"
                in notifications.read_text()
            ),
            timeout=WAIT,
            what="the German notification",
        )
        _icon(trayer, agent, "presence-agent: Abwesend (inaktiv)")
        first = _menu_items(german, "Abwesend")[0]
        assert first.startswith("Abwesend · inaktiv seit "), first
        # No English left in what the person reads.
        assert "You're" not in notifications.read_text()
        # Logs stay English, whatever the person reads.
        assert "started (idle source" in _log_text(german)


#: The tooltip's start once signed in, per language.
AVAILABLE_TITLES = {
    "en": "presence-agent: Available",
    "de": "presence-agent: Erreichbar",
    "es": "presence-agent: En línea",
    "fr": "presence-agent : En ligne",
    "pt_BR": "presence-agent: Conectado",
}


@pytest.mark.desktop
@pytest.mark.tray
@pytest.mark.slow
def test_the_tray_menu_fits_its_words_in_every_language(
    env: dict[str, str], trayer: TrayHost, agents: list[Agent], tmp_path: Path
) -> None:
    """Signed in on a real Libredesk (whose statuses include the longest label, "Away,
    reassign my conversations"), the open menu lies wholly on the screen in every language,
    and the German one (the longest words) is wider than the English one: the menu grows
    with its words rather than cutting them."""
    widths = {}
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as server:
        _login(env, server)
        for language, title in AVAILABLE_TITLES.items():
            speaking = {**env, "LANGUAGE": language, "PYSTRAY_BACKEND": "gtk"}
            agent = _start(agents, speaking, tmp_path, "run")
            widths[language] = _menu_width(
                speaking, trayer, agent, title, tmp_path / "menu.png", f"menu-{language}.png"
            )
            agent.proc.terminate()
            assert agent.wait() == 0, agent.text()
            wait_until(lambda: trayer.icons() == [], timeout=WAIT, what="the icon to go")
    assert widths["de"] > widths["en"], widths


def _dialog(env: dict[str, str], title: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [*_agent_argv(), "_signin-dialog"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def window() -> str | None:
        if proc.poll() is not None:
            raise AssertionError(f"the dialog exited: {proc.communicate(timeout=10)}")
        found = _xdotool(env["DISPLAY"], "search", "--onlyvisible", "--name", title).split()
        return found[0] if found else None

    return proc, wait_until(window, timeout=WAIT, what=f"a window titled {title!r}")


def _geometry(display: str, window: str) -> tuple[int, int, int, int]:
    shell = _xdotool(display, "getwindowgeometry", "--shell", window)
    values = dict(line.split("=", 1) for line in shell.split() if "=" in line)
    return int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"])


#: The sign-in window's title, per language.
SIGN_IN_TITLES = {
    "en": "Sign in to Libredesk",
    "de": "Bei Libredesk anmelden",
    "es": "Iniciar sesión en Libredesk",
    "fr": "Se connecter à Libredesk",
    "pt_BR": "Entrar no Libredesk",
}


@pytest.mark.desktop
def test_the_sign_in_window_speaks_each_language_and_fits_it(
    desktop_env: dict[str, str], tmp_path: Path
) -> None:
    """The window found by its translated title (``xdotool search --name``), wholly on the
    screen in every language; the German one takes at least the room of the English one (GTK
    wraps and widens the form for longer words instead of cutting them)."""
    display = desktop_env["DISPLAY"]
    areas = {}
    for language, title in SIGN_IN_TITLES.items():
        proc, window = _dialog({**desktop_env, "LANGUAGE": language}, title)
        try:
            x, y, width, height = _geometry(display, window)
            shot = tmp_path / f"signin-{language}.png"
            assert screenshot(display, shot).size == SCREEN
            assert x >= 0
            assert y >= 0
            assert x + width <= SCREEN[0], (x, width)
            assert y + height <= SCREEN[1], (y, height)
            _save(shot, (x, y, x + width, y + height), f"signin-{language}.png")
            areas[language] = width * height
        finally:
            proc.terminate()
            proc.communicate(timeout=10)
    # GTK sizes the window to its content (labels wrap, nothing is ellipsized): the longer
    # German words take at least the room of the English ones.
    assert areas["de"] >= areas["en"], areas


# -- the CLI -------------------------------------------------------------------------------------


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_agent_argv(), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.desktop
def test_status_and_an_error_speak_french_and_an_unknown_language_falls_back(
    env: dict[str, str],
) -> None:
    french = {**env, "LANGUAGE": "fr"}
    unknown = {**env, "LANGUAGE": "xx", "LANG": "xx_YY.UTF-8", "LC_ALL": ""}
    with LibredeskServer(api_key=KEY, api_secret=SECRET) as server:
        _login(env, server)
        status = _run(french, "status")
        assert status.returncode == 0, status.stderr
        lines = status.stdout.splitlines()
        assert lines[0] == "Hors ligne", status.stdout
        assert lines[1].startswith(f"  serveur : {server.url} (dialecte documented)"), lines
        assert "  agent : ne tourne pas (lancez-le avec `presence-agent run`)" in lines
        assert status.stderr == ""

        error = _run(french, "set", "lunch")
        assert error.returncode == 2  # bad input (presence_agent/exitcodes.py)
        assert error.stderr.startswith(
            "presence-agent: statut inconnu 'lunch' ; utilisez l'un de"
        ), error.stderr
        assert len(error.stderr.strip().splitlines()) == 1

        status = _run(unknown, "status")
        assert status.returncode == 0, status.stderr
        assert status.stdout.splitlines()[0] == "Offline"
        assert "  agent: not running (start it with `presence-agent run`)" in status.stdout
        assert status.stderr == ""
        error = _run(unknown, "set", "lunch")
        assert error.returncode == 2
        assert error.stderr.startswith("presence-agent: unknown status 'lunch'; use one of:")


@pytest.mark.desktop
def test_a_config_error_speaks_french(env: dict[str, str]) -> None:
    """A bad value in the config file: the real CLI names the file and the key in French
    (the words from presence_agent/config.py, rendered where they are shown), while the
    log stays English."""
    french = {**env, "LANGUAGE": "fr"}
    config = Path(env["XDG_CONFIG_HOME"]) / "presence-agent" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('away_after = "soon"\n')
    error = _run(french, "set", "away")
    assert error.returncode == 2, error.stderr  # bad input (presence_agent/exitcodes.py)
    assert error.stderr == (
        f"presence-agent: {config} : clé 'away_after' doit être un nombre de secondes\n"
    )
    english = _run(env, "set", "away")
    assert english.stderr == (
        f"presence-agent: {config}: key 'away_after' must be a number of seconds\n"
    )

    config.write_text('ca_bundle = "/nonexistent/ca.pem"\n')
    doctor = _run(french, "doctor")
    assert f"{config} : clé 'ca_bundle' : '/nonexistent/ca.pem' n'existe pas" in doctor.stdout, (
        doctor.stdout
    )


@pytest.mark.desktop
def test_a_server_error_speaks_french(env: dict[str, str]) -> None:
    """The real CLI against the test server: a 500 and then no server at all, each one line
    in French (presence_agent/client.py's words, rendered by the CLI); the server's URL and
    code stay as they are."""
    french = {**env, "LANGUAGE": "fr"}
    with LibredeskServer(api_key=KEY, api_secret=SECRET) as server:
        _login(env, server)
        server.inject_status("/api/v1/agents/me", status=500, count=5)
        failed = _run(french, "status")
        assert failed.returncode != 0
        assert failed.stderr.startswith(
            f"presence-agent: {server.url}: le serveur a échoué (HTTP 500"
        ), failed.stderr
        assert len(failed.stderr.strip().splitlines()) == 1
        url = server.url
    gone = _run(french, "status")
    assert gone.returncode != 0
    assert gone.stderr.startswith(f"presence-agent: connexion impossible à {url} : "), gone.stderr
