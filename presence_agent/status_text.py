"""The words for a status, in one place: the tray's tooltip and notifications, ``status``
and ``run --no-tray`` all say the same thing the same way.

Pure functions of a :class:`~presence_agent.events.Snapshot`; standard library only.
"""

from __future__ import annotations

from presence_agent.events import Snapshot, Why

#: Why a status holds, in a word or two. ``Why.UNKNOWN`` has no words: nothing is said.
REASONS = {
    Why.IDLE: "idle",
    Why.MANUAL: "manual",
    Why.ELSEWHERE: "set elsewhere",
    Why.LOCKED: "screen locked",
    Why.SLEEP: "computer slept",
    Why.START: "at start",
    Why.TIMER: "timer ended",
    Why.SHIFT_END: "end of shift",
    Why.SHIFT_START: "shift started",
}


def reason(snap: Snapshot) -> str:
    """Why the status holds: ``idle``, ``manual``, ``set elsewhere``... or ``""``.

    An away that idle detection set reads ``idle`` whoever's idle detection it
    was (ours, the web app's) and whatever else we know of it.
    """
    if snap.by_idle and snap.why in (Why.ELSEWHERE, Why.UNKNOWN):
        return REASONS[Why.IDLE]
    return REASONS.get(snap.why, "")


def headline(snap: Snapshot) -> str:
    """``Away (idle)``, ``Available``; ``Signed out`` or ``Not connected`` without a status."""
    if snap.signed_out:
        return "Signed out"
    if snap.status is None:
        return "Not connected"
    why = reason(snap)
    return f"{snap.status.label} ({why})" if why else snap.status.label
