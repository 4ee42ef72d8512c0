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
timer behind. :class:`TimerStore` keeps the timer in the state dir across
restarts.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, replace
from pathlib import Path

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
    "Ending",
    "Expire",
    "Remind",
    "StatusTimer",
    "TimedStatus",
    "TimerAction",
    "TimerStore",
    "ending_for",
]


@dataclass(frozen=True)
class TimedStatus:
    """``status`` until the wall-clock instant ``until``, set at ``set_at`` by ``set_by``."""

    status: Status
    until: float
    set_at: float
    #: Where it was chosen: ``tray``, ``cli``...
    set_by: str = "user"
    reminded: bool = False

    @property
    def remind_at(self) -> float | None:
        """When the reminder is due; ``None`` for a timer too short to need one."""
        if self.until - self.set_at < 2 * REMINDER_LEAD:
            return None
        return self.until - REMINDER_LEAD

    def remaining(self, wall: float) -> float:
        return max(0.0, self.until - wall)


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
        remind_at = timed.remind_at
        if remind_at is not None and not timed.reminded:
            return remind_at
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
        remind_at = timed.remind_at
        if remind_at is not None and not timed.reminded and wall >= remind_at:
            self._timed = replace(timed, reminded=True)
            return Remind(self._timed)
        return None


class TimerStore:
    """The timer in the state dir (``timer.json``), so it survives a restart.

    A missing or unreadable file is no timer: the worst a damaged file can do
    is forget a timer, never end a status it should not. Writes are atomic.
    Thread use: the engine's thread only.
    """

    FILE = "timer.json"

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / self.FILE
        #: What the file holds, as far as this store knows; unknown until read or written.
        self._saved: TimedStatus | object | None = _UNKNOWN

    def load(self) -> TimedStatus | None:
        try:
            data = read_json(self.path)
            timed = TimedStatus(
                status=Status(data["status"]),
                until=finite(data["until"]),
                set_at=finite(data["set_at"]),
                set_by=str(data.get("set_by", "user"))[:20],
                reminded=data.get("reminded") is True,
            )
        except FileNotFoundError:
            self._saved = None
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring a damaged timer file %s: %s", self.path, type(exc).__name__)
            return None
        self._saved = timed
        return timed

    def save(self, timed: TimedStatus | None) -> None:
        """Keep ``timed`` (``None``: remove the file). Nothing is written when unchanged."""
        if timed == self._saved:
            return
        try:
            if timed is None:
                self.path.unlink(missing_ok=True)
            else:
                self._write(timed)
        except OSError as exc:
            log.warning("cannot keep the timer in %s: %s", self.path, exc.strerror)
            return
        self._saved = timed

    def _write(self, timed: TimedStatus) -> None:
        write_json(
            self.path,
            {
                "status": timed.status.value,
                "until": timed.until,
                "set_at": timed.set_at,
                "set_by": timed.set_by,
                "reminded": timed.reminded,
            },
        )


_UNKNOWN = object()
