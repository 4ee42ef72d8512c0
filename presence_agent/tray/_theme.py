"""Which icon artwork suits the panel: light or dark, from what the desktop says.

In order (the first that answers wins):

1. ``$PRESENCE_AGENT_TRAY_THEME`` (``light``/``dark``), then ``tray_theme`` in the
   config when it is not ``auto``;
2. Windows: the taskbar's own setting (``SystemUsesLightTheme``);
3. the freedesktop portal's ``org.freedesktop.appearance`` ``color-scheme``
   (1 prefer dark, 2 prefer light; 0 says nothing), which GNOME, KDE and
   other portals answer;
4. GTK's settings: ``gtk-application-prefer-dark-theme``, or a theme whose
   name says dark (``Adwaita-dark``, ``Arc-Dark``); a named light theme means a
   light panel except on GNOME, whose top bar is dark whatever the theme;
5. dark, as most panels are.

``Theme.DARK`` is the artwork for a dark panel (light strokes), ``Theme.LIGHT``
for a light one. Thread use: the tray's start-up, on the main thread.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

from presence_agent.tray._icons import ENV_THEME, Theme, windows_taskbar_is_light

__all__ = ["detect_theme", "gtk_reading", "portal_color_scheme"]
PORTAL = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
PORTAL_SETTINGS = "org.freedesktop.portal.Settings"

#: ``(theme name, prefers dark)`` from GTK, or ``None`` where GTK is not loaded.
GtkReading = Callable[[], tuple[str, bool] | None]


def portal_color_scheme(bus_address: str | None = None) -> int | None:
    """The portal's ``color-scheme`` (0, 1 or 2), or ``None`` with no portal to ask."""
    try:
        from presence_agent.dbus import Bus, BusUnavailable, Interface
    except ImportError:
        return None
    target = Interface(PORTAL, PORTAL_PATH, PORTAL_SETTINGS)
    try:
        with Bus(bus_address or "SESSION") as bus:
            if not bus.has_owner(PORTAL):
                return None
            reply = bus.try_call(
                target, "ReadOne", "ss", ("org.freedesktop.appearance", "color-scheme")
            )
            if reply is None:  # portals before version 2 have only Read (a nested variant)
                reply = bus.try_call(
                    target, "Read", "ss", ("org.freedesktop.appearance", "color-scheme")
                )
    except BusUnavailable:
        return None
    value = reply[0] if reply else None
    while isinstance(value, tuple) and len(value) == 2:  # (signature, value), maybe nested
        value = value[1]
    return value if isinstance(value, int) and value in (0, 1, 2) else None


def gtk_reading() -> tuple[str, bool] | None:
    """GTK's theme name and dark preference, if GTK is loaded here (the tray loads it)."""
    if "gi.repository.Gtk" not in sys.modules:
        return None
    from gi.repository import Gtk

    settings = Gtk.Settings.get_default()
    if settings is None:
        return None
    name = settings.get_property("gtk-theme-name") or ""
    return str(name), bool(settings.get_property("gtk-application-prefer-dark-theme"))


def detect_theme(
    env: Mapping[str, str] | None = None,
    platform: str = sys.platform,
    preference: str = "auto",
    *,
    portal: Callable[[], int | None] | None = None,
    gtk: GtkReading = gtk_reading,
) -> Theme:
    """The artwork for this panel; see the module docstring for the order."""
    environ = os.environ if env is None else env
    for asked in (environ.get(ENV_THEME, ""), preference):
        wanted = asked.strip().lower()
        if wanted in (Theme.DARK.value, Theme.LIGHT.value):
            return Theme(wanted)
    if platform == "win32":
        return Theme.LIGHT if windows_taskbar_is_light() else Theme.DARK
    if platform == "darwin":
        return Theme.DARK  # the menu bar follows the wallpaper; the artwork is drawn for dark
    scheme = (portal or (lambda: portal_color_scheme(environ.get("DBUS_SESSION_BUS_ADDRESS"))))()
    if scheme == 1:
        return Theme.DARK
    if scheme == 2:
        return Theme.LIGHT
    reading = gtk()
    if reading is not None:
        name, prefers_dark = reading
        if prefers_dark or "dark" in name.lower():
            return Theme.DARK
        if name and "GNOME" not in environ.get("XDG_CURRENT_DESKTOP", "").upper():
            return Theme.LIGHT
    return Theme.DARK
