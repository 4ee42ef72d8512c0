"""The server's vocabulary: the app's own status words, how each dialect spells them, and
the two ways to authenticate.

This is the one place that knows both dialects (docs/libredesk.md):

* ``documented``: the OpenAPI page, ``available | busy | away | offline``.
* ``libredesk``: the real server, ``online | away | away_manual | away_and_reassigning | offline``.

Everything above this module speaks :class:`Status` and :class:`Source` only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from presence_agent.i18n import N_

#: The ``Authorization`` schemes the server takes: ``token key:secret`` or HTTP Basic.
AuthScheme = Literal["token", "basic"]


class Status(str, enum.Enum):
    """A status in the app's own words."""

    AVAILABLE = "available"
    BUSY = "busy"
    AWAY = "away"
    #: "Away, reassign my conversations" (real Libredesk only).
    REASSIGNING = "away_and_reassigning"
    OFFLINE = "offline"

    @property
    def label(self) -> str:
        """The status's name in English (logs; the msgid for a person's language:
        ``tr._(status.label)``, see presence_agent/status_text.py's ``label``)."""
        return _LABELS[self]


_LABELS = {
    Status.AVAILABLE: N_("Available"),
    Status.BUSY: N_("Busy"),
    Status.AWAY: N_("Away"),
    Status.REASSIGNING: N_("Away, reassign my conversations"),
    Status.OFFLINE: N_("Offline"),
}


class Source(str, enum.Enum):
    """Who asked for a change: the person (``user``) or idle detection (``idle``)."""

    USER = "user"
    IDLE = "idle"


class Dialect(str, enum.Enum):
    DOCUMENTED = "documented"
    LIBREDESK = "libredesk"


@dataclass(frozen=True)
class ServerStatus:
    """What the server holds, in the app's words.

    ``by_idle`` says whether idle detection set it: ``True``/``False`` when the
    dialect can tell (the real server spells idle away ``away`` and manual away
    ``away_manual``), ``None`` when it cannot (the documented server).
    """

    status: Status
    by_idle: bool | None = None


class UnknownStatusError(ValueError):
    """The server reported a status word that neither dialect knows."""

    def __init__(self, word: str) -> None:
        # The word comes from the server, so keep it short in case it is junk.
        super().__init__(f"the server reported an unknown status {word[:40]!r}")
        self.word = word


class UnsupportedStatusError(ValueError):
    """The server's dialect cannot hold the status asked for (``busy`` on real Libredesk)."""

    def __init__(self, status: Status, dialect: Dialect) -> None:
        can = ", ".join(s.value for s in statuses_for(dialect))
        super().__init__(
            f"this Libredesk server has no {status.label!r} status; it can hold: {can}"
        )
        self.status = status
        self.dialect = dialect


_DOCUMENTED_STATUSES = (Status.AVAILABLE, Status.BUSY, Status.AWAY, Status.OFFLINE)
_LIBREDESK_STATUSES = (Status.AVAILABLE, Status.AWAY, Status.REASSIGNING, Status.OFFLINE)


def statuses_for(dialect: Dialect) -> tuple[Status, ...]:
    """The statuses a person may choose on a server of this dialect, in menu order."""
    return _LIBREDESK_STATUSES if dialect is Dialect.LIBREDESK else _DOCUMENTED_STATUSES


def to_wire(
    status: Status, source: Source, dialect: Dialect, *, no_assignments: bool = False
) -> str:
    """The word to PUT for ``status`` asked for by ``source``.

    ``no_assignments``: an away that stops new conversations whoever asks
    (``away_manual``, also with ``source: idle``: idleness's second step).
    """
    if status not in statuses_for(dialect):
        raise UnsupportedStatusError(status, dialect)
    if dialect is Dialect.DOCUMENTED:
        return status.value
    if status is Status.AVAILABLE:
        return "online"
    if status is Status.AWAY:
        if no_assignments:
            return "away_manual"
        # The real server only protects away_manual from idle changes, so a
        # person's away must be spelled that way or the web app's idle
        # detection (or ours) would undo it.
        return "away" if source is Source.IDLE else "away_manual"
    return str(status.value)


_FROM_WIRE: dict[str, ServerStatus] = {
    "available": ServerStatus(Status.AVAILABLE),
    # The documented example answers "online"; the real server only says "online".
    "online": ServerStatus(Status.AVAILABLE),
    "busy": ServerStatus(Status.BUSY),
    "offline": ServerStatus(Status.OFFLINE),
    "away_manual": ServerStatus(Status.AWAY, by_idle=False),
    "away_and_reassigning": ServerStatus(Status.REASSIGNING, by_idle=False),
}


def from_wire(word: str, dialect: Dialect) -> ServerStatus:
    """The app's reading of a status word the server sent."""
    if word == "away":
        # Only the real server distinguishes; there a plain "away" is what idle
        # detection (the web app's or ours) sets.
        return ServerStatus(Status.AWAY, by_idle=True if dialect is Dialect.LIBREDESK else None)
    try:
        return _FROM_WIRE[word]
    except KeyError:
        raise UnknownStatusError(word) from None


def dialect_of(word: str) -> Dialect | None:
    """The dialect a held status word proves, or ``None`` when both dialects use it.

    Only the real server stores ``online``/``away_manual``/``away_and_reassigning``;
    only the documented one stores ``available``/``busy``. ``away`` and ``offline``
    are in both, and the caller must find out another way.
    """
    if word in ("available", "busy"):
        return Dialect.DOCUMENTED
    if word in ("online", "away_manual", "away_and_reassigning"):
        return Dialect.LIBREDESK
    return None
