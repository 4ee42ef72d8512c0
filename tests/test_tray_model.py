"""The tray's menu, tooltip and idle notifications, computed from plain snapshots."""

from __future__ import annotations

import time

import pytest

from presence_agent.events import Snapshot
from presence_agent.policy import Why
from presence_agent.tray._model import (
    LOGIN_COMMAND,
    NO_END,
    TOOLTIP_LIMIT,
    Choose,
    ChooseFor,
    ChooseUntil,
    Entry,
    Extend,
    Item,
    MenuContext,
    OpenServer,
    PauseFor,
    Quit,
    ResumeIdle,
    Separator,
    SignIn,
    SignOut,
    ToggleAutostart,
    build_menu,
    idle_notice,
    shape,
    status_line,
    tooltip,
)
from presence_agent.vocab import Dialect, Status, statuses_for

URL = "https://desk.example.com"
CTX = MenuContext(server_url=URL, autostart=False, can_sign_in=True)
#: A fixed wall-clock time; expectations format it the same way, so the local zone does not matter.
NOW = 1_780_000_000.0


def snapshot(
    status: Status | None = Status.AVAILABLE,
    dialect: Dialect = Dialect.DOCUMENTED,
    **changes: object,
) -> Snapshot:
    values: dict[str, object] = {
        "status": status,
        "why": Why.START,
        "since_wall": NOW - 600,
        "connected": status is not None,
        "dialect": dialect,
        "choices": statuses_for(dialect),
    }
    values.update(changes)
    return Snapshot(**values)  # type: ignore[arg-type]


def labels(entries: tuple[Entry, ...]) -> list[str]:
    """What the person sees below the status line: hidden items left out."""
    shown = entries[2:]
    return ["---" if isinstance(entry, Separator) else entry.label for entry in shown]


def test_the_first_line_says_status_why_since_and_what_it_means_for_routing() -> None:
    idle = snapshot(Status.AWAY, Dialect.LIBREDESK, why=Why.IDLE, by_idle=True)
    assert status_line(idle, NOW) == (
        f"Away (idle) · still receiving conversations · since {hm(NOW - 600)}"
    )
    manual = snapshot(Status.AWAY, Dialect.LIBREDESK, why=Why.MANUAL)
    assert status_line(manual, NOW) == (
        f"Away (manual) · no new conversations · since {hm(NOW - 600)}"
    )
    reassigning = snapshot(Status.REASSIGNING, Dialect.LIBREDESK, why=Why.MANUAL)
    assert status_line(reassigning, NOW) == (
        f"Away · your conversations are being reassigned · since {hm(NOW - 600)}"
    )
    call = snapshot(Status.AVAILABLE, held_by="microphone in use")
    assert status_line(call, NOW) == (
        f"Available · at start since {hm(NOW - 600)} · In a call (microphone in use)"
    )
    first = build_menu(idle, CTX, now_wall=NOW)[0]
    assert isinstance(first, Item)
    assert not first.enabled
    assert first.action is None
    assert status_line(snapshot(None, signed_out=True)) == "Signed out · choose Sign in…"


def test_an_owned_idle_step_says_how_long_idle_in_the_line_the_tooltip_and_status() -> None:
    from presence_agent.app import describe
    from presence_agent.events import AgendaView, Claim, OwnReason

    claim = Claim("away_manual", OwnReason.IDLE, NOW - 700)
    owned = snapshot(
        Status.AWAY,
        Dialect.LIBREDESK,
        why=Why.IDLE,
        agenda=AgendaView(owned=Status.AWAY, claim=claim),
        last_input_wall=NOW - 17 * 60 - 5,
    )
    assert status_line(owned, NOW) == "Away (idle 17 min) · no new conversations"
    assert tooltip(owned, NOW).splitlines()[0] == (
        "presence-agent: Away (idle 17 min) · no new conversations"
    )
    assert describe(owned, NOW) == "Away (idle 17 min) · no new conversations"
    gone = snapshot(
        Status.REASSIGNING,
        Dialect.LIBREDESK,
        why=Why.IDLE,
        agenda=AgendaView(owned=Status.REASSIGNING, claim=claim.moved_to("away_and_reassigning")),
        last_input_wall=NOW - 3600,
    )
    assert status_line(gone, NOW) == (
        "Away (idle 60 min) · your conversations are being reassigned"
    )
    # The documented server says nothing of routing: it has none of this.
    plain = snapshot(Status.AWAY, Dialect.DOCUMENTED, why=Why.IDLE, by_idle=True)
    assert "conversations" not in status_line(plain, NOW) + tooltip(plain, NOW)


