"""The value every autostart backend answers with, and the one file-writing helper they share."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from presence_agent.i18n import ENGLISH, Translator


@dataclass(frozen=True)
class AutostartState:
    """Whether the app starts at login, and the login item that decides it."""

    enabled: bool
    #: The file or registry value the OS reads (or would read) at login.
    where: str
    #: The argv the login item runs, when there is one to read.
    command: tuple[str, ...] | None = None
    #: Why it is disabled, when that is not simply "there is no entry".
    note: str = ""

    def describe(self, tr: Translator = ENGLISH) -> str:
        """One line for people: ``enabled: <where>`` or ``disabled: <where> (<note>)``.
        A note that is a msgid (``no entry``) is shown in ``tr``'s language."""
        words = tr._("enabled: {where}") if self.enabled else tr._("disabled: {where}")
        line = words.format(where=self.where)
        return f"{line} ({tr._(self.note)})" if self.note else line


def write_atomically(path: Path, data: str | bytes) -> None:
    """Replace ``path`` in one step, so a crash or a full disk never leaves half an entry.

    A login item that is half written is worse than none: the session would try
    to run it at every login, and a truncated plist or .desktop can fail silently.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        # mkstemp creates 0600; login items are ordinary user files.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
