"""The tray in a real StatusNotifierItem host: xfce4-panel 4.18 with openbox on Xvfb.

The AppIndicator backend exports the icon and its menu over D-Bus; the panel draws
them. Clicked with xdotool: choosing Away changes the server and the icon; and a status
change while the menu is open changes the menu in place, so it stays open.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from PIL import Image

from tests import test_e2e_hostile as hostile
from tests.agent_process import AgentProcess, login, run_cli
from tests.desktop import (
    Input,
    MenuNode,
    click,
    find_colour,
    key,
    make_desktop_env,
    menu_keys,
    move_mouse,
    open_menus,
    running_secret_service,
    running_session_bus,
    running_xfce_panel,
    running_xvfb,
    screenshot,
    sni_menu,
    wait_until,
)
from tests.libredesk_server import ME_PATH, LibredeskServer

pytestmark = [pytest.mark.desktop, pytest.mark.tray]

KEY = "sni-key"
SECRET = "sni-secret-4x"
GREEN = (0x00, 0x9E, 0x73)  # Available (assets/tray-icons.toml)
ORANGE = (0xE6, 0x9F, 0x00)  # Away
PANEL = (0, 0, 800, 32)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[dict[str, str]]:
    with (
        running_xvfb(tmp_path, size=(800, 600)) as display,
        running_session_bus(tmp_path) as bus,
        running_secret_service(bus, tmp_path / "keyring"),
    ):
        env = make_desktop_env(display, bus, tmp_path / "desktop")
        env["PYSTRAY_BACKEND"] = "appindicator"
        with running_xfce_panel(env, tmp_path):
            yield env


def open_menu(display: str, at: tuple[int, int]) -> int:
    move_mouse(display, *at)
    click(display, 1)
    [menu] = wait_until(lambda: open_menus(display), timeout=15, what="the panel's menu")
    return menu.id


def drawn(display: str, path: Path, box: tuple[int, int, int, int]) -> Image.Image | None:
    """The picture at ``box`` once it has text on it and two screenshots in a row agree."""
    first = screenshot(display, path).crop(box)
    second = screenshot(display, path).crop(box)
    darkest, lightest = cast("tuple[int, int]", second.convert("L").getextrema())
    settled = first.tobytes() == second.tobytes() and lightest - darkest > 100
    return second if settled else None


def test_choose_away_in_xfce4_panel_and_the_menu_stays_open_through_a_change(
    desk: dict[str, str], tmp_path: Path
) -> None:
    display = desk["DISPLAY"]
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as server:
        assert login(desk, server.url, KEY, SECRET).returncode == 0
        with AgentProcess(["run"], desk) as agent:
            assert server.wait_for_put("online", "user", timeout=15), agent.output()
            icon = wait_until(
                lambda: find_colour(display, tmp_path, GREEN, PANEL),
                timeout=15,
                what="the green icon in the panel",
            )
            # Away opens its durations; the keys are counted from the menu the agent exports
            # (the status line at the top is not selectable, and the menu grows).
            menu_now = wait_until(
                lambda: sni_menu(desk["DBUS_SESSION_BUS_ADDRESS"]), what="the exported menu"
            )
            open_menu(display, icon)
            key(display, *menu_keys(menu_now, "Away", "Until I change it"))
            assert server.wait_for_put("away_manual", "user", timeout=10), agent.output()
            wait_until(
                lambda: find_colour(display, tmp_path, ORANGE, PANEL),
                timeout=10,
                what="the icon to turn orange",
            )

            # Open it again; a change made elsewhere arrives while it is open.
            menu = open_menu(display, icon)
            [window] = open_menus(display)
            box = (window.x, window.y, window.x + window.width, window.y + window.height)
            before = wait_until(
                lambda: drawn(display, tmp_path / "before.png", box),
                timeout=10,
                what="the panel to finish drawing the menu",
            )
            assert run_cli(["set", "available"], desk).returncode == 0
            assert server.status == "online"

            def redrawn() -> bool:
                menus = open_menus(display)
                if [m.id for m in menus] != [menu]:
                    raise AssertionError(f"the menu closed or was replaced: {menus}")
                after = screenshot(display, tmp_path / "after.png").crop(box)
                return after.tobytes() != before.tobytes()

            wait_until(redrawn, timeout=10, what="the open menu to show the change")
            time.sleep(1.0)  # not a wait for anything: the window in which it must stay open
            assert [m.id for m in open_menus(display)] == [menu], "the menu closed"
            key(display, "Escape")
            assert agent.terminate() == 0, agent.output()


def labels(node: MenuNode | None) -> list[str]:
    """Every label of an exported menu, depth first."""
    if node is None:
        return []
    return [node.label, *(label for child in node.children for label in labels(child))]


@pytest.mark.parametrize("auth", hostile.AUTHS)
def test_the_real_menu_shows_an_echoed_secret_redacted(desk: dict[str, str], auth: str) -> None:
    """The menu xfce4-panel shows, read over D-Bus while the server echoes the secret in a
    problem's message (a 500), then in the agent's name: never the secret in any form."""
    bus = desk["DBUS_SESSION_BUS_ADDRESS"]
    key_, secret = hostile.KEY, hostile.SECRET
    with LibredeskServer(dialect="libredesk", api_key=key_, api_secret=secret) as server:
        assert login(desk, server.url, key_, secret, "--auth", auth).returncode == 0
        server.inject_echo(ME_PATH, "message", status=500, count=1000)
        Input(desk["DISPLAY"]).touch()
        with AgentProcess(["run"], desk) as agent:

            def shows_redacted() -> list[str] | None:
                shown = labels(sni_menu(bus))
                hostile.assert_clean("\n".join(shown), f"the tray menu ({auth})")
                return shown if any("<redacted>" in label for label in shown) else None

            problem = wait_until(shows_redacted, timeout=30, what="the problem in the menu")
            assert any("500" in label for label in problem), problem
            server.clear_faults()
            server.inject_echo(ME_PATH, "first_name", count=1000)
            assert server.wait_for_put("online", "user", timeout=30), agent.output()
            # The menu does not show the name; with it echoed, what the menu says once the
            # problem is gone stays clean all the same.

            def recovered() -> list[str] | None:
                shown = labels(sni_menu(bus))
                hostile.assert_clean("\n".join(shown), f"the tray menu, name echoed ({auth})")
                return shown if shown and not any("<redacted>" in x for x in shown) else None

            wait_until(recovered, timeout=30, what="the menu without the problem")
            assert agent.terminate() == 0, agent.output()
            hostile.assert_clean(agent.output(), f"the tray agent's output ({auth})")
    hostile.assert_clean(hostile.log_text(desk), f"the tray agent's logs ({auth})")