def test_a_status_change_changes_no_structure_so_nothing_is_rebuilt() -> None:
    menus = [
        build_menu(snapshot(), CTX),
        build_menu(snapshot(Status.AWAY, why=Why.IDLE, by_idle=True), CTX),
        build_menu(snapshot(None), CTX),
        build_menu(snapshot(held_by="camera in use"), MenuContext(URL, autostart=True)),
    ]
    # The real server's four statuses take the documented one's four places.
    menus.append(build_menu(snapshot(Status.REASSIGNING, Dialect.LIBREDESK), CTX))
    assert len({shape(menu) for menu in menus}) == 1
    # Pausing and signing out do change it: those rebuild the menu.
    assert shape(build_menu(snapshot(paused=True), CTX)) != shape(menus[0])
    signed_out = build_menu(snapshot(None, signed_out=True, connected=False), CTX)
    assert shape(signed_out) != shape(menus[0])


def item(entries: tuple[Entry, ...], label: str) -> Item:
    """The one item whose label is ``label``, or starts with it (``"Resume idle detection"``)."""
    items = [e for e in entries[1:] if isinstance(e, Item)]
    exact = [e for e in items if e.label == label]
    [found] = exact or [e for e in items if e.label.startswith(label)]
    return found


def hm(wall: float) -> str:
    return time.strftime("%H:%M", time.localtime(wall))


# -- the menu ---------------------------------------------------------------------------------


def test_menu_order_on_a_documented_server() -> None:
    menu = build_menu(snapshot(), CTX)
    assert labels(menu) == [
        "Available",
        "Busy",
        "Away",
        "Offline",
        "---",
        "Pause idle detection",
        "Open Libredesk",
        "Sign out",
        "Start at login",
        "Quit",
    ]


def test_status_items_are_radio_items_checked_by_the_servers_status() -> None:
    menu = build_menu(snapshot(Status.BUSY), CTX)
    statuses = [e for e in menu[2:6] if isinstance(e, Item)]
    assert [e.kind for e in statuses] == ["radio"] * 4
    assert [e.checked for e in statuses] == [False, True, False, False]
    # Available is chosen at once; the others open their durations, first "no end".
    assert [e.action for e in statuses] == [Choose(Status.AVAILABLE), None, None, None]
    assert [e.submenu[0] for e in statuses[1:]] == [
        Item(NO_END, Choose(Status.BUSY)),
        Item(NO_END, Choose(Status.AWAY)),
        Item(NO_END, Choose(Status.OFFLINE)),
    ]
    assert all(e.enabled for e in statuses)


def test_a_pending_choice_is_not_checked_until_the_server_answers() -> None:
    menu = build_menu(snapshot(Status.AVAILABLE, pending=Status.AWAY), CTX)
    assert item(menu, "Available").checked
    assert not item(menu, "Away").checked


def test_a_real_libredesk_server_offers_only_what_it_can_hold() -> None:
    menu = build_menu(snapshot(Status.REASSIGNING, Dialect.LIBREDESK), CTX)
    assert labels(menu)[:5] == [
        "Available",
        "Away",
        "Away, reassign my conversations",
        "Offline",
        "---",
    ]
    assert "Busy" not in labels(menu)
    statuses = menu[2:]
    assert item(statuses, "Away, reassign").checked
    assert item(statuses, "Away, reassign").submenu[0] == Item(NO_END, Choose(Status.REASSIGNING))
    assert not item(statuses, "Away").checked


def test_nothing_is_checked_and_nothing_can_be_chosen_while_not_connected() -> None:
    menu = build_menu(snapshot(None), CTX)
    statuses = [e for e in menu[2:6] if isinstance(e, Item)]
    assert [e.checked for e in statuses] == [False] * 4
    assert [e.enabled for e in statuses] == [False] * 4
    assert item(menu, "Quit").enabled


