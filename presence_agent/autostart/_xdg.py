"""Start at login on Linux and other XDG desktops: an autostart ``.desktop`` entry.

Follows the Desktop Application Autostart Specification: the desktop starts every
``autostart/*.desktop`` it finds in ``$XDG_CONFIG_HOME`` and ``$XDG_CONFIG_DIRS``,
and a file in the user's directory hides a system-wide file of the same name.
An entry with ``Hidden=true`` counts as deleted, which is how a user turns off an
entry an administrator put in ``/etc/xdg/autostart`` without being able to remove it.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from presence_agent.autostart._state import AutostartState, write_atomically
from presence_agent.i18n import N_

ENTRY_NAME = "presence-agent.desktop"

# GNOME's session manager starts entries in parallel with the shell; this small
# delay lets the top bar (and the AppIndicator extension) come up first. Other
# desktops ignore the key, which is why the entry also passes --start-delay.
GNOME_DELAY_SECONDS = 3

# The spec's reserved characters: an argument containing any of them must be quoted.
_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
# Inside a quoted argument these four must be backslash-escaped.
_ESCAPED_IN_QUOTES = frozenset('"`$\\')


@dataclass(frozen=True)
class XdgAutostart:
    """The user's autostart directory and the system-wide ones it overrides."""

    user_dir: Path
    system_dirs: tuple[Path, ...]
    #: An absolute icon file or an icon-theme name.
    icon: str

    @classmethod
    def from_env(cls, env: Mapping[str, str], home: Path, icon: str) -> XdgAutostart:
        # Base Directory spec: unset or empty means the default, and relative
        # paths are invalid and must be ignored.
        config_home = env.get("XDG_CONFIG_HOME", "")
        user = Path(config_home) if os.path.isabs(config_home) else home / ".config"
        dirs = [d for d in env.get("XDG_CONFIG_DIRS", "").split(":") if os.path.isabs(d)]
        return cls(
            user_dir=user / "autostart",
            system_dirs=tuple(Path(d) / "autostart" for d in dirs or ["/etc/xdg"]),
            icon=icon,
        )

    @property
    def user_entry(self) -> Path:
        return self.user_dir / ENTRY_NAME

    def _system_entry(self) -> Path | None:
        for directory in self.system_dirs:
            candidate = directory / ENTRY_NAME
            if candidate.is_file():
                return candidate
        return None

    def status(self) -> AutostartState:
        user = self.user_entry
        system = self._system_entry()
        path = user if user.is_file() else system
        if path is None:
            return AutostartState(enabled=False, where=str(user), note=N_("no entry"))
        keys = parse_entry(path.read_text(encoding="utf-8", errors="replace"))
        command = tuple(split_exec(keys["Exec"])) if "Exec" in keys else None
        if keys.get("Hidden", "").strip() == "true":
            hides = f"; it hides {system}" if system is not None and path == user else ""
            return AutostartState(False, str(path), command, f"Hidden=true{hides}")
        if keys.get("X-GNOME-Autostart-enabled", "").strip() == "false":
            # GNOME Tweaks and some session editors switch entries off this way.
            return AutostartState(False, str(path), command, "X-GNOME-Autostart-enabled=false")
        return AutostartState(True, str(path), command)

    def enable(self, command: Sequence[str]) -> AutostartState:
        # Rewriting the whole file also drops a Hidden=true or a GNOME "off"
        # left by an earlier disable, and points Exec at this installation.
        write_atomically(self.user_entry, render_entry(command, self.icon))
        return self.status()

    def disable(self) -> AutostartState:
        system = self._system_entry()
        if system is None:
            self.user_entry.unlink(missing_ok=True)
        else:
            # Deleting our file would let the system-wide one start the app, and
            # the user cannot delete that one; the spec's answer is Hidden=true.
            exec_value = parse_entry(system.read_text(encoding="utf-8", errors="replace")).get(
                "Exec", "presence-agent run"
            )
            write_atomically(self.user_entry, _render_hidden(exec_value, system))
        return self.status()


def render_entry(command: Sequence[str], icon: str) -> str:
    """The autostart entry that runs ``command``; it passes desktop-file-validate."""
    return "\n".join(
        [
            "[Desktop Entry]",
            "Type=Application",
            "Name=Presence Agent",
            "GenericName=Helpdesk availability",
            "Comment=Keeps your Libredesk availability true to whether you are at your desk",
            f"Exec={_escape_string(join_exec(command))}",
            f"Icon={_escape_string(icon)}",
            "Terminal=false",
            # The tray app never maps a window, so startup notification would
            # only show a busy cursor until it timed out.
            "StartupNotify=false",
            "X-GNOME-Autostart-enabled=true",
            f"X-GNOME-Autostart-Delay={GNOME_DELAY_SECONDS}",
            "",
        ]
    )


