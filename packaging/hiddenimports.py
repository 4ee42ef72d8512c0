"""What PyInstaller cannot find by reading imports, per OS.

pystray and pynput pick their backend at run time (``from . import _xorg as
backend`` inside a function, chosen by ``sys.platform`` or ``PYSTRAY_BACKEND``),
and keyring finds its backends through entry points. PyInstaller only follows
imports it can see, so each backend a frozen app might choose is named here.
The contrib hooks for pynput/pystray/keyring collect much of this too; naming
it keeps the build independent of what a given hooks release happens to do.

presence-agent.spec reads this file, and tests/test_packaging.py checks that
every name is a real module, so a renamed backend fails a test, not a user.
"""

from __future__ import annotations

# keyring backends needed everywhere: the chainer and the "no keyring" ones
# that produce keyring's clear error instead of an ImportError.
_COMMON = (
    "keyring.backends.chainer",
    "keyring.backends.fail",
    "keyring.backends.null",
)

MODULES: dict[str, tuple[str, ...]] = {
    "linux": (
        "pynput._util.xorg",
        "pynput._util.xorg_keysyms",
        "pynput.keyboard._xorg",
        "pynput.mouse._xorg",
        # AppIndicator and GTK are the Linux backends with a menu; xorg is the
        # fallback that at least shows the icon.
        "pystray._appindicator",
        "pystray._gtk",
        "pystray._xorg",
        "pystray._util.gtk",
        "pystray._util.notify_dbus",
        "keyring.backends.SecretService",
        "keyring.backends.libsecret",
        "keyring.backends.kwallet",
        "secretstorage",
        "jeepney.io.blocking",
        *_COMMON,
    ),
    "win32": (
        "pynput._util.win32",
        "pynput._util.win32_vks",
        "pynput.keyboard._win32",
        "pynput.mouse._win32",
        "pystray._win32",
        "pystray._util.win32",
        "keyring.backends.Windows",
        "win32ctypes.pywin32",
        "win32ctypes.core",
        *_COMMON,
    ),
    "darwin": (
        "pynput._util.darwin",
        "pynput._util.darwin_vks",
        "pynput.keyboard._darwin",
        "pynput.mouse._darwin",
        "pystray._darwin",
        "keyring.backends.macOS",
        "keyring.backends.macOS.api",
        *_COMMON,
    ),
}

#: GObject-introspection namespaces the Linux tray backends load, with the
#: version they ask for and whether the build must have them. PyInstaller's gi
#: hooks bundle each one's typelib and shared libraries.
GI_NAMESPACES: tuple[tuple[str, str, bool], ...] = (
    ("GLib", "2.0", True),
    ("GObject", "2.0", True),
    ("Gio", "2.0", True),
    ("Gtk", "3.0", True),
    ("Gdk", "3.0", True),
    # pystray's GTK notifications.
    ("DBus", "1.0", True),
    # Only one of the two AppIndicator flavours exists on a given build host;
    # without either the frozen app falls back to GTK's XEmbed tray icon.
    ("AyatanaAppIndicator3", "0.1", False),
    ("AppIndicator3", "0.1", False),
)


def platform_key(platform: str) -> str:
    """``linux``, ``win32`` or ``darwin`` for a ``sys.platform`` value."""
    if platform.startswith(("win32", "cygwin")):
        return "win32"
    if platform == "darwin":
        return "darwin"
    return "linux"
