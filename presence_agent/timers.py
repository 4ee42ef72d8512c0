"""Timed statuses ("away for 30 min", "busy until 13:00"): when they end, and how. Pure.

A :class:`StatusTimer` holds at most one :class:`TimedStatus`. Its rules:

* It ends only the status it was set for. Any other manual choice drops it,
  and so does any report from the server (an answer, a ``/ws`` push, a
  refresh) of another status: somebody changed it (the web app, an admin, the
  agent's own idle rules), and that somebody now owns it.
* A minute before the end it asks for a reminder (once, and only when the
  timer is long enough for a reminder to make sense), then at the end for the
  end. What follows the end is :func:`ending_for`'s rule: back to Available if
  the person was active within the away threshold, else an idle away, which
  idle detection then owns (the next input brings Available back).
* Its end is a wall-clock instant, so an end that passed while the agent was
  not running or the machine slept is applied at once on the next
  :meth:`StatusTimer.step`, by the same rule (after a sleep nobody has been
  active, so that is an idle away).

The owner (the policy) decides when a timer starts: only once the server
holds the status asked for, so a refused or superseded request never leaves a
timer behind. :class:`AgendaStore` keeps it in the state dir across restarts.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from presence_agent.events import TimedStatus
from presence_agent.statefile import finite, read_json, write_json
from presence_agent.vocab import Status

log = logging.getLogger(__name__)

#: How long before the end the reminder comes.
REMINDER_LEAD = 60.0
#: What "Extend" in the reminder adds.
EXTEND_BY = 15 * 60.0

__all__ = [
    "EXTEND_BY",
    "REMINDER_LEAD",
    "AgendaStore",
    "Ending",
    "Expire",
    "Kept",
    "Remind",
    "StatusTimer",
    "TimedStatus",
    "TimerAction",
    "ending_for",
    "remind_at",
]


class Ending(str, enum.Enum):
    """What a timed status gives way to."""

    AVAILABLE = "available"
    IDLE_AWAY = "idle away"


def ending_for(recently_active: bool) -> Ending:
    """Active within the away threshold: Available; otherwise idle away."""
    return Ending.AVAILABLE if recently_active else Ending.IDLE_AWAY


@dataclass(frozen=True)
class Remind:
    """Tell the person the timed status ends soon (at ``timed.until``)."""

    timed: TimedStatus


@dataclass(frozen=True)
class Expire:
    """``timed`` has ended; ask the server for what ``ending`` says."""

    timed: TimedStatus
    ending: Ending


TimerAction = Remind | Expire


def remind_at(timed: TimedStatus) -> float | None:
    """When the reminder is due; ``None`` for a timer too short to need one."""
    if timed.until - timed.set_at < 2 * REMINDER_LEAD:
        return None
    return timed.until - REMINDER_LEAD


class StatusTimer:
    """At most one timed status. Pure: one thread (the engine's) calls everything."""

    def __init__(self, restored: TimedStatus | None = None) -> None:
        #: A restored timer holds until the first report from the server says
        #: whether its status is still there (:meth:`held`).
        self._timed = restored

    @property
    def current(self) -> TimedStatus | None:
        return self._timed

    def start(self, timed: TimedStatus) -> None:
        """The server now holds ``timed.status``, asked for with this end."""
        self._timed = timed

    def drop(self) -> TimedStatus | None:
        """Forget the timer (a manual choice replaced it); returns what it was."""
        timed, self._timed = self._timed, None
        return timed

    def held(self, status: Status, by_idle: bool | None) -> None:
        """The server reports it holds ``status``: anything but ours ends our claim.

        ``by_idle`` true means idle detection (the web app's, say) set it: not
        the status this timer set, which was a person's choice.
        """
        timed = self._timed
        if timed is None:
            return
        if status is not timed.status or by_idle is True:
            log.info("timed %s dropped: the status is now %s", timed.status.value, status.value)
            self._timed = None

    def extend(self, wall: float, seconds: float = EXTEND_BY) -> TimedStatus | None:
        """Push the end back by ``seconds`` (from now if it has passed); a new reminder follows."""
        timed = self._timed
        if timed is None:
            return None
        self._timed = replace(
            timed, until=max(timed.until, wall) + seconds, set_at=wall, reminded=False
        )
        return self._timed

    def deadline(self) -> float | None:
        """The wall-clock instant :meth:`step` next has something to do, or ``None``."""
        timed = self._timed
        if timed is None:
            return None
        due = remind_at(timed)
        if due is not None and not timed.reminded:
            return due
        return timed.until

    def step(self, wall: float, recently_active: bool) -> TimerAction | None:
        """What is due at ``wall``: the reminder, the end, or nothing.

        Call it again after a :class:`Remind`: an end that is also due (after a
        sleep past it) comes next, without a reminder that would be too late.
        """
        timed = self._timed
        if timed is None:
            return None
        if wall >= timed.until:
            self._timed = None
            return Expire(timed, ending_for(recently_active))
        due = remind_at(timed)
        if due is not None and not timed.reminded and wall >= due:
            self._timed = replace(timed, reminded=True)
            return Remind(self._timed)
        return None


@dataclass(frozen=True)
class Kept:
    """What survives a restart: the running timer, and a status the agent owns."""

    timer: TimedStatus | None = None
    owned: Status | None = None


class AgendaStore:
    """The timer and the owned status in the state dir (``agenda.json``).

    A missing or unreadable file keeps nothing: the worst a damaged file can do
    is forget a timer, never end a status it should not. Writes are atomic
    (presence_agent/statefile.py) and only made when something changed. Thread
    use: one thread at a time (the engine's, through a snapshot listener; the CLI
    when no agent runs).
    """

    FILE = "agenda.json"

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / self.FILE
        #: What the file holds, as far as this store knows; unknown until read or written.
        self._saved: Kept | object = _UNKNOWN

    def load(self) -> Kept:
        try:
            kept = _parse(read_json(self.path))
        except FileNotFoundError:
            self._saved = Kept()
            return Kept()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring a damaged agenda file %s: %s", self.path, type(exc).__name__)
            return Kept()
        self._saved = kept
        return kept

    def save(self, kept: Kept) -> None:
        """Keep ``kept`` (nothing in it: remove the file)."""
        if kept == self._saved:
            return
        try:
            if kept == Kept():
                self.path.unlink(missing_ok=True)
            else:
                write_json(self.path, _data(kept))
        except OSError as exc:
            log.warning("cannot keep the timer in %s: %s", self.path, exc.strerror)
            return
        self._saved = kept


def _data(kept: Kept) -> dict[str, Any]:
    timed = kept.timer
    return {
        "timer": None
        if timed is None
        else {
            "status": timed.status.value,
            "until": timed.until,
            "set_at": timed.set_at,
            "set_by": timed.set_by,
            "reminded": timed.reminded,
        },
        "owned": None if kept.owned is None else kept.owned.value,
    }


def _parse(data: object) -> Kept:
    if not isinstance(data, dict):
        raise TypeError("not an object")
    timer = data.get("timer")
    timed = None
    if timer is not None:
        if not isinstance(timer, dict):
            raise TypeError("timer is not an object")
        timed = TimedStatus(
            status=Status(timer["status"]),
            until=finite(timer["until"]),
            set_at=finite(timer["set_at"]),
            set_by=str(timer.get("set_by", "user"))[:20],
            reminded=timer.get("reminded") is True,
        )
    owned = data.get("owned")
    return Kept(timed, None if owned is None else Status(owned))


_UNKNOWN = object()
