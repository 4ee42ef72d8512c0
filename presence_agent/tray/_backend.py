"""Choosing pystray's backend, and finding out *before* blocking whether a tray can work.

pystray picks its backend when it is first imported, from ``$PYSTRAY_BACKEND``
or its own list. On Linux that list ends with ``xorg``, which has no menu (and
raises Xlib errors, not ImportError, without a display). So this module
imports pystray itself, trying only the backends with a menu: AppIndicator,
then GTK. ``$PYSTRAY_BACKEND`` still overrides.

Thread use: :func:`load_pystray` runs once, on the main thread, at start-up.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from types import ModuleType

log = logging.getLogger(__name__)

ENV_BACKEND = "PYSTRAY_BACKEND"
#: Linux backends with a menu, best first. AppIndicator speaks StatusNotifierItem
#: (KDE, GNOME with the AppIndicator extension) and falls back to an XEmbed icon
#: itself; GTK's StatusIcon is XEmbed only.
LINUX_BACKENDS = ("appindicator", "gtk")
#: Backends built on GTK/GLib: their loop is GLib's.
GLIB_BACKENDS = frozenset({"appindicator", "gtk"})
GTK_HINT = (
    "pystray needs PyGObject for a tray menu on Linux: pip install 'presence-agent[gtk]'"
    " (Debian/Ubuntu: apt install python3-gi gir1.2-gtk-3.0 gir1.2-ayatanaappindicator3-0.1)"
)


class TrayUnavailable(Exception):
    """No tray can be shown here. The text says why; the agent then runs headless."""


def is_linux_like(platform: str = sys.platform) -> bool:
    return platform not in ("win32", "cygwin", "darwin")


def check_session(env: Mapping[str, str], platform: str = sys.platform) -> None:
    """Raise :class:`TrayUnavailable` if this session has no display or no tray host."""
    if not is_linux_like(platform):
        return
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        raise TrayUnavailable("no graphical session (DISPLAY is not set), so no tray icon")
    from presence_agent.autostart import tray_host_present

    if not tray_host_present(env):
        raise TrayUnavailable(
            "no system tray found (no StatusNotifierWatcher on the session bus and no X11"
            " system tray); on GNOME, enable the AppIndicator extension"
        )


def backend_name(pystray: ModuleType) -> str:
    """``gtk``, ``appindicator``, ``win32``... for the imported pystray."""
    module = getattr(pystray.Icon, "__module__", "")
    return str(module).rsplit(".", 1)[-1].lstrip("_")


def load_pystray(env: Mapping[str, str] | None = None, platform: str = sys.platform) -> ModuleType:
    """Import pystray with a backend that has a menu, or raise :class:`TrayUnavailable`."""
    environ = os.environ if env is None else env
    loaded = sys.modules.get("pystray")
    if loaded is not None and hasattr(loaded, "Icon"):
        return loaded
    forced = environ.get(ENV_BACKEND, "").strip()
    candidates: tuple[str | None, ...]
    if forced:
        candidates = (forced,)
    elif is_linux_like(platform):
        candidates = LINUX_BACKENDS
    else:
        candidates = (None,)  # pystray's own choice: win32, darwin
    errors = []
    for name in candidates:
        try:
            with _backend_env(name):
                import pystray
        # pystray's import runs the backend's set-up: Gtk.init, Xlib connections.
        # Whatever that raises means "not this backend".
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{name or 'default'}: {str(exc) or type(exc).__name__}")
            _forget_pystray()
            continue
        _quiet_glib()
        if forced == "xorg":
            log.warning("PYSTRAY_BACKEND=xorg has no menu: the tray can only show the status")
        log.info("tray backend: %s", backend_name(pystray))
        module: ModuleType = pystray
        return module
    hint = f"; {GTK_HINT}" if is_linux_like(platform) and not _has_gi() else ""
    raise TrayUnavailable(f"no usable tray backend ({'; '.join(errors)}){hint}")


def _quiet_glib() -> None:
    """GTK's own assertions (a ``Gdk-CRITICAL`` at every tray start) go to the log, not stderr."""
    glib = sys.modules.get("gi.repository.GLib")
    if glib is None:
        return  # not a GLib backend (win32, darwin, xorg)
    from presence_agent import quiet

    quiet.route_glib_messages(glib)


def check_glib_session_bus() -> None:
    """pystray's GLib backends need a session bus (for notifications): check before running.

    Without one, ``Icon.run()`` raises before the icon is ready and leaves its
    set-up thread waiting forever, so the process could never exit.
    """
    try:
        from gi.repository import Gio, GLib
    except ImportError as exc:  # pragma: no cover - the backend imported gi already
        raise TrayUnavailable(f"PyGObject is missing: {exc}") from None
    try:
        Gio.bus_get_sync(Gio.BusType.SESSION, None)
    except GLib.Error as exc:
        raise TrayUnavailable(f"no D-Bus session bus for the tray ({exc.message})") from None


@contextlib.contextmanager
def _backend_env(name: str | None) -> Iterator[None]:
    """Set ``$PYSTRAY_BACKEND`` (and ``$GDK_GL``) for pystray's import only.

    Restored at once so programs we start later (the browser, the sign-in
    dialog) do not inherit it. This runs on the main thread at start-up; the
    other threads never read it.

    ``GDK_GL=disable``: the icon and its menu draw nothing with OpenGL, but
    GTK 3 on X11 opens GLX while it initialises (during this import), only to
    pick a visual, and that maps the whole Mesa driver: with llvmpipe,
    libLLVM alone is ~45 MB of RSS. Peak RSS of the tray agent 141 -> 86 MB
    (benchmarks/). GTK reads it only then; one the person set is kept.
    """
    changes = {}
    if name is not None:
        changes[ENV_BACKEND] = name
    if "GDK_GL" not in os.environ:
        changes["GDK_GL"] = "disable"
    old = {key: os.environ.get(key) for key in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _forget_pystray() -> None:
    """Drop a half-imported pystray so the next backend gets a clean import."""
    for module in [m for m in sys.modules if m == "pystray" or m.startswith("pystray.")]:
        del sys.modules[module]


def _has_gi() -> bool:
    import importlib.util

    return importlib.util.find_spec("gi") is not None
