"""A real notification server for tests: dunst on the test display and session bus.

dunst owns ``org.freedesktop.Notifications`` for one test and goes with it. It
shows notifications on the Xvfb display, supports actions, and ``dunstctl``
reads what it holds (``history``) and invokes a shown notification's action
(``action``), as a person's click would.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.desktop import _Daemon, desktop_env, name_has_owner, require_tools, wait_until

__all__ = ["Dunst", "desktop_env", "notification_daemon", "running_dunst"]


@dataclass
class Dunst:
    env: dict[str, str]
    daemon: _Daemon

    def _ctl(self, *args: str) -> str:
        result = subprocess.run(
            ["dunstctl", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"dunstctl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def displayed(self) -> int:
        return int(self._ctl("count", "displayed").strip() or 0)

    def received(self) -> list[dict[str, Any]]:
        """Every notification received so far (closing the ones shown: history holds only
        closed ones), oldest first: ``summary``, ``body``, ``appname``, ``id``."""
        self._ctl("close-all")
        data = json.loads(self._ctl("history"))
        out = []
        for entry in data.get("data", [[]])[0]:
            out.append({key: value.get("data") for key, value in entry.items()})
        return sorted(out, key=lambda item: item.get("id", 0))

    def invoke_action(self) -> None:
        """Click the action of the newest notification on screen (its first action)."""
        self._ctl("action", "0")

    def wait_displayed(self, timeout: float = 10) -> None:
        wait_until(lambda: self.displayed() > 0, timeout=timeout, what="a notification on screen")


@contextlib.contextmanager
def running_dunst(env: Mapping[str, str], workdir: Path) -> Iterator[Dunst]:
    require_tools("dunst", "dunstctl")
    config = workdir / "dunstrc"
    # Nothing times out by itself during a test, and nothing but us closes it.
    config.write_text("[global]\n    idle_threshold = 0\n[urgency_normal]\n    timeout = 0\n")
    daemon = _Daemon(["dunst", "-config", str(config)], workdir / "dunst.log", env=env)
    address = env["DBUS_SESSION_BUS_ADDRESS"]
    try:

        def ready() -> bool:
            daemon.check_alive()
            return name_has_owner(address, "org.freedesktop.Notifications")

        wait_until(ready, what="dunst to own org.freedesktop.Notifications")
        yield Dunst(dict(env), daemon)
    finally:
        daemon.stop()
        wait_until(
            lambda: not name_has_owner(address, "org.freedesktop.Notifications"),
            what="dunst to leave the bus",
        )


@pytest.fixture
def notification_daemon(desktop_env: dict[str, str], tmp_path: Path) -> Iterator[Dunst]:
    """dunst serving notifications on the test's display and bus, for this test only."""
    with running_dunst(desktop_env, tmp_path) as dunst:
        yield dunst
