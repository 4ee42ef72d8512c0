"""Real Wayland compositors for tests: KWin (``kwin_wayland --virtual``) and GNOME's Mutter
(``mutter --headless``), each on a private session bus, with a way to inject real input.

- :func:`running_kwin`: Debian's ``kwin_wayland`` carries the file capability
  ``cap_sys_resource``, which an unprivileged container refuses ("Operation not
  permitted"), so a copy of the binary (without it) runs, with
  ``QT_QPA_PLATFORM=offscreen``. Input goes through KWin's own fake-input protocol
  (``org_kde_kwin_fake_input``, bound from the XML that Debian's
  plasma-wayland-protocols ships, with pywayland's scanner). KWin offers that global
  only to trusted clients; ``KWIN_WAYLAND_NO_PERMISSION_CHECKS=1`` makes the test
  client one.
- :func:`running_mutter`: ``mutter --headless --wayland --no-x11 --virtual-monitor``.
  Input goes through ``org.gnome.Mutter.RemoteDesktop``: a session made with
  ``CreateSession`` and ``Start`` lives only as long as the D-Bus connection that made
  it, so :class:`MutterInput` keeps one connection open for the whole test.

Both start with the test's private HOME and XDG dirs set *before* the compositor runs
(anything it starts on demand inherits them), and are stopped with everything they
spawned at teardown. A missing program skips (developer machine) or fails (CI).
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.desktop import (
    _Daemon,
    _missing,
    name_has_owner,
    require_module,
    require_tools,
    wait_until,
)

FAKE_INPUT_XML = Path("/usr/share/plasma-wayland-protocols/fake-input.xml")


def compositor_env(env: Mapping[str, str], bus_address: str) -> dict[str, str]:
    """``env`` for a Wayland session: no X display, the given bus, GSettings in memory."""
    out = dict(env)
    for name in ("DISPLAY", "GDK_BACKEND", "WAYLAND_DISPLAY", "XAUTHORITY"):
        out.pop(name, None)
    out.update(
        {
            "DBUS_SESSION_BUS_ADDRESS": bus_address,
            "XDG_SESSION_TYPE": "wayland",
            "GSETTINGS_BACKEND": "memory",
            "NO_AT_BRIDGE": "1",
        }
    )
    return out


def _socket_ready(env: Mapping[str, str], name: str, daemon: _Daemon) -> bool:
    daemon.check_alive()
    return (Path(env["XDG_RUNTIME_DIR"]) / name).exists()


# --------------------------------------------------------------------------- KWin


class KWinInput:
    """Relative pointer motion through KWin's fake-input protocol, on one connection."""

    def __init__(self, socket: str, workdir: Path) -> None:
        require_module("pywayland", "scripts/bootstrap installs pywayland on Linux")
        if not FAKE_INPUT_XML.exists():
            _missing(f"missing {FAKE_INPUT_XML} (Debian: plasma-wayland-protocols)")
        from pywayland.client import Display
        from pywayland.scanner import Protocol

        protocol = Protocol.parse_file(str(FAKE_INPUT_XML))
        out = workdir / "protocols"
        out.mkdir(exist_ok=True)
        protocol.output(str(out), {iface.name: protocol.name for iface in protocol.interface})
        sys.path.insert(0, str(out))
        try:
            module = importlib.import_module(protocol.name)
        finally:
            sys.path.remove(str(out))
        self._display: Any = Display(socket)
        self._display.connect()
        found: dict[str, tuple[int, int]] = {}

        def on_global(_registry: Any, ident: int, interface: str, version: int) -> None:
            found.setdefault(interface, (ident, version))

        registry = self._display.get_registry()
        registry.dispatcher["global"] = on_global
        self._display.roundtrip()
        if "org_kde_kwin_fake_input" not in found:
            raise RuntimeError(f"KWin offers no fake input; it offers {sorted(found)}")
        ident, version = found["org_kde_kwin_fake_input"]
        self._fake = registry.bind(ident, module.OrgKdeKwinFakeInput, min(version, 4))
        self._fake.authenticate("presence-agent tests", "the person at the desk")
        self._display.roundtrip()

    def touch(self) -> float:
        """Move the pointer a little; returns the monotonic time just before."""
        before = time.monotonic()
        self._fake.pointer_motion(7.0, 3.0)
        self._display.roundtrip()
        return before

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._display.disconnect()


