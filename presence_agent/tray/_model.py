"""What the tray shows, as plain values: the menu, the tooltip, the idle notification.

Pure functions of a :class:`Snapshot` (plus the few things that are not in
it: autostart, the server URL, whether a sign-in dialog can be shown). The
pystray adapter turns these values into widgets; tests check them directly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timezone, tzinfo
from typing import Literal

from presence_agent.events import Snapshot, Why
from presence_agent.shift_text import back_at, off_shift, timed_choices
from presence_agent.status_text import (
    REASONS,
    headline,
    idle_for,
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
    ("For 30 minutes", 30 * 60.0),
    ("For 1 hour", 60 * 60.0),
    ("Until I resume", None),
)
#: The command to sign in with when no dialog can be shown.
LOGIN_COMMAND = "presence-agent login --server https://desk.example.com --api-key KEY"
#: What the tooltip says while signed out: the menu has the way in (Sign in…, or the command).
SIGN_IN_HINT = "Sign in from this icon's menu"
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
NO_END = "Until I change it"


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
    live = snap.connected and not snap.signed_out
    entries: list[Entry] = [Item(status_line(snap, now, ctx.tz), enabled=False), SEPARATOR]
    if not snap.signed_out:
        # Signed out there is nothing to choose or pause: no server to tell.
        choices = timed_choices(snap.agenda, now, ctx.tz)
        for status in snap.choices:
            checked = snap.status is status
            if status is Status.AVAILABLE:
                entries.append(Item(status.label, Choose(status), "radio", checked, live))
                continue
            submenu: tuple[Entry, ...] = (
                Item(NO_END, Choose(status)),
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
            entries.append(Item(status.label, None, "radio", checked, live, submenu))
        if live and snap.agenda.timer is not None:
            entries.append(
                Item(f"Extend by {EXTEND_SECONDS / 60:.0f} minutes", Extend(EXTEND_SECONDS))
            )
        entries.append(SEPARATOR)
        if snap.paused:
            until = (
                f" (paused until {_clock(snap.paused_until_wall, now_wall)})"
                if snap.paused_until_wall is not None
                else " (paused)"
            )
            entries.append(Item(f"Resume idle detection{until}", ResumeIdle()))
        else:
            entries.append(
                Item(
                    "Pause idle detection",
                    submenu=tuple(
                        Item(label, PauseFor(seconds)) for label, seconds in PAUSE_CHOICES
                    ),
                )
            )
    entries.append(
        Item(
            "Open Libredesk",
            OpenServer(ctx.server_url) if ctx.server_url else None,
            enabled=bool(ctx.server_url),
        )
    )
    if not snap.signed_out:
        entries.append(Item("Sign out", SignOut()))
    elif ctx.can_sign_in:
        entries.append(Item("Sign in…", SignIn()))
    else:
        # No toolkit for a dialog: say how, rather than offer an item that cannot work.
        entries.append(Item(f"Sign in: run `{LOGIN_COMMAND}`", enabled=False))
    entries.append(
        Item(
            "Start at login",
            ToggleAutostart(not ctx.autostart) if ctx.autostart is not None else None,
            "check",
            bool(ctx.autostart),
            ctx.autostart is not None,
        )
    )
    entries.append(Item("Quit", Quit()))
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


def status_line(snap: Snapshot, now_wall: float | None = None, tz: tzinfo = timezone.utc) -> str:
    """``Away · idle since 10:42 · still gets new conversations``: the menu's first line.

    With a timer: ``Away · back at 13:00 (in 42 min)``; outside working hours it
    starts ``Off shift · starts 09:00``.
    """
    if snap.signed_out:
        return "Signed out · choose Sign in…"
    if not snap.connected or snap.status is None:
        return f"Not connected · {snap.problem or 'connecting…'}"
    now = time.time() if now_wall is None else now_wall
    timed = back_at(snap.agenda, now, tz)
    shift = off_shift(snap.agenda, now, tz) if timed is None else None
    why = reason(snap)
    since = f"since {_clock(snap.since_wall, now_wall)}" if snap.since_wall is not None else ""
    meant = meaning_text(snap) if timed is None else ""
    if meant:
        # On a real server: what the away means for customers, said as `status` says it.
        parts = [shift or "", routing_headline(snap, now), "" if idle_for(snap, now) else since]
    else:
        parts = [shift or "", snap.status.label]
        parts.append(timed or " ".join(part for part in (why, since) if part))
    if snap.held_by:
        parts.append(held_text(snap.held_by))
    elif snap.paused:
        parts.append("idle detection paused")
    text = " · ".join(part for part in parts if part)
    return text if len(text) <= TOOLTIP_LIMIT else text[: TOOLTIP_LIMIT - 1] + "…"


# -- the tooltip ---------------------------------------------------------------------------


def tooltip(snap: Snapshot, now_wall: float | None = None, tz: tzinfo = timezone.utc) -> str:
    """``presence-agent: Away (idle) since 14:02``, then any pause or problem on its own line."""
    if snap.signed_out:
        why = snap.problem if snap.problem and snap.problem != "not signed in" else ""
        lines = ["presence-agent: signed out", why, SIGN_IN_HINT]
    elif not snap.connected or snap.status is None:
        lines = ["presence-agent: not connected", snap.problem or "connecting…"]
    else:
        now = time.time() if now_wall is None else now_wall
        since = _clock(snap.since_wall, now_wall) if snap.since_wall is not None else ""
        if meaning_text(snap) and back_at(snap.agenda, now, tz) is None:
            lines = [f"presence-agent: {routing_headline(snap, now)}"]
            if since and not idle_for(snap, now):
                lines.append(f"Since {since}")
        else:
            head = f"presence-agent: {headline(snap)}"
            if since:
                head += f" since {since}"
            lines = [head]
        if snap.held_by:
            lines.append(held_text(snap.held_by))
        now = time.time() if now_wall is None else now_wall
        timed = back_at(snap.agenda, now, tz)
        if timed is not None:
            lines.append(timed[:1].upper() + timed[1:])
        lines.append(off_shift(snap.agenda, now, tz) or "")
        if snap.paused:
            if snap.paused_until_wall is not None:
                lines.append(
                    f"Idle detection paused until {_clock(snap.paused_until_wall, now_wall)}"
                )
            else:
                lines.append("Idle detection paused")
        if snap.problem:
            lines.append(snap.problem)
    text = "\n".join(line for line in lines if line)
    if len(text) > TOOLTIP_LIMIT:
        text = text[: TOOLTIP_LIMIT - 1] + "…"
    return text


def held_text(held_by: str) -> str:
    """``In a call (microphone in use)``, or ``Idle detection held off: ...`` for other holders."""
    if "in use" in held_by:
        return f"In a call ({held_by})"
    return f"Idle detection held off: {held_by}"


def _clock(wall: float | None, now_wall: float | None) -> str:
    """``14:02`` today, ``Mon 14:02`` within a week, else ``3 Mar 14:02`` (local time)."""
    if wall is None:
        return "?"
    now = time.time() if now_wall is None else now_wall
    try:
        then = time.localtime(wall)
        today = time.localtime(now)
    except (OverflowError, ValueError, OSError):
        return "?"  # no date a clock can show: a render must never fail over it
    if then[:3] == today[:3]:
        return time.strftime("%H:%M", then)
    if 0 <= now - wall < 6 * 86400:
        return time.strftime("%a %H:%M", then)
    return time.strftime("%d %b %H:%M", then).lstrip("0")


# -- notifications --------------------------------------------------------------------------


def idle_notice(before: Snapshot | None, after: Snapshot, away_after: float) -> str | None:
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
                return f"You're now Away ({REASONS[after.why]})"
            case Why.IDLE:
                return f"You're now Away (idle {_duration(away_after)})"
        return None
    if (
        after.status is Status.AVAILABLE
        and before.by_idle
        and after.why is Why.IDLE
        and after.dialect is not Dialect.LIBREDESK
    ):
        # On a real server the engine's own notice says it, with how long (policy.py).
        return "You're Available again"
    return None


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 60 or minutes % 60:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.0f} h"
