"""Shared pytest configuration.

The real-desktop fixtures (Xvfb, private D-Bus session bus, gnome-keyring Secret Service,
trayer, desktop_env) live in tests/desktop.py; importing them here registers them for every
test. Their helpers (move_mouse, key, click, screenshot, tray_icons, ...) are imported from
tests.desktop directly where needed.
"""

from tests.desktop import desktop_env, secret_service, session_bus, trayer, xvfb

__all__ = ["desktop_env", "secret_service", "session_bus", "trayer", "xvfb"]
