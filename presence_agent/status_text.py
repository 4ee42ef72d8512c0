"""The words for a status, in one place: the tray's tooltip and notifications, ``status``
and ``run --no-tray`` all say the same thing the same way.

Pure functions of a :class:`~presence_agent.events.Snapshot` and the person's
:class:`~presence_agent.i18n.Translator`; standard library only.
"""

from __future__ import annotations

from presence_agent.events import Snapshot, Why
from presence_agent.i18n import ENGLISH, N_, Translator
from presence_agent.vocab import Status

#: Why a status holds, in a word or two (English msgids; :func:`reason` translates).
#: ``Why.UNKNOWN`` has no words: nothing is said.
REASONS = {
    Why.IDLE: N_("idle"),
    Why.MANUAL: N_("manual"),
    Why.ELSEWHERE: N_("set elsewhere"),
    Why.LOCKED: N_("screen locked"),
    Why.SLEEP: N_("computer slept"),
    Why.START: N_("at start"),
    Why.TIMER: N_("timer ended"),
    Why.SHIFT_END: N_("end of shift"),
    Why.SHIFT_START: N_("shift started"),
}


def label(status: Status, tr: Translator = ENGLISH) -> str:
    """The status's name in the person's language: ``Abwesend``, ``Available``."""
    return tr._(status.label)


def reason(snap: Snapshot, tr: Translator = ENGLISH) -> str:
    """Why the status holds: ``idle``, ``manual``, ``set elsewhere``... or ``""``.

    An away that idle detection set reads ``idle`` whoever's idle detection it
    was (ours, the web app's) and whatever else we know of it.
    """
    if snap.by_idle and snap.why in (Why.ELSEWHERE, Why.UNKNOWN):
        return tr._(REASONS[Why.IDLE])
    words = REASONS.get(snap.why)
    return tr._(words) if words else ""


def headline(snap: Snapshot, tr: Translator = ENGLISH) -> str:
    """``Away (idle)``, ``Available``; ``Signed out`` or ``Not connected`` without a status."""
    if snap.signed_out:
        return tr._("Signed out")
    if snap.status is None:
        return tr._("Not connected")
    why = reason(snap, tr)
    name = label(snap.status, tr)
    return tr._("{status} ({reason})").format(status=name, reason=why) if why else name
