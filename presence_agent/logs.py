"""Logging set-up: a rotating file in the platformdirs log dir, and a redaction net.

Secrets are kept out of log calls by construction (nothing logs a request or
its headers); :class:`Redactor` is the second line of defence, and the log's
side of the one redaction point (presence_agent/redaction.py). The log holds the
person's away/available timeline, so it is theirs alone: every log file 0600 in
a 0700 directory (presence_agent/paths.py), also files an older version left
looser, and the rotated ones.
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import sys
from pathlib import Path

from presence_agent import redaction
from presence_agent.paths import private_dir

#: The mode of every log file (the current one and the rotated ones).
LOG_FILE_MODE = 0o600
#: How many rotated files the log keeps (``presence-agent.log.1`` ... ``.3``).
BACKUP_COUNT = 3


class Redactor(redaction.Redactor, logging.Filter):
    """:class:`presence_agent.redaction.Redactor` as a filter on every log handler: the
    message and any traceback, secrets redacted and control characters replaced (a log
    read with ``cat`` or ``tail -f`` is a terminal too).

    Thread use: ``add`` from any thread; ``filter`` from logging's callers.
    """

    def __init__(self) -> None:
        redaction.Redactor.__init__(self)
        logging.Filter.__init__(self)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        text = self.clean(message, multiline=True)
        if record.exc_info and record.exc_info[1] is not None:
            exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.clean(exc_text, multiline=True)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.clean(record.exc_text, multiline=True)
        if text != message:
            record.msg, record.args = text, None
        return True


def header_line() -> str:
    """The first line of every log file: which version wrote it, where."""
    import platform

    from presence_agent import __version__

    return (
        f"presence-agent {__version__} (Python {platform.python_version()},"
        f" {platform.system()} {platform.release()})"
    )


class VersionedFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose every file starts with :func:`header_line`.

    So a log a person sends to support always says which version wrote it,
    also after a rotation. Thread use: logging's own lock, like any handler.
    """

    def _open(self) -> io.TextIOWrapper:  # type: ignore[type-arg, unused-ignore]
        # Not the builtin open (0644 by the usual umask): 0600 from the first byte, an
        # existing looser file tightened, and a symlink planted in its place refused.
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.baseFilename, flags | getattr(os, "O_CLOEXEC", 0), LOG_FILE_MODE)
        try:
            if os.name == "posix":
                os.fchmod(fd, LOG_FILE_MODE)
            stream = open(fd, "a", encoding=self.encoding, errors=self.errors)  # noqa: SIM115
        except BaseException:
            os.close(fd)
            raise
        if stream.tell() == 0:
            stream.write(f"{header_line()}\n")
            stream.flush()
        return stream


def _tighten_rotated(log_file: Path) -> None:
    """The rotated files an older version left 0644: 0600 like the rest (never through a
    symlink)."""
    if os.name != "posix":
        return
    for number in range(1, BACKUP_COUNT + 1):
        try:
            fd = os.open(f"{log_file}.{number}", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue  # none (or not ours to touch)
        try:
            os.fchmod(fd, LOG_FILE_MODE)
        except OSError:
            pass
        finally:
            os.close(fd)


def setup(log_file: Path, level: str, *, stderr: bool, redactor: Redactor) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        private_dir(log_file.parent, own_link=True)
        _tighten_rotated(log_file)
        handler: logging.Handler = VersionedFileHandler(
            log_file, maxBytes=1_000_000, backupCount=BACKUP_COUNT, encoding="utf-8"
        )
        handler.setFormatter(formatter)
        handler.addFilter(redactor)
        root.addHandler(handler)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(f"presence-agent: cannot write the log {log_file}: {reason}", file=sys.stderr)
    if stderr:
        console = logging.StreamHandler(sys.stderr)
        console.setLevel(logging.WARNING)
        console.setFormatter(logging.Formatter("presence-agent: %(message)s"))
        console.addFilter(redactor)
        # Records the app has already printed for the person (extra={"shown": True}).
        console.addFilter(lambda record: not getattr(record, "shown", False))
        root.addHandler(console)
    from presence_agent import quiet

    quiet.replay()
    # httpx logs every request at INFO; the reporter logs what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("websockets").setLevel(logging.WARNING)
