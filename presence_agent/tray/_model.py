"""What the tray shows, as plain values: the menu, the tooltip, the idle notification.

Pure functions of a :class:`Snapshot` (plus the few things that are not in
it: autostart, the server URL, whether a sign-in dialog can be shown). The
pystray adapter turns these values into widgets; tests check them directly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Literal

from presence_agent.events import Snapshot, Why
from presence_agent.i18n import ENGLISH, N_, Translator
from presence_agent.shift_text import back_at, off_shift, timed_choices
from presence_agent.status_text import (
    REASONS,
    headline,
    idle_for,
    label,
    meaning_text,
    reason,
    routing_headline,
)
from presence_agent.timers import EXTEND_BY
from presence_agent.vocab import Dialect, Status

__all__ = [
    "PAUSE_CHOICES",
    "SEPARATOR",
    "Action",
    "Choose",
    "ChooseFor",
    "ChooseUntil",
    "Entry",
    "Extend",
    "Item",
    "MenuContext",
    "OpenServer",
    "PauseFor",
    "Quit",
    "ResumeIdle",
    "Separator",
    "SignIn",
    "SignOut",
    "ToggleAutostart",
    "build_menu",
    "held_text",
    "idle_notice",
    "reason",
    "shape",
    "status_line",
    "tooltip",
]

#: The "Pause idle detection" durations: label and seconds (``None``: until resumed).
PAUSE_CHOICES: tuple[tuple[str, float | None], ...] = (
    (N_("For 30 minutes"), 30 * 60.0),
    (N_("For 1 hour"), 60 * 60.0),
    (N_("Until I resume"), None),
)
#: The command to sign in with when no dialog can be shown.
LOGIN_COMMAND = "presence-agent login --server https://desk.example.com --api-key KEY"
#: What the tooltip says while signed out: the menu has the way in (Sign in…, or the command).
SIGN_IN_HINT = N_("Sign in from this icon's menu")
#: Windows cuts tray tooltips at 127 characters; other trays at about that too.
TOOLTIP_LIMIT = 127


# -- actions: what a menu item asks for -------------------------------------------------


@dataclass(frozen=True)
class Choose:
    status: Status


@dataclass(frozen=True)
class ChooseFor:
    """``status`` for ``seconds`` from the moment it is picked."""

    status: Status
    seconds: float


@dataclass(frozen=True)
class ChooseUntil:
    """``status`` until the wall-clock instant ``until``."""

    status: Status
    until: float


@dataclass(frozen=True)
class Extend:
    """The running timer, ``seconds`` longer."""

    seconds: float


@dataclass(frozen=True)
class PauseFor:
    seconds: float | None


@dataclass(frozen=True)
class ResumeIdle:
    pass


@dataclass(frozen=True)
class OpenServer:
    url: str


@dataclass(frozen=True)
class SignIn:
    pass


@dataclass(frozen=True)
class SignOut:
    pass


@dataclass(frozen=True)
class ToggleAutostart:
    enable: bool


@dataclass(frozen=True)
class Quit:
    pass


Action = (
    Choose
    | ChooseFor
    | ChooseUntil
    | Extend
    | PauseFor
    | ResumeIdle
    | OpenServer
    | SignIn
    | SignOut
    | ToggleAutostart
    | Quit
)
#: What "Extend" adds to a running timer.
EXTEND_SECONDS = EXTEND_BY
#: The first entry of a status's submenu: the status with no end.
NO_END = N_("Until I change it")


# -- the menu -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Separator:
    pass


SEPARATOR = Separator()


@dataclass(frozen=True)
class Item:
    """One menu item. ``action`` ``None`` with no submenu: an inactive line of text."""

    label: str
    action: Action | None = None
    kind: Literal["plain", "radio", "check"] = "plain"
    checked: bool = False
    enabled: bool = True
    submenu: tuple[Entry, ...] = ()


Entry = Item | Separator


@dataclass(frozen=True)
class MenuContext:
    """What the menu needs that is not in the snapshot."""

    #: The Libredesk URL from the config, for "Open Libredesk".
    server_url: str | None = None
    #: Whether "Start at login" is on; ``None`` when it cannot be read or set here.
    autostart: bool | None = False
    #: Whether a sign-in dialog can be shown (a GUI toolkit exists).
    can_sign_in: bool = True
    #: The timezone times are shown and chosen in (the system's).
    tz: tzinfo = timezone.utc
    #: The person's language (presence_agent/i18n.py).
    tr: Translator = ENGLISH


def build_menu(
    snap: Snapshot, ctx: MenuContext, now_wall: float | None = None
) -> tuple[Entry, ...]:
    """The tray menu, top to bottom.

    First a line that cannot be clicked saying the status and why
    (:func:`status_line`): AppIndicator hosts (KDE, GNOME's extension, XFCE)
    show no tooltip, so the menu is where it must be read. Then the statuses
    this server can hold (``snap.choices``), as radio items; the checked one
    is what the server says it holds. They are inactive while there is no
    server to ask.

    A status change changes only labels, check marks and what is enabled, which
    the tray updates in place (presence_agent/tray/_app.py); signing in or
    out and pausing change the menu's shape (:func:`shape`), and only those
    rebuild it.

    Each status but Available opens its durations (a timed status ends in
    Available, so Available has none), and the first line says how long a timed
    status has left or when the shift starts.
    """
    now = time.time() if now_wall is None else now_wall
    tr = ctx.tr
    live = snap.connected and not snap.signed_out
    entries: list[Entry] = [Item(status_line(snap, now, ctx.tz, tr), enabled=False), SEPARATOR]
    if not snap.signed_out:
        # Signed out there is nothing to choose or pause: no server to tell.
        choices = timed_choices(snap.agenda, now, ctx.tz, tr)
        for status in snap.choices:
            checked = snap.status is status
            name = label(status, tr)
            if status is Status.AVAILABLE:
                entries.append(Item(name, Choose(status), "radio", checked, live))
                continue
            submenu: tuple[Entry, ...] = (
                Item(tr._(NO_END), Choose(status)),
                SEPARATOR,
                *(
                    Item(
                        choice.label,
                        ChooseUntil(status, choice.until)
                        if choice.until is not None
                        else ChooseFor(status, choice.seconds or 0.0),
                    )
                    for choice in choices
                ),
            )
            entries.append(Item(name, None, "radio", checked, live, submenu))
        if live and snap.agenda.timer is not None:
            minutes = round(EXTEND_SECONDS / 60)
            words = tr.ngettext("Extend by {n} minute", "Extend by {n} minutes", minutes)
            entries.append(Item(words.format(n=minutes), Extend(EXTEND_SECONDS)))
        entries.append(SEPARATOR)
        if snap.paused:
            words = (
                tr._("Resume idle detection (paused until {time})").format(
                    time=_clock(snap.paused_until_wall, now_wall, tr)
                )
                if snap.paused_until_wall is not None
                else tr._("Resume idle detection (paused)")
            )
            entries.append(Item(words, ResumeIdle()))
        else:
            entries.append(
                Item(
                    tr._("Pause idle detection"),
                    submenu=tuple(
                        Item(tr._(words), PauseFor(seconds)) for words, seconds in PAUSE_CHOICES
                    ),
                )
            )
    entries.append(
        Item(
            tr._("Open Libredesk"),
            OpenServer(ctx.server_url) if ctx.server_url else None,
            enabled=bool(ctx.server_url),
        )
    )
    if not snap.signed_out:
        entries.append(Item(tr._("Sign out"), SignOut()))
    elif ctx.can_sign_in:
        entries.append(Item(tr._("Sign in…"), SignIn()))
    else:
        # No toolkit for a dialog: say how, rather than offer an item that cannot work.
        words = tr._("Sign in: run `{command}`").format(command=LOGIN_COMMAND)
        entries.append(Item(words, enabled=False))
    entries.append(
        Item(
            tr._("Start at login"),
            ToggleAutostart(not ctx.autostart) if ctx.autostart is not None else None,
            "check",
            bool(ctx.autostart),
            ctx.autostart is not None,
        )
    )
    entries.append(Item(tr._("Quit"), Quit()))
    return tuple(entries)


def shape(entries: tuple[Entry, ...]) -> tuple[object, ...]:
    """What a rebuild is needed for: the kinds and order of the items, nothing they say or do.

    Labels, checks, enabled and shown states change in place, and a click
    looks up the item's action when it happens.
    """
    return tuple(
        "-" if isinstance(entry, Separator) else (entry.kind, shape(entry.submenu))
        for entry in entries
    )


def status_line(
    snap: Snapshot,
    now_wall: float | None = None,
    tz: tzinfo = timezone.utc,
    tr: Translator = ENGLISH,
) -> str:
    """``Away · idle since 10:42 · still gets new conversations``: the menu's first line.

    With a timer: ``Away · back at 13:00 (in 42 min)``; outside working hours it
    starts ``Off shift · starts 09:00``.
    """
    if snap.signed_out:
        return tr._("Signed out · choose Sign in…")
    if not snap.connected or snap.status is None:
        return tr._("Not connected · {problem}").format(problem=snap.problem or tr._("connecting…"))
    now = time.time() if now_wall is None else now_wall
    timed = back_at(snap.agenda, now, tz, tr)
    shift = off_shift(snap.agenda, now, tz, tr) if timed is None else None
    why = reason(snap, tr)
    since = (
        tr._("since {time}").format(time=_clock(snap.since_wall, now_wall, tr))
        if snap.since_wall is not None
        else ""
    )
    meant = meaning_text(snap, tr) if timed is None else ""
    if meant:
        # On a real server: what the away means for customers, said as `status` says it.
        idle = idle_for(snap, now, tr)
        parts = [shift or "", routing_headline(snap, now, tr), "" if idle else since]
    else:
        parts = [shift or "", label(snap.status, tr)]
        parts.append(timed or " ".join(part for part in (why, since) if part))
    if snap.held_by:
        parts.append(held_text(snap.held_by, tr))
    elif snap.paused:
        parts.append(tr._("idle detection paused"))
    text = " · ".join(part for part in parts if part)
    return text if len(text) <= TOOLTIP_LIMIT else text[: TOOLTIP_LIMIT - 1] + "…"


# -- the tooltip ---------------------------------------------------------------------------


def tooltip(
    snap: Snapshot,
    now_wall: float | None = None,
    tz: tzinfo = timezone.utc,
    tr: Translator = ENGLISH,
) -> str:
    """``presence-agent: Away (idle) since 14:02``, then any pause or problem on its own line."""
    if snap.signed_out:
        why = snap.problem if snap.problem and snap.problem != "not signed in" else ""
        lines = [tr._("presence-agent: signed out"), why, tr._(SIGN_IN_HINT)]
    elif not snap.connected or snap.status is None:
        lines = [tr._("presence-agent: not connected"), snap.problem or tr._("connecting…")]
    else:
        now = time.time() if now_wall is None else now_wall
        since = _clock(snap.since_wall, now_wall, tr) if snap.since_wall is not None else ""
        if meaning_text(snap, tr) and back_at(snap.agenda, now, tz, tr) is None:
            lines = [
                tr._("presence-agent: {status}").format(status=routing_headline(snap, now, tr))
            ]
            if since and not idle_for(snap, now, tr):
                lines.append(tr._("Since {time}").format(time=since))
        elif since:
            head = tr._("presence-agent: {status} since {time}").format(
                status=headline(snap, tr), time=since
            )
            lines = [head]
        else:
            lines = [tr._("presence-agent: {status}").format(status=headline(snap, tr))]
        if snap.held_by:
            lines.append(held_text(snap.held_by, tr))
        timed = back_at(snap.agenda, now, tz, tr)
        if timed is not None:
            lines.append(timed[:1].upper() + timed[1:])
        lines.append(off_shift(snap.agenda, now, tz, tr) or "")
        if snap.paused:
            if snap.paused_until_wall is not None:
                lines.append(
                    tr._("Idle detection paused until {time}").format(
                        time=_clock(snap.paused_until_wall, now_wall, tr)
                    )
                )
            else:
                lines.append(tr._("Idle detection paused"))
        if snap.problem:
            lines.append(snap.problem)
    text = "\n".join(line for line in lines if line)
    if len(text) > TOOLTIP_LIMIT:
        text = text[: TOOLTIP_LIMIT - 1] + "…"
    return text


def held_text(held_by: str, tr: Translator = ENGLISH) -> str:
    """``In a call (microphone in use)``, or ``Idle detection held off: ...`` for other holders."""
    # ``held_by`` is an English msgid (presence_agent/calls/__init__.py, session/_bridge.py).
    if "in use" in held_by:
        return tr._("In a call ({what})").format(what=tr._(held_by))
    return tr._("Idle detection held off: {what}").format(what=tr._(held_by))


def _clock(wall: float | None, now_wall: float | None, tr: Translator = ENGLISH) -> str:
    """``14:02`` today, ``Mon 14:02`` within a week, else ``3 Mar 14:02`` (local time)."""
    if wall is None:
        return "?"
    now = time.time() if now_wall is None else now_wall
    try:
        then = datetime.fromtimestamp(wall)
        today = datetime.fromtimestamp(now).date()
    except (OverflowError, ValueError, OSError):
        return "?"  # no date a clock can show: a render must never fail over it
    return tr.clock(then, today)


# -- notifications --------------------------------------------------------------------------


def idle_notice(
    before: Snapshot | None, after: Snapshot, away_after: float, tr: Translator = ENGLISH
) -> str | None:
    """The notification for an idle change between two snapshots, or ``None``.

    Only changes made by idle detection (and screen lock or sleep, which act
    for it) are announced: the person made a manual change themselves, and a
    change made elsewhere is not the agent's doing.
    """
    if before is None or before.status is None or after.status is None:
        return None
    if not after.connected or after.status is before.status:
        return None
    if after.status is Status.AWAY and after.by_idle:
        match after.why:
            case Why.LOCKED | Why.SLEEP:
                return tr._("You're now Away ({reason})").format(reason=tr._(REASONS[after.why]))
            case Why.IDLE:
                return _idle_for(away_after, tr)
        return None
    if (
        after.status is Status.AVAILABLE
        and before.by_idle
        and after.why is Why.IDLE
        and after.dialect is not Dialect.LIBREDESK
    ):
        # On a real server the engine's own notice says it, with how long (policy.py).
        return tr._("You're Available again")
    return None


def _idle_for(seconds: float, tr: Translator) -> str:
    """``You're now Away (idle 5 minutes)``: the threshold, in its largest whole unit."""
    if seconds < 60:
        n = round(seconds)
        words = tr.ngettext(
            "You're now Away (idle {n} second)", "You're now Away (idle {n} seconds)", n
        )
    elif seconds < 3600 or seconds % 3600:
        n = round(seconds / 60)
        words = tr.ngettext(
            "You're now Away (idle {n} minute)", "You're now Away (idle {n} minutes)", n
        )
    else:
        n = round(seconds / 3600)
        words = tr.ngettext(
            "You're now Away (idle {n} hour)", "You're now Away (idle {n} hours)", n
        )
    return words.format(n=n)
