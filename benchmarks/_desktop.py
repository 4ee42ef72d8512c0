"""The benchmark's private desktop: the same helpers the tests use (tests/desktop.py).

Xvfb, a private D-Bus session bus and an unlocked gnome-keyring, all started
here and stopped at the end, so ``python -m benchmarks`` needs no wrapper and
never touches the machine's own display, bus or keyring.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.desktop import (
    make_desktop_env,
    running_secret_service,
    running_session_bus,
    running_trayer,
    running_xvfb,
)

#: Programs the benchmarks need, and the Debian package of each.
TOOLS = {
    "Xvfb": "xvfb",
    "xdpyinfo": "x11-utils",
    "xdotool": "xdotool",
    "dbus-daemon": "dbus-daemon",
    "dbus-send": "dbus-bin",
    "gnome-keyring-daemon": "gnome-keyring",
}


def missing_tools() -> list[str]:
    """Missing programs, as ``program (package)``. Checked up front: the test helpers would
    call ``pytest.skip`` outside pytest, which is no message for a person."""
    return [f"{tool} ({pkg})" for tool, pkg in TOOLS.items() if shutil.which(tool) is None]


@dataclass(frozen=True)
class Desktop:
    display: str
    bus: str
    root: Path

    def env(self, name: str) -> dict[str, str]:
        """A fresh environment (own HOME and XDG dirs) for one agent."""
        return make_desktop_env(self.display, self.bus, self.root / name)

    @contextlib.contextmanager
    def trayer(self, env: dict[str, str]) -> Iterator[object]:
        workdir = self.root / "trayer"
        workdir.mkdir(exist_ok=True)
        with running_trayer(self.display, env, workdir) as host:
            yield host


@contextlib.contextmanager
def desktop(root: Path) -> Iterator[Desktop]:
    for name in ("x", "bus", "keyring"):
        (root / name).mkdir(parents=True, exist_ok=True)
    with (
        running_xvfb(root / "x") as display,
        running_session_bus(root / "bus") as bus,
        running_secret_service(bus, root / "keyring"),
    ):
        yield Desktop(display, bus, root)


class Pointer:
    """Real pointer input through XTest on one open X connection.

    XTest input goes through the X server's input path exactly like a device
    (it resets the XScreenSaver idle counter and reaches RECORD clients such
    as pynput). Keeping one connection open, instead of running ``xdotool``
    for each move, makes the time stamp of a move precise to well under a
    millisecond, which the latency figures need.
    """

    def __init__(self, display: str) -> None:
        from Xlib import X
        from Xlib import display as xdisplay
        from Xlib.ext import xtest

        self._x = X
        self._xtest = xtest
        self._display: Any = xdisplay.Display(display)
        if not self._display.has_extension("XTEST"):
            raise RuntimeError(f"the X server on {display} has no XTEST extension")
        self._flip = False

    def touch(self) -> float:
        """Move the pointer by one pixel; returns ``time.monotonic()`` just before the move.

        The move reaches the server before this returns (``sync``), so the true
        moment lies between the returned time and the return: at most the
        round trip (well under 1 ms) late, which only makes latencies look longer.
        """
        self._flip = not self._flip
        x = 400 if self._flip else 401
        before = time.monotonic()
        self._xtest.fake_input(self._display, self._x.MotionNotify, x=x, y=300)
        self._display.sync()
        return before

    def close(self) -> None:
        self._display.close()


def flood_argv(n: int, gap: float = 0.001) -> list[str]:
    """One ``xdotool`` process making ``n`` one-pixel moves, ``gap`` seconds apart.

    Alternating between two points, because a move to where the pointer
    already is makes no event. The gap is a fast mouse's report rate (1 kHz):
    each event is then handled on its own, as in real use. Back-to-back moves
    arrive in bursts that each listener drains in batches of its own size, and
    the per-event figure swung by a quarter from run to run with nothing changed.
    """
    argv = ["xdotool"]
    for i in range(n):
        argv += ["mousemove", str(600 + i % 2), "350"]
        if gap > 0:
            argv += ["sleep", f"{gap:g}"]
    return argv
