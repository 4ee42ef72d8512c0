"""Start at login on Windows: a value under ``HKCU\\...\\CurrentVersion\\Run``.

Explorer runs each value of that key at logon. Task Manager's "Startup apps"
(and Settings > Apps > Startup) switch an entry off without deleting it, by
writing a flag under ``Explorer\\StartupApproved\\Run``; that flag is the Windows
counterpart of ``Hidden=true`` on Linux, so status reads it and enable clears it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from presence_agent.autostart._state import AutostartState
from presence_agent.i18n import N_

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
APPROVED_KEY = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
#: The value name; packaging/windows/presence-agent.iss writes the same one.
VALUE_NAME = "presence-agent"

_NOT_WINDOWS = "the Windows registry exists only on Windows"


class Registry(Protocol):
    """The few ``HKEY_CURRENT_USER`` operations a Run entry needs. Keys are relative to HKCU."""

    def read(self, key: str, name: str) -> str | bytes | None:
        """The value's data, or ``None`` when the key or the value does not exist."""

    def write(self, key: str, name: str, value: str) -> None:
        """Set a ``REG_SZ`` value, creating the key if needed."""

    def delete(self, key: str, name: str) -> None:
        """Remove the value; no error when it is already gone."""


class WinRegistry:
    """The real ``HKEY_CURRENT_USER``, through :mod:`winreg` (imported on first use).

    Each method is one ``sys.platform`` block so that mypy checks it for Windows
    (``mypy --platform win32``) and nowhere else.
    """

    def read(self, key: str, name: str) -> str | bytes | None:
        if sys.platform == "win32":
            import winreg

            try:
                with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key) as handle:
                    data, _kind = winreg.QueryValueEx(handle, name)
            except FileNotFoundError:
                return None
            return data if isinstance(data, (str, bytes)) else str(data)
        raise OSError(_NOT_WINDOWS)

    def write(self, key: str, name: str, value: str) -> None:
        if sys.platform == "win32":
            import winreg

            access = winreg.KEY_SET_VALUE
            with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, key, 0, access) as handle:
                winreg.SetValueEx(handle, name, 0, winreg.REG_SZ, value)
            return
        raise OSError(_NOT_WINDOWS)

    def delete(self, key: str, name: str) -> None:
        if sys.platform == "win32":
            import winreg

            try:
                access = winreg.KEY_SET_VALUE
                with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key, 0, access) as handle:
                    winreg.DeleteValue(handle, name)
            except FileNotFoundError:
                pass
            return
        raise OSError(_NOT_WINDOWS)


@dataclass(frozen=True)
class RunKey:
    registry: Registry

    where = f"HKCU\\{RUN_KEY}\\{VALUE_NAME}"

    def status(self) -> AutostartState:
        value = self.registry.read(RUN_KEY, VALUE_NAME)
        if not isinstance(value, str) or not value.strip():
            return AutostartState(enabled=False, where=self.where, note=N_("no entry"))
        command = tuple(split_command_line(value))
        approved = self.registry.read(APPROVED_KEY, VALUE_NAME)
        # The first byte is 2 (or 6) when allowed and 3 (or 7) when switched off.
        if isinstance(approved, bytes) and approved and approved[0] & 1:
            note = N_("turned off in Task Manager > Startup apps")
            return AutostartState(False, self.where, command, note)
        return AutostartState(True, self.where, command)

    def enable(self, command: Sequence[str]) -> AutostartState:
        self.registry.write(RUN_KEY, VALUE_NAME, join_command_line(command))
        # Without the flag Explorer treats the entry as allowed, which is what
        # a person who just asked for "start at login" means.
        self.registry.delete(APPROVED_KEY, VALUE_NAME)
        return self.status()

    def disable(self) -> AutostartState:
        self.registry.delete(RUN_KEY, VALUE_NAME)
        # A stale "off" flag would silently veto a later enable by the installer.
        self.registry.delete(APPROVED_KEY, VALUE_NAME)
        return self.status()


def join_command_line(argv: Sequence[str]) -> str:
    """A command line for the Run key; the program is always quoted.

    An unquoted ``C:\\Program Files\\...`` would be run as ``C:\\Program`` with
    arguments; quoting always, not only when there is a space, keeps it simple.
    """
    program, *args = argv
    return " ".join([f'"{program}"', *(subprocess.list2cmdline([a]) for a in args)])


def split_command_line(line: str) -> list[str]:
    """The argv Windows (``CommandLineToArgvW``) makes of ``line``."""
    line = line.lstrip()
    # The program name has no escapes: quoted up to the next quote, or up to a space.
    if line.startswith('"'):
        program, _, rest = line[1:].partition('"')
    else:
        program, _, rest = line.partition(" ")
    args: list[str] = [program]
    current: list[str] | None = None
    quoted = False
    i = 0
    while i < len(rest):
        c = rest[i]
        if c in " \t" and not quoted:
            if current is not None:
                args.append("".join(current))
            current = None
            i += 1
            continue
        current = current if current is not None else []
        if c == "\\":
            text, i = _backslashes(rest, i)
            current.append(text)
        elif c == '"' and quoted and rest[i + 1 : i + 2] == '"':
            current.append('"')  # "" inside quotes is a literal quote
            i += 2
        elif c == '"':
            quoted = not quoted
            i += 1
        else:
            current.append(c)
            i += 1
    if current is not None:
        args.append("".join(current))
    return args


def _backslashes(text: str, start: int) -> tuple[str, int]:
    """What a run of backslashes at ``start`` stands for, and where parsing goes on."""
    end = start
    while end < len(text) and text[end] == "\\":
        end += 1
    run = end - start
    if end < len(text) and text[end] == '"':
        # 2n backslashes and a quote: n backslashes, and the quote still toggles;
        # 2n+1: n backslashes and a literal quote.
        if run % 2:
            return "\\" * (run // 2) + '"', end + 1
        return "\\" * (run // 2), end
    return "\\" * run, end