def _render_hidden(exec_value: str, system: Path) -> str:
    return "\n".join(
        [
            "[Desktop Entry]",
            "Type=Application",
            "Name=Presence Agent",
            f"Comment=Turns off {_escape_string(str(system))} for this user",
            f"Exec={exec_value}",
            "Hidden=true",
            "",
        ]
    )


def join_exec(argv: Sequence[str]) -> str:
    """An Exec value (before string escaping) that a desktop splits back into ``argv``."""
    return " ".join(_quote_arg(arg.replace("%", "%%")) for arg in argv)


def _quote_arg(arg: str) -> str:
    # Any other whitespace is quoted too, so that no parser's idea of where a
    # line or a value ends can cut an argument short.
    if arg and not _RESERVED.intersection(arg) and not any(c.isspace() for c in arg):
        return arg
    inner = "".join("\\" + c if c in _ESCAPED_IN_QUOTES else c for c in arg)
    return f'"{inner}"'


def _escape_string(value: str) -> str:
    # The spec's escapes for string values; they apply on top of Exec quoting,
    # which is why a backslash inside a quoted Exec argument ends up as four.
    return (
        value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    )


def _unescape_string(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for c in chars:
        if c != "\\":
            out.append(c)
            continue
        nxt = next(chars, "")
        out.append({"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(nxt, "\\" + nxt))
    return "".join(out)


def split_exec(value: str) -> list[str]:
    """The argv an Exec value runs. Field codes such as ``%U`` expand to nothing here."""
    # Field codes first, over the whole line, as GLib does; then the quoting.
    line = re.sub(r"%(.?)", lambda m: "%" if m.group(1) == "%" else "", _unescape_string(value))
    args: list[str] = []
    current: list[str] | None = None
    chars = iter(line)
    for c in chars:
        if c == " ":
            if current is not None:
                args.append("".join(current))
            current = None
            continue
        current = current if current is not None else []
        if c != '"':
            current.append(c)
            continue
        for q in chars:
            if q == '"':
                break
            current.append(next(chars, "") if q == "\\" else q)
    if current is not None:
        args.append("".join(current))
    return args


def parse_entry(text: str) -> dict[str, str]:
    """The unlocalised keys of the ``[Desktop Entry]`` group, values still escaped."""
    keys: dict[str, str] = {}
    in_entry = False
    # Only "\n" ends a line here, as in GLib; str.splitlines would also split
    # on characters such as U+2028 that may be part of a path.
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            in_entry = line == "[Desktop Entry]"
            continue
        key, sep, value = line.partition("=")
        if in_entry and sep and "[" not in key:
            keys.setdefault(key.strip(), value.strip())
    return keys


def tray_host_present(env: Mapping[str, str]) -> bool:
    """Whether the session has somewhere to put a tray icon yet.

    Either a StatusNotifierWatcher on the session bus (what AppIndicator uses) or
    an X11 system tray (what GTK's StatusIcon and pystray's xorg backend use).
    """
    return _status_notifier_watcher(env) or _xembed_tray(env)


def _status_notifier_watcher(env: Mapping[str, str]) -> bool:
    address = env.get("DBUS_SESSION_BUS_ADDRESS")
    if not address:
        return False
    try:
        from presence_agent.dbus import Bus

        with Bus(address) as bus:
            return bus.has_owner("org.kde.StatusNotifierWatcher")
    # A probe, not a dependency: any failure (no bus, no jeepney, a refused
    # connection, an error reply) only means "not yet", and the deadline holds.
    except Exception:  # noqa: BLE001
        return False


def _xembed_tray(env: Mapping[str, str]) -> bool:
    name = env.get("DISPLAY", "")
    if not _x_server_listens(name):
        return False
    try:
        from Xlib.display import Display

        display = Display(name)
        try:
            atom = display.intern_atom(f"_NET_SYSTEM_TRAY_S{display.get_default_screen()}")
            owner = display.get_selection_owner(atom)
            # A window resource, or X.NONE (0) when nobody owns the selection.
            owner_id: int = getattr(owner, "id", owner)
            return owner_id != 0
        finally:
            display.close()
    except Exception:  # noqa: BLE001 -- the same reasoning as for the D-Bus probe
        return False


def _x_server_listens(display: str) -> bool:
    """Whether a local X server accepts connections on ``display``.

    python-xlib leaks its socket when a connection fails, and the probe runs in a
    loop while the session starts; so find out first, closing what we open. Remote
    (TCP) displays are not probed at all: the caller's deadline covers them.
    """
    match = re.fullmatch(r"(?:unix)?:(\d+)(?:\.\d+)?", display)
    if match is None:
        return False
    path = f"/tmp/.X11-unix/X{match[1]}"  # noqa: S108 -- the X11 socket's fixed place
    family = getattr(socket, "AF_UNIX", None)  # absent on Windows, which has no X sockets
    if family is None:
        return False
    # Linux X servers also listen on the same name in the abstract namespace.
    for address in (path, "\0" + path):
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            try:
                sock.connect(address)
            except OSError:
                continue
            return True
    return False
