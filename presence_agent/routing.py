"""Routing-aware idleness, what the agent owns, and recovery from a false offline. Pure.

On a real Libredesk an idle ``away`` still gets new conversations, so idleness goes in steps
(docs/libredesk.md), each counted from the last input:

1. ``away_after`` (default 5 min): ``away``, still receiving conversations;
2. ``stop_assignments_after`` (default 15 min, 0 = never): ``away_manual``, no new
   conversations;
3. ``reassign_after`` (default never): ``away_and_reassigning``, customer replies go back to
   the team.

:class:`IdlePlan` holds the three and says which step is due when. On the documented dialect
only ``away`` exists, so only step 1 applies.

**Ownership.** What the agent set by itself (for idleness, before a sleep, at the end of a
timer or a shift) is *owned* by it: a :class:`Claim` names the server word it set and why.
The agent may change an owned status again (the next step, the return on input); it never
touches a status it does not own. A claim ends the moment the server reports any other word
than the one claimed or the one the agent is asking for (a ``/ws`` push, an answer, a read),
or the person chooses a status by hand. :func:`claim_after_report` is that rule, and
:class:`ClaimStore` keeps a claim in the state dir so that a restart or a crash in the middle
of an escalation still brings the person back on their first input.

**Sources.** The real server refuses ``source: idle`` over ``away_manual`` and
``away_and_reassigning`` (its guard for a person's own away). So a change *from* one of those,
the return to ``online`` or the step from ``away_manual`` to ``away_and_reassigning``, goes as
``source: user`` (:func:`source_for`): the agent owns that status, so it is its to undo, and
an ``idle`` request would be answered ``200`` with nothing changed.

**Recovery** (:func:`recovery_for`, real dialect only). A person cannot choose ``offline`` in
the web app, and there ``away`` is only ever an idle status. So an ``offline`` the person did
not choose through this agent, or an ``away``, found while the person is at the desk, is
brought back to ``online`` with a ``PUT`` (which every client is told of), and only then does
the keepalive ping: a ping alone would flip ``offline`` to ``online`` silently, and everyone
else would keep seeing the person offline.
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from presence_agent.events import Claim, OwnReason
from presence_agent.i18n import ENGLISH, N_, Translator
from presence_agent.statefile import finite, read_json, write_json
from presence_agent.vocab import Dialect, Source, Status

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_REASSIGN_AFTER",
    "DEFAULT_STOP_ASSIGNMENTS_AFTER",
    "GUARDED",
    "Claim",
    "ClaimStore",
    "IdlePlan",
    "PlanError",
    "Reason",
    "Recovery",
    "Step",
    "claim_after_report",
    "meaning",
    "recovery_for",
    "source_for",
    "status_of",
    "step_of",
    "word_of",
]

DEFAULT_STOP_ASSIGNMENTS_AFTER = 900.0
#: 0 in the config: never.
DEFAULT_REASSIGN_AFTER = 0.0

#: The real server's idle guard: ``source: idle`` cannot change these.
GUARDED = frozenset({"away_manual", "away_and_reassigning"})


class Step(str, enum.Enum):
    """An idle step, named by the real server's word for it."""

    AWAY = "away"
    NO_ASSIGNMENTS = "away_manual"
    REASSIGN = "away_and_reassigning"

    @property
    def depth(self) -> int:
        return _DEPTH[self]


_DEPTH = {Step.AWAY: 1, Step.NO_ASSIGNMENTS: 2, Step.REASSIGN: 3}


