"""Shared pytest configuration.

The real-desktop fixtures (Xvfb, private D-Bus session bus, gnome-keyring Secret Service,
trayer, desktop_env) live in tests/desktop.py; importing them here registers them for every
test. Their helpers (move_mouse, key, click, screenshot, tray_icons, ...) are imported from
tests.desktop directly where needed.
"""

import pytest

from tests.desktop import (
    Input,
    SecretServiceInfo,
    desktop_env,
    secret_service,
    session_bus,
    trayer,
    xvfb,
)

__all__ = ["desktop_env", "env", "secret_service", "session_bus", "trayer", "user_input", "xvfb"]


@pytest.fixture
def env(desktop_env: dict[str, str], secret_service: SecretServiceInfo) -> dict[str, str]:
    """A desktop for the real agent process: display, bus, an unlocked keyring, private dirs."""
    return desktop_env


@pytest.fixture
def user_input(env: dict[str, str]) -> Input:
    """The person at the keyboard: real pointer moves on the test display."""
    return Input(env["DISPLAY"])