def test_pause_offers_the_three_durations() -> None:
    pause = item(build_menu(snapshot(), CTX), "Pause idle detection")
    assert pause.action is None
    assert [(e.label, e.action) for e in pause.submenu if isinstance(e, Item)] == [
        ("For 30 minutes", PauseFor(1800.0)),
        ("For 1 hour", PauseFor(3600.0)),
        ("Until I resume", PauseFor(None)),
    ]


def test_while_paused_the_menu_offers_resume_and_says_until_when() -> None:
    until = NOW + 1800
    menu = build_menu(snapshot(paused=True, paused_until_wall=until), CTX, now_wall=NOW)
    assert labels(menu)[5] == f"Resume idle detection (paused until {hm(until)})"
    resume = item(menu, "Resume idle detection")
    assert resume == Item(f"Resume idle detection (paused until {hm(until)})", ResumeIdle())
    forever = build_menu(snapshot(paused=True), CTX)
    assert item(forever, "Resume idle detection").label == "Resume idle detection (paused)"


def test_open_libredesk_uses_the_configured_server() -> None:
    assert item(build_menu(snapshot(), CTX), "Open Libredesk").action == OpenServer(URL)
    unset = item(build_menu(snapshot(), MenuContext(server_url=None)), "Open Libredesk")
    assert not unset.enabled
    assert unset.action is None


def test_signed_out_offers_sign_in_in_place_of_sign_out() -> None:
    menu = build_menu(snapshot(Status.AVAILABLE, signed_out=True, connected=False), CTX)
    assert labels(menu)[:2] == ["Open Libredesk", "Sign in…"]
    assert item(menu, "Sign in").action == SignIn()
    assert "Sign out" not in labels(menu)
    # Nothing to choose or pause without a server: no Busy, no Available, no Pause.
    for gone in ("Busy", "Available", "Away", "Offline", "Pause idle detection"):
        assert gone not in labels(menu)
    assert item(build_menu(snapshot(), CTX), "Sign out").action == SignOut()


def test_without_a_dialog_toolkit_the_menu_says_which_command_to_run() -> None:
    ctx = MenuContext(server_url=None, can_sign_in=False)
    hint = item(build_menu(snapshot(None, signed_out=True), ctx), "Sign in")
    assert hint.label == f"Sign in: run `{LOGIN_COMMAND}`"
    assert not hint.enabled
    assert hint.action is None


def test_start_at_login_is_a_check_item_that_toggles() -> None:
    off = item(build_menu(snapshot(), CTX), "Start at login")
    assert (off.kind, off.checked, off.action) == ("check", False, ToggleAutostart(True))
    on = item(build_menu(snapshot(), MenuContext(URL, autostart=True)), "Start at login")
    assert (on.checked, on.action) == (True, ToggleAutostart(False))
    unknown = item(build_menu(snapshot(), MenuContext(URL, autostart=None)), "Start at login")
    assert not unknown.enabled


def test_quit_is_last() -> None:
    assert build_menu(snapshot(), CTX)[-1] == Item("Quit", Quit())


def test_equal_snapshots_give_equal_menus_so_the_tray_can_skip_rebuilding() -> None:
    assert build_menu(snapshot(), CTX) == build_menu(snapshot(), CTX)
    assert build_menu(snapshot(), CTX) != build_menu(snapshot(Status.AWAY), CTX)


# -- the tooltip --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"status": Status.AWAY, "by_idle": True, "why": Why.IDLE}, "idle"),
        ({"status": Status.BUSY, "why": Why.MANUAL}, "manual"),
        ({"status": Status.OFFLINE, "why": Why.ELSEWHERE}, "set elsewhere"),
        ({"status": Status.AWAY, "by_idle": True, "why": Why.ELSEWHERE}, "idle"),
        ({"status": Status.AWAY, "by_idle": True, "why": Why.LOCKED}, "screen locked"),
        ({"status": Status.AVAILABLE, "why": Why.START}, "at start"),
    ],
)
def test_tooltip_says_status_why_and_since(changes: dict[str, object], reason: str) -> None:
    snap = snapshot(**changes)  # type: ignore[arg-type]
    assert snap.status is not None
    expected = f"presence-agent: {snap.status.label} ({reason}) since {hm(NOW - 600)}"
    assert tooltip(snap, NOW) == expected