class PlanError(ValueError):
    """An idle plan out of order. ``key`` is the config key to fix."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass(frozen=True)
class IdlePlan:
    """When each idle step is due, in seconds since the last input (None: never).

    Build it with :meth:`from_settings`, which takes the config's numbers (0 = never) and
    checks the order.
    """

    away_after: float = 300.0
    stop_assignments_after: float | None = DEFAULT_STOP_ASSIGNMENTS_AFTER
    reassign_after: float | None = None

    @classmethod
    def from_settings(
        cls,
        away_after: float,
        stop_assignments_after: float = DEFAULT_STOP_ASSIGNMENTS_AFTER,
        reassign_after: float = DEFAULT_REASSIGN_AFTER,
    ) -> IdlePlan:
        """Raises :class:`PlanError` naming the key when a value is bad or out of order:
        ``away_after`` < ``stop_assignments_after`` < ``reassign_after`` where set."""
        for key, value in (
            ("away_after", away_after),
            ("stop_assignments_after", stop_assignments_after),
            ("reassign_after", reassign_after),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise PlanError(key, "must be a number of seconds")
            if not math.isfinite(value) or value < 0:
                raise PlanError(key, "must be a finite number of seconds, 0 or more")
        if away_after <= 0:
            raise PlanError("away_after", "must be more than 0 seconds")
        stop = float(stop_assignments_after) or None
        reassign = float(reassign_after) or None
        if stop is not None and stop <= away_after:
            raise PlanError(
                "stop_assignments_after",
                f"must be more than away_after ({_seconds(away_after)}), or 0 for never",
            )
        if reassign is not None:
            key, floor = (
                ("stop_assignments_after", stop) if stop is not None else ("away_after", away_after)
            )
            if reassign <= floor:
                raise PlanError(
                    "reassign_after", f"must be more than {key} ({_seconds(floor)}), or 0 for never"
                )
        return cls(float(away_after), stop, reassign)

    def steps(self, dialect: Dialect | None) -> tuple[tuple[float, Step], ...]:
        """``(seconds idle, step)`` in order; only ``away`` unless the server is Libredesk."""
        found: list[tuple[float, Step]] = [(self.away_after, Step.AWAY)]
        if dialect is Dialect.LIBREDESK:
            if self.stop_assignments_after is not None:
                found.append((self.stop_assignments_after, Step.NO_ASSIGNMENTS))
            if self.reassign_after is not None:
                found.append((self.reassign_after, Step.REASSIGN))
        return tuple(found)

    def due(self, idle_seconds: float, dialect: Dialect | None) -> Step | None:
        """The deepest step due after ``idle_seconds`` without input (None: none yet)."""
        current = None
        for after, step in self.steps(dialect):
            if idle_seconds >= after:
                current = step
        return current

    def next_due(self, reached: Step | None, dialect: Dialect | None) -> float | None:
        """Seconds idle at which the step after ``reached`` is due (None: no further step)."""
        depth = 0 if reached is None else reached.depth
        for after, step in self.steps(dialect):
            if step.depth > depth:
                return after
        return None

    def describe(self, tr: Translator = ENGLISH) -> str:
        """``away after 5 min, no new conversations after 15 min, reassign never``."""
        parts = [tr._("away after {span}").format(span=_duration(self.away_after, tr))]
        stop = self.stop_assignments_after
        parts.append(
            tr._("no new conversations after {span}").format(span=_duration(stop, tr))
            if stop is not None
            else tr._("no new conversations never")
        )
        reassign = self.reassign_after
        parts.append(
            tr._("reassign after {span}").format(span=_duration(reassign, tr))
            if reassign
            else tr._("reassign never")
        )
        return tr._(", ").join(parts)

    def libredesk_only(self) -> bool:
        """Whether the plan has steps that only a real Libredesk server has."""
        return self.stop_assignments_after is not None or self.reassign_after is not None


#: Why the agent owns a status (the one notion of ownership lives in presence_agent/events.py,
#: so the agenda, the policy and the snapshot all speak it).
Reason = OwnReason


def step_of(claim: Claim | None) -> Step | None:
    """The idle step a claim holds (None: none, or not an idle step)."""
    if claim is None:
        return None
    try:
        return Step(claim.word)
    except ValueError:
        return None


def word_of(status: Status, by_idle: bool | None) -> str:
    """The real server's word for what the app holds: tells an idle ``away`` (``away``) from
    one that stops new conversations (``away_manual``). On the documented dialect, which
    cannot tell, an away reads ``away_manual`` unless known to be idle: the key under which
    ownership of it is kept, never sent."""
    if status is Status.AVAILABLE:
        return "online"
    if status is Status.AWAY:
        return "away" if by_idle else "away_manual"
    return str(status.value)


def status_of(word: str) -> Status:
    """The app's status for a word :func:`word_of` gives."""
    if word == "online":
        return Status.AVAILABLE
    if word in ("away", "away_manual"):
        return Status.AWAY
    return Status(word)


def claim_after_report(claim: Claim | None, reported: str, asking: str | None) -> Claim | None:
    """What is left of ``claim`` once the server reports it holds ``reported``.

    ``asking`` is the word of the agent's own request in flight, if any: the server reporting
    it is our change arriving (the claim moves to it); reporting the claimed word changes
    nothing; any other word is somebody else's change, and ownership ends.
    """
    if claim is None:
        return None
    if reported == claim.word:
        return claim
    if asking is not None and reported == asking:
        return claim.moved_to(reported)
    return None


