"""The words for a status, in one place: the tray's tooltip and notifications, ``status``
and ``run --no-tray`` all say the same thing the same way.

Pure functions of a :class:`~presence_agent.events.Snapshot` and the person's
:class:`~presence_agent.i18n.Translator`; standard library only.
"""

from __future__ import annotations

from presence_agent.events import OwnReason, Snapshot, Why
from presence_agent.i18n import ENGLISH, N_, Translator
from presence_agent.routing import meaning, word_of
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


def meaning_text(snap: Snapshot, tr: Translator = ENGLISH) -> str:
    """What the status held means for customers, on a real Libredesk (docs/libredesk.md):
    ``still receiving conversations``, ``no new conversations``, ``your conversations are
    being reassigned``; ``""`` elsewhere."""
    if snap.status is None or snap.signed_out:
        return ""
    words = meaning(word_of(snap.status, snap.by_idle), snap.dialect)
    return tr._(words) if words else ""


def _owned_idle_since(snap: Snapshot) -> float | None:
    """The last input's wall time while the agent holds a step it set for idleness."""
    claim = snap.agenda.claim
    if (
        claim is None
        or claim.reason is not OwnReason.IDLE
        or snap.status is None
        or claim.word != word_of(snap.status, snap.by_idle)
    ):
        return None
    return snap.last_input_wall


def idle_changes_at(snap: Snapshot, now_wall: float) -> float | None:
    """When ``idle 17 min`` next reads differently (the next whole minute), or ``None``."""
    since = _owned_idle_since(snap)
    if since is None:
        return None
    return since + (max(0.0, now_wall - since) // 60 + 1) * 60


def idle_for(snap: Snapshot, now_wall: float, tr: Translator = ENGLISH) -> str:
    """``idle 17 min`` while the agent holds a step it set for idleness, else ``""``."""
    if _owned_idle_since(snap) is None or snap.last_input_wall is None:
        return ""
    minutes = max(0, int(now_wall - snap.last_input_wall) // 60)
    if minutes < 1:
        return tr._(REASONS[Why.IDLE])  # "idle 0 min" says nothing a person can use
    return tr._("idle {minutes} min").format(minutes=minutes)


def routing_headline(
    snap: Snapshot, now_wall: float, tr: Translator = ENGLISH, since: str = ""
) -> str:
    """``Away (idle 17 min) · no new conversations``, ``Away (idle) · still receiving
    conversations``, ``Away · your conversations are being reassigned``: the status, why (for
    an owned idle step, how long idle), ``since`` if given, and what it means for routing.

    The tray's first line and tooltip and ``status`` all say it this way; where the status
    means nothing for routing (Available, a documented server), it is :func:`headline`.
    """
    meant = meaning_text(snap, tr)
    if not meant or snap.status is None:
        return " ".join(part for part in (headline(snap, tr), since) if part)
    # Every step beyond away is an away to the person; the meaning says which kind.
    why = idle_for(snap, now_wall, tr) or reason(snap, tr)
    if snap.status is Status.REASSIGNING and why == tr._(REASONS[Why.MANUAL]):
        why = ""  # a person's own choice: the meaning says it all
    name = label(Status.AWAY, tr)
    head = tr._("{status} ({reason})").format(status=name, reason=why) if why else name
    return " · ".join(part for part in (f"{head} {since}".strip(), meant) if part)