def test_tooltip_names_the_day_when_the_change_was_not_today() -> None:
    since = NOW - 3 * 86400
    text = tooltip(snapshot(since_wall=since), NOW)
    assert text.endswith(time.strftime("since %a %H:%M", time.localtime(since)))


def test_tooltip_adds_a_pause_and_a_problem_on_their_own_lines() -> None:
    snap = snapshot(paused=True, paused_until_wall=NOW + 3600, problem="server unreachable")
    lines = tooltip(snap, NOW).splitlines()
    assert lines[1:] == [f"Idle detection paused until {hm(NOW + 3600)}", "server unreachable"]


def test_tooltip_when_signed_out_or_not_connected() -> None:
    out = snapshot(None, signed_out=True, problem="401: bad API key")
    assert tooltip(out, NOW) == (
        "presence-agent: signed out\n401: bad API key\nSign in from this icon's menu"
    )
    plain = snapshot(None, signed_out=True, problem="not signed in")
    assert tooltip(plain, NOW) == "presence-agent: signed out\nSign in from this icon's menu"
    assert "presence-agent login" not in tooltip(out, NOW)  # the GUI points at the GUI
    assert tooltip(snapshot(None), NOW) == "presence-agent: not connected\nconnecting…"


def test_tooltip_is_cut_to_what_trays_show() -> None:
    text = tooltip(snapshot(problem="x" * 300), NOW)
    assert len(text) == TOOLTIP_LIMIT
    assert text.endswith("…")


# -- idle notifications ------------------------------------------------------------------------


def test_idle_away_is_announced_with_the_threshold() -> None:
    before = snapshot(Status.AVAILABLE)
    after = snapshot(Status.AWAY, by_idle=True, why=Why.IDLE)
    assert idle_notice(before, after, 300) == "You're now Away (idle 5 minutes)"
    assert idle_notice(before, after, 45) == "You're now Away (idle 45 seconds)"
    assert idle_notice(before, after, 7200) == "You're now Away (idle 2 hours)"


def test_coming_back_from_idle_is_announced() -> None:
    before = snapshot(Status.AWAY, by_idle=True, why=Why.IDLE)
    after = snapshot(Status.AVAILABLE, why=Why.IDLE)
    assert idle_notice(before, after, 300) == "You're Available again"


def test_lock_and_sleep_are_announced_as_such() -> None:
    before = snapshot(Status.AVAILABLE)
    locked = snapshot(Status.AWAY, by_idle=True, why=Why.LOCKED)
    assert idle_notice(before, locked, 300) == "You're now Away (screen locked)"
    slept = snapshot(Status.AWAY, by_idle=True, why=Why.SLEEP)
    assert idle_notice(before, slept, 300) == "You're now Away (computer slept)"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # The person's own choice: they know.
        (snapshot(Status.AVAILABLE), snapshot(Status.AWAY, why=Why.MANUAL)),
        (snapshot(Status.AWAY, why=Why.MANUAL), snapshot(Status.AVAILABLE, why=Why.MANUAL)),
        # Made elsewhere (the web app): not the agent's doing.
        (snapshot(Status.AVAILABLE), snapshot(Status.OFFLINE, why=Why.ELSEWHERE)),
        # The first snapshot, and one that changes nothing visible.
        (None, snapshot(Status.AWAY, by_idle=True, why=Why.IDLE)),
        (
            snapshot(Status.AWAY, by_idle=True, why=Why.IDLE),
            snapshot(Status.AWAY, by_idle=True, why=Why.IDLE, paused=True),
        ),
        # Connecting.
        (snapshot(None), snapshot(Status.AVAILABLE, why=Why.START)),
    ],
)
def test_other_changes_are_not_announced(before: Snapshot | None, after: Snapshot) -> None:
    assert idle_notice(before, after, 300) is None