@dataclass(frozen=True)
class Compositor:
    """A running compositor: its Wayland socket name and how to give it input."""

    socket: str
    input: Any
    daemon: _Daemon


@contextlib.contextmanager
def running_kwin(env: Mapping[str, str], workdir: Path) -> Iterator[Compositor]:
    """KWin 5.27 on a virtual output, from a copy of the binary; ``env`` has the bus and dirs."""
    require_tools("kwin_wayland")
    found = shutil.which("kwin_wayland")
    assert found is not None
    binary = workdir / "kwin_wayland"
    shutil.copy(found, binary)  # a copy carries no file capability
    socket = "pa-kwin"
    kwin_env = dict(env)
    kwin_env.update({"QT_QPA_PLATFORM": "offscreen", "KWIN_WAYLAND_NO_PERMISSION_CHECKS": "1"})
    daemon = _Daemon(
        [str(binary), "--virtual", "--width", "1280", "--height", "720", "--socket", socket],
        workdir / "kwin.log",
        env=kwin_env,
    )
    fake: KWinInput | None = None
    try:
        wait_until(lambda: _socket_ready(env, socket, daemon), what="kwin_wayland's socket")
        fake = KWinInput(str(Path(env["XDG_RUNTIME_DIR"]) / socket), workdir)
        yield Compositor(socket, fake, daemon)
    finally:
        if fake is not None:
            fake.close()
        daemon.stop()


# --------------------------------------------------------------------------- Mutter


class MutterInput:
    """Relative pointer motion through Mutter's RemoteDesktop, on one kept-open connection."""

    def __init__(self, bus_address: str) -> None:
        from presence_agent.dbus import Bus, Interface

        self._bus = Bus(bus_address)
        remote = Interface(
            "org.gnome.Mutter.RemoteDesktop",
            "/org/gnome/Mutter/RemoteDesktop",
            "org.gnome.Mutter.RemoteDesktop",
        )
        (path,) = self._bus.call(remote, "CreateSession", timeout=10)
        self._session = Interface(
            "org.gnome.Mutter.RemoteDesktop", str(path), "org.gnome.Mutter.RemoteDesktop.Session"
        )
        self._bus.call(self._session, "Start", timeout=10)

    def touch(self) -> float:
        before = time.monotonic()
        self._bus.call(self._session, "NotifyPointerMotionRelative", "dd", (7.0, 3.0))
        return before

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._bus.call(self._session, "Stop")
        self._bus.close()


@contextlib.contextmanager
def running_mutter(env: Mapping[str, str], workdir: Path) -> Iterator[Compositor]:
    """Mutter 43, headless, Wayland only, one 1280x720 virtual monitor."""
    require_tools("mutter")
    socket = "pa-mutter"
    daemon = _Daemon(
        [
            "mutter",
            "--headless",
            "--wayland",
            "--no-x11",
            "--virtual-monitor",
            "1280x720",
            f"--wayland-display={socket}",
        ],
        workdir / "mutter.log",
        env=env,
    )
    remote: MutterInput | None = None
    try:
        bus = env["DBUS_SESSION_BUS_ADDRESS"]

        def ready() -> bool:
            return _socket_ready(env, socket, daemon) and name_has_owner(
                bus, "org.gnome.Mutter.RemoteDesktop"
            )

        wait_until(ready, what="mutter's socket and RemoteDesktop")
        remote = MutterInput(bus)
        yield Compositor(socket, remote, daemon)
    finally:
        if remote is not None:
            remote.close()
        daemon.stop()