def source_for(current: str | None) -> Source:
    """The ``source`` that can change ``current`` on the real server: ``user`` over its
    guarded words (an ``idle`` request there is answered 200 with nothing changed)."""
    return Source.USER if current in GUARDED else Source.IDLE


class Recovery(str, enum.Enum):
    """What to do about a status found on a real server."""

    #: Leave it: somebody chose it, or it is already ``online``.
    NONE = "none"
    #: ``PUT online`` now (everyone is told), then ping.
    PUT_ONLINE = "put online"
    #: Not ours to keep: ``PUT online`` on the first input (the person is not at the desk).
    ON_INPUT = "on input"


def recovery_for(
    dialect: Dialect | None,
    reported: str,
    *,
    person_active: bool,
    chose_offline: bool,
    claim: Claim | None,
) -> Recovery:
    """Whether a status found at start, pushed, or re-read after a reconnect must be undone.

    Real dialect only. ``offline`` the person did not choose through this agent (the sweep,
    an admin, a server restart) and ``away`` (always an idle status there, whoever set it)
    come back to ``online``: now if the person is active, else on their first input. A
    status the agent owns comes back on input like any owned one. ``away_manual`` and
    ``away_and_reassigning`` that the agent does not own are a person's choice: left alone.
    Rules above this one (a pause, off shift) may still hold the return back.
    """
    if dialect is not Dialect.LIBREDESK:
        return Recovery.NONE
    owned = claim is not None and claim.word == reported
    if reported == "offline" and chose_offline and not owned:
        return Recovery.NONE
    if reported in ("offline", "away") or (owned and reported in GUARDED):
        return Recovery.PUT_ONLINE if person_active else Recovery.ON_INPUT
    return Recovery.NONE


def meaning(word: str, dialect: Dialect | None) -> str:
    """What a held status means for routing, on a real server ("" where nothing to say)."""
    if dialect is not Dialect.LIBREDESK:
        return ""
    return _MEANING.get(word, "")


#: English msgids: presence_agent/status_text.py translates them where they are shown.
_MEANING = {
    "away": N_("still receiving conversations"),
    "away_manual": N_("no new conversations"),
    "away_and_reassigning": N_("your conversations are being reassigned"),
}


class ClaimStore:
    """The claim in the state dir (``owned.json``), so ownership survives a restart or crash.

    A missing or damaged file is no claim: the worst it can do is leave a status alone, never
    change one the agent does not own. Writes are atomic; nothing is written when unchanged.
    Thread use: the engine's thread only.
    """

    FILE = "owned.json"

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / self.FILE
        self._saved: Claim | object | None = _UNKNOWN

    def load(self) -> Claim | None:
        try:
            data = read_json(self.path)
            agent_id = data.get("agent_id")
            claim = Claim(
                word=_word(data["word"]),
                reason=Reason(data["reason"]),
                since=finite(data["since"]),
                server=str(data.get("server", ""))[:2048],
                agent_id=agent_id if isinstance(agent_id, int) and agent_id >= 0 else None,
            )
        except FileNotFoundError:
            self._saved = None
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("ignoring a damaged ownership file %s: %s", self.path, type(exc).__name__)
            return None
        self._saved = claim
        return claim

    def save(self, claim: Claim | None) -> None:
        if claim == self._saved:
            return
        try:
            if claim is None:
                self.path.unlink(missing_ok=True)
            else:
                self._write(claim)
        except OSError as exc:
            log.warning("cannot keep the owned status in %s: %s", self.path, exc.strerror)
            return
        self._saved = claim

    def _write(self, claim: Claim) -> None:
        write_json(
            self.path,
            {
                "word": claim.word,
                "reason": claim.reason.value,
                "since": claim.since,
                "server": claim.server,
                "agent_id": claim.agent_id,
            },
        )


_UNKNOWN = object()
_WORDS = frozenset({"online", "away", "away_manual", "away_and_reassigning", "offline", "busy"})


def _word(value: object) -> str:
    if not isinstance(value, str) or value not in _WORDS:
        raise ValueError("not a status word")
    return value


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _duration(seconds: float, tr: Translator = ENGLISH) -> str:
    if seconds % 3600 == 0:
        return tr._("{hours} h").format(hours=f"{seconds / 3600:g}")
    if seconds % 60 == 0:
        return tr._("{minutes} min").format(minutes=f"{seconds / 60:g}")
    if seconds >= 60:
        return tr._("{minutes} min").format(minutes=f"{seconds / 60:.1f}")
    return tr._("{seconds} s").format(seconds=f"{seconds:g}")
