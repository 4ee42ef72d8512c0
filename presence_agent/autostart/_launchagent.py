"""Start at login on macOS: a per-user LaunchAgent in ``~/Library/LaunchAgents``.

launchd reads the folder at login and starts every agent with ``RunAtLoad``.
"""

from __future__ import annotations

import plistlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from presence_agent.autostart._state import AutostartState, write_atomically
from presence_agent.i18n import N_

#: launchd label and bundle identifier (packaging/macos/Info.plist uses the same).
LABEL = "io.github.presence-agent"


@dataclass(frozen=True)
class LaunchAgent:
    agents_dir: Path

    @property
    def path(self) -> Path:
        return self.agents_dir / f"{LABEL}.plist"

    def status(self) -> AutostartState:
        path = self.path
        if not path.is_file():
            return AutostartState(enabled=False, where=str(path), note=N_("no entry"))
        try:
            plist = plistlib.loads(path.read_bytes())
        except (plistlib.InvalidFileException, ValueError) as exc:
            # launchd skips a plist it cannot parse, so this is disabled, whatever it says.
            return AutostartState(False, str(path), note=f"unreadable plist: {exc}")
        args = plist.get("ProgramArguments") if isinstance(plist, dict) else None
        command = tuple(str(a) for a in args) if isinstance(args, list) else None
        if plist.get("Disabled") is True:
            return AutostartState(False, str(path), command, "Disabled=true")
        if plist.get("RunAtLoad") is not True:
            return AutostartState(False, str(path), command, "RunAtLoad is not true")
        return AutostartState(True, str(path), command)

    def enable(self, command: Sequence[str]) -> AutostartState:
        # No KeepAlive: launchd would restart the app whenever the person quits
        # it from the tray, and a Quit must stay quit until the next login.
        # No `launchctl bootstrap` either: that would start a second copy now.
        plist: dict[str, object] = {
            "Label": LABEL,
            "ProgramArguments": list(command),
            "RunAtLoad": True,
            # Interactive: the user is waiting on this process, so launchd
            # should not throttle it like a background daemon.
            "ProcessType": "Interactive",
            # Only in a graphical login, not in SSH or other background sessions.
            "LimitLoadToSessionType": "Aqua",
        }
        bundle = _bundle_of(command[0]) if command else None
        if bundle is not None:
            # macOS 13+ names the item after this app in Settings > Login Items
            # instead of showing the bare executable.
            plist["AssociatedBundleIdentifiers"] = [LABEL]
        write_atomically(self.path, plistlib.dumps(plist, fmt=plistlib.FMT_XML))
        return self.status()

    def disable(self) -> AutostartState:
        # Only the file goes. `launchctl bootout` would also kill the copy
        # that is running now, which is the one the person is talking to.
        self.path.unlink(missing_ok=True)
        return self.status()


def _bundle_of(program: str) -> Path | None:
    """The ``.app`` bundle that ``program`` lives in, if it is a bundle's main executable."""
    path = Path(program)
    if path.parent.name == "MacOS" and path.parent.parent.name == "Contents":
        app = path.parent.parent.parent
        if app.suffix == ".app":
            return app
    return None