# -- timers and working hours ------------------------------------------------------------------


def test_each_status_but_available_offers_durations_and_times() -> None:
    from datetime import timezone

    ctx = MenuContext(server_url=URL, tz=timezone.utc)
    now = 1_780_000_000.0  # 20:26:40 UTC
    away = item(build_menu(snapshot(), ctx, now_wall=now)[2:], "Away")
    entries = [e for e in away.submenu if isinstance(e, Item)]
    assert [(e.label, e.action) for e in entries] == [
        (NO_END, Choose(Status.AWAY)),
        ("For 15 minutes", ChooseFor(Status.AWAY, 900.0)),
        ("For 30 minutes", ChooseFor(Status.AWAY, 1800.0)),
        ("For 1 hour", ChooseFor(Status.AWAY, 3600.0)),
        ("For 2 hours", ChooseFor(Status.AWAY, 7200.0)),
        ("Until 21:00", ChooseUntil(Status.AWAY, 1_780_002_000.0)),
        ("Until 22:00", ChooseUntil(Status.AWAY, 1_780_005_600.0)),
        ("Until 23:00", ChooseUntil(Status.AWAY, 1_780_009_200.0)),
    ]


def test_a_running_timer_shows_in_the_first_line_and_the_tooltip_and_can_be_extended() -> None:
    from datetime import timezone

    from presence_agent.events import AgendaView, TimedStatus

    ctx = MenuContext(server_url=URL, tz=timezone.utc)
    now = 1_780_000_000.0  # 20:26:40 UTC
    timer = TimedStatus(Status.AWAY, now + 42 * 60, now - 60, "tray")
    snap = snapshot(Status.AWAY, why=Why.MANUAL, agenda=AgendaView(timer=timer))
    menu = build_menu(snap, ctx, now_wall=now)
    assert menu[0] == Item("Away · back at 21:08 (in 42 min)", enabled=False)
    assert item(menu, "Extend by 15 minutes").action == Extend(900.0)
    assert "Back at 21:08 (in 42 min)" in tooltip(snap, now, timezone.utc).splitlines()
    assert "Extend by 15 minutes" not in labels(build_menu(snapshot(), ctx, now_wall=now))


def test_off_shift_the_first_line_says_when_the_shift_starts() -> None:
    from datetime import timezone

    from presence_agent.events import AgendaView

    ctx = MenuContext(server_url=URL, tz=timezone.utc)
    now = 1_780_000_000.0  # 20:26:40 UTC, a Thursday
    view = AgendaView(
        scheduled=True,
        on_shift=False,
        next_start=now + 12.5 * 3600,
        next_day_start=now + 12.5 * 3600,
    )
    snap = snapshot(Status.OFFLINE, agenda=view)
    menu = build_menu(snap, ctx, now_wall=now)
    assert menu[0].label.startswith("Off shift · starts tomorrow 08:56 · Offline")  # type: ignore[union-attr]
    assert "Off shift · starts tomorrow 08:56" in tooltip(snap, now, timezone.utc)
    busy = item(menu[2:], "Busy")
    assert [e.label for e in busy.submenu if isinstance(e, Item)][-1] == (
        "Until tomorrow's shift (08:56)"
    )


def test_the_idle_minutes_redraw_at_each_whole_minute_and_only_then() -> None:
    from presence_agent.events import AgendaView, Claim, OwnReason
    from presence_agent.status_text import idle_changes_at

    claim = Claim("away_manual", OwnReason.IDLE, NOW - 700)
    owned = snapshot(
        Status.AWAY,
        Dialect.LIBREDESK,
        why=Why.IDLE,
        agenda=AgendaView(owned=Status.AWAY, claim=claim),
        last_input_wall=NOW - 17 * 60 - 5,
    )
    assert idle_changes_at(owned, NOW) == NOW + 55  # 18 min then
    assert status_line(owned, NOW + 55) == "Away (idle 18 min) · no new conversations"
    idle = snapshot(Status.AWAY, Dialect.LIBREDESK, why=Why.IDLE, by_idle=True)
    assert idle_changes_at(idle, NOW) is None  # nothing counts: no redraw for it
