"""The pystray adapter: it renders snapshots and turns menu clicks into commands.

The tray holds no presence logic. It shows the engine's :class:`Snapshot`
(icon, tooltip, menu) and posts what the person chose through
:class:`~presence_agent.commands.Commands`;
the icon changes when the server's answer comes back as a new snapshot.

Threads:

* **UI thread** (the main thread, in pystray's loop): menu callbacks and
  :meth:`TrayApp._render`. With a GLib backend, work from other threads is
  handed over with ``GLib.idle_add``; other backends marshal pystray's
  setters themselves, so :meth:`_Ui.call_soon` calls at once, under a lock.
* **engine thread**: :meth:`TrayApp._on_snapshot` only stores the snapshot,
  picks a notification, and asks the UI thread to render (coalesced).
* **tray-stop thread**: waits for a quit (menu Quit, SIGTERM,
  ``presence-agent``'s control socket) and stops the icon, which ends
  :meth:`TrayApp.run`.
* short **worker threads** for anything that may block: the sign-in dialog
  (a child process), sign-out, opening the browser, the login item.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import subprocess
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from presence_agent import config as config_mod
from presence_agent import selfexec
from presence_agent.commands import Commands
from presence_agent.credentials import SecretStore
from presence_agent.events import Notice, Outcome, Snapshot
from presence_agent.i18n import ENGLISH, Translator
from presence_agent.paths import Paths
from presence_agent.schedule import local_timezone
from presence_agent.shift_text import changes_at
from presence_agent.status_text import idle_changes_at
from presence_agent.tray._backend import GLIB_BACKENDS, TrayUnavailable, backend_name
from presence_agent.tray._icons import Artwork, IconKey, IconState, Theme, icon_key
from presence_agent.tray._model import (
    Action,
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
    tooltip,
)

log = logging.getLogger(__name__)

TITLE = "presence-agent"
#: Icon size where the tray does not say (AppIndicator hosts and macOS scale a
#: file themselves; larger artwork scales down more cleanly than it scales up).
DEFAULT_SIZES = {"win32": 32, "darwin": 44}
DEFAULT_SIZE = 64


@dataclass(frozen=True)
class TraySettings:
    """What the tray needs from the config."""

    server_url: str | None
    away_after: float
    notifications: bool = True
    #: ``auto``, ``light`` or ``dark`` (presence_agent/tray/_theme.py).
    tray_theme: str = "auto"
    #: Show the agenda's notices through the tray (no desktop notifier with actions runs).
    show_notices: bool = True
    #: The person's language: every label, tooltip and notification (presence_agent/i18n.py).
    tr: Translator = ENGLISH


class _Ui:
    """Runs work on the UI thread.

    GLib backends: ``GLib.idle_add``. macOS: AppKit must only be touched from
    the main thread, so PyObjC's ``callAfter``. Windows: pystray's win32
    backend posts to its own window, so a call from any thread is safe; it is
    made at once, one at a time.
    """

    def __init__(self, backend: str) -> None:
        self._backend = backend
        self._lock = threading.Lock()

    def call_soon(self, fn: Callable[[], None]) -> None:
        if self._backend in GLIB_BACKENDS:
            from gi.repository import GLib

            def once() -> bool:
                _guarded(fn)
                return False  # run once, not again

            GLib.idle_add(once)
        elif self._backend == "darwin":  # pragma: no cover - macOS only
            from PyObjCTools import AppHelper  # type: ignore[import-not-found,unused-ignore]

            AppHelper.callAfter(_guarded, fn)
        else:
            with self._lock:
                _guarded(fn)


def _guarded(fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:
        log.exception("tray update failed")


def _spawn(name: str, fn: Callable[[], None]) -> None:
    threading.Thread(target=lambda: _guarded(fn), name=name, daemon=True).start()


class TrayApp:
    """One tray icon for one running agent. Build it on the main thread, then :meth:`run`."""

    def __init__(
        self,
        commands: Commands,
        settings: TraySettings,
        paths: Paths,
        credentials: SecretStore | None,
        pystray: ModuleType,
        artwork: Artwork,
        theme: Theme,
        *,
        dialog_command: Sequence[str] | None = None,
        platform: str = sys.platform,
    ) -> None:
        self._commands = commands
        self._settings = settings
        self._paths = paths
        self._credentials = credentials
        self._pystray = pystray
        self._artwork = artwork
        self._theme = theme
        self._backend = backend_name(pystray)
        self._ui = _Ui(self._backend)
        self._dialog_command = list(dialog_command) if dialog_command else None
        self._default_size = DEFAULT_SIZES.get(platform, DEFAULT_SIZE)
        # Written by the engine thread, read by the UI thread.
        self._lock = threading.Lock()
        self._latest: Snapshot | None = None
        self._render_queued = False
        # Engine thread only.
        self._previous: Snapshot | None = None
        # UI thread only: what is on screen now, so unchanged parts are not redrawn.
        self._shown_key: IconKey | None = None
        self._shown_title: str | None = None
        self._shown_menu: tuple[Entry, ...] | None = None
        #: What the menu's widgets stand for now (UI thread; read by their callbacks).
        self._entries: tuple[Entry, ...] = ()
        #: Set while the tray itself changes check marks, whose "activate" is no click.
        self._quiet = False
        self._rebuild_pending = False
        # Changed by worker threads, read when rendering.
        self._context = MenuContext(
            server_url=settings.server_url,
            autostart=_read_autostart(),
            can_sign_in=self._dialog_command is not None,
            tz=local_timezone(),
            tr=settings.tr,
        )
        #: Re-renders when the words change with time ("in 42 min"); UI thread only.
        self._refresh: threading.Timer | None = None
        self._dialog: subprocess.Popen[str] | None = None
        #: pystray's loop runs and the icon is shown (set on pystray's set-up thread).
        self._ready = threading.Event()
        #: Going away: render nothing more.
        self._closing = threading.Event()
        #: run() has returned or raised.
        self._finished = threading.Event()
        first = icon_key(Snapshot(), theme, self._default_size)
        self._icon = pystray.Icon(
            "presence-agent",
            artwork.render(first),
            TITLE,
            menu=pystray.Menu(pystray.MenuItem(settings.tr._("Quit"), commands.quit)),
        )
        self._size_hint = self._status_icon_size()

    # -- main thread ---------------------------------------------------------------------

    def run(self) -> None:
        """Show the icon and run pystray's loop until the agent is asked to quit.

        Raises :class:`TrayUnavailable` if the loop fails before the icon is up,
        so the agent can run headless instead.
        """
        sigint = signal.getsignal(signal.SIGINT)
        stopper = threading.Thread(target=self._stop_when_asked, name="tray-stop", daemon=True)
        stopper.start()
        try:
            self._icon.run(lambda icon: self._setup(sigint))
        except Exception as exc:
            if not self._ready.is_set():
                self._closing.set()
                self._release_setup_thread()
                raise TrayUnavailable(f"the tray could not start: {exc}") from exc
            if self._commands.quitting():
                # The known trap: pystray's GTK stop() ends with a D-Bus call to
                # org.freedesktop.Notifications, which raises when no such
                # service exists. The icon is gone all the same.
                log.debug("tray stopped with: %s", exc)
            else:
                log.exception("the tray loop failed")
        else:
            if not self._commands.quitting():
                log.warning("the tray loop ended by itself; quitting")
        finally:
            self._closing.set()
            self._finished.set()
            if self._refresh is not None:
                self._refresh.cancel()
            # Whatever ended the loop, the agent is quitting now: let the
            # stopper thread go, and make the app shut down.
            self._commands.quit()
        log.info("tray stopped")

    def _setup(self, sigint: Any) -> None:
        """pystray's set-up callback, on its set-up thread once the loop runs."""
        if self._closing.is_set():
            return
        self._icon.visible = True
        self._ready.set()
        if self._backend in GLIB_BACKENDS:
            # pystray's GLib backends set SIGINT to the default (kill at once)
            # so Ctrl+C works for them; put back ours, which quits in order.
            self._ui.call_soon(lambda: _restore_sigint(sigint))
        self._commands.subscribe(self._on_snapshot)
        if self._settings.show_notices and self._settings.notifications:
            # No notification server with actions (not Linux, or none running): the
            # tray's own notifications carry the agenda's, without their buttons.
            self._commands.subscribe_notices(self._on_notice)
        with self._lock:
            seed = self._latest is None
        if seed:
            self._store(self._commands.snapshot(), only_if_first=True)
        log.info("tray icon shown (%s backend)", self._backend)

    def _release_setup_thread(self) -> None:
        """Unblock pystray's set-up thread after a failed start, or exit would wait for it.

        pystray starts a non-daemon thread that waits on a private queue for
        ``_mark_ready``; if the backend fails before that, nothing else ever
        releases it.
        """
        queue = getattr(self._icon, "_Icon__queue", None)
        if queue is not None:
            queue.put(True)

    # -- engine thread ---------------------------------------------------------------------

    def _on_snapshot(self, snap: Snapshot) -> None:
        notice = idle_notice(self._previous, snap, self._settings.away_after, self._settings.tr)
        self._previous = snap
        if notice and self._settings.notifications:
            self._notify(notice)
        self._store(snap)

    def _on_notice(self, notice: Notice) -> None:
        self._notify(notice.title + (f"\n{notice.body}" if notice.body else ""))

    def _store(self, snap: Snapshot, *, only_if_first: bool = False) -> None:
        with self._lock:
            if only_if_first and self._latest is not None:
                return
            self._latest = snap
            if self._render_queued:
                return  # the queued render will pick this one up
            self._render_queued = True
        self._ui.call_soon(self._render)

    def _notify(self, message: str) -> None:
        """A desktop notification, if this desktop has a service for them.

        Not having one is normal (a bare X session, a kiosk): pystray's GLib
        backends drop the D-Bus error, and anything else is logged here.
        """
        if not getattr(self._icon, "HAS_NOTIFICATION", False):
            return
        log.info("notification: %s", message)
        try:
            self._icon.notify(message, TITLE)
        except Exception as exc:  # noqa: BLE001 - a notification is never worth a failure
            log.debug("no notification shown: %s", exc)

    # -- UI thread ---------------------------------------------------------------------------

    def _render(self) -> None:
        with self._lock:
            snap = self._latest
            self._render_queued = False
        if snap is None or self._closing.is_set():
            return
        key = icon_key(snap, self._theme, self._size())
        if key != self._shown_key:
            self._icon.icon = self._artwork.render(key)
            self._shown_key = key
        now = time.time()
        title = tooltip(snap, now, self._context.tz, self._context.tr)
        if title != self._shown_title:
            self._icon.title = title
            status_icon = getattr(self._icon, "_status_icon", None)
            if status_icon is not None:
                # pystray's GTK backend sets only the title, which GTK's
                # status icon never shows on hover.
                status_icon.set_tooltip_text(title)
            self._shown_title = title
        menu = build_menu(snap, self._context, now)
        if menu != self._shown_menu:
            self._show_menu(menu)
            if log.isEnabledFor(logging.DEBUG):
                # After pystray's own update of the native menu, which it queues too.
                self._ui.call_soon(self._log_menu_on_screen)
        refresh = changes_at(snap.agenda, now, self._context.tz)
        idle_minute = idle_changes_at(snap, now)  # "Away (idle 17 min)" counts on
        if idle_minute is not None:
            refresh = min(refresh, idle_minute)
        self._refresh_at(refresh - now)

    def _first_item_on_screen(self) -> str:
        """The first item's label as the toolkit holds it (pystray's GTK menu), for the
        log: what the person sees, read back from the widget, not from our model."""
        labels = self._items_on_screen()
        return labels[0] if labels else "(no native menu)"

    def _items_on_screen(self) -> list[str]:
        handle = getattr(self._icon, "_menu_handle", None)
        children = handle.get_children() if handle is not None else []
        return [str(child.get_label() or "") for child in children]

    def _log_menu_on_screen(self) -> None:
        # The words as shown, in the person's language: a debug aid (and what the
        # translation e2e test reads), not a message of the agent's own.
        log.debug("tray menu first item: %s", self._first_item_on_screen())
        log.debug("tray menu items: %s", " | ".join(self._items_on_screen()))

    def _refresh_at(self, delay: float) -> None:
        """Draw again when the words change with the clock (one timer, replaced)."""
        if self._refresh is not None:
            self._refresh.cancel()
        timer = threading.Timer(delay, self._rerender)
        timer.daemon = True
        timer.name = "tray-refresh"
        self._refresh = timer
        timer.start()

    def _rerender(self) -> None:
        """From any thread: draw again (the menu context or the icon size changed)."""
        with self._lock:
            snap = self._latest
        if snap is not None:
            self._store(snap)

    def _size(self) -> int:
        return self._size_hint or self._default_size

    def _status_icon_size(self) -> int | None:
        """The pixel size of GTK's status icon, to draw exactly that (crisp) size.

        Reaches into pystray's GTK backend; any other backend gets ``None``.
        """
        status_icon = getattr(self._icon, "_status_icon", None)
        if status_icon is None:
            return None

        def size_changed(_icon: Any, size: int) -> bool:
            self._size_hint = size if size >= 8 else None
            self._rerender()
            return False  # let GTK scale the old image until ours (drawn to size) arrives

        status_icon.connect("size-changed", size_changed)
        size = int(status_icon.get_size())
        return size if size >= 8 else None

    # -- the menu: rebuilt only when its shape changes, else updated in place -------------

    def _show_menu(self, menu: tuple[Entry, ...]) -> None:
        """UI thread: show ``menu``, changing the open one's items in place where it can.

        A rebuild (pystray's ``Icon.menu = ...``) replaces every widget, which
        closes a menu the person has open and drops a click in flight; so it
        happens only when the menu's shape changes (:func:`shape`), and not while
        the GTK backend's menu is open (it waits until the menu closes). The
        AppIndicator backend exports the menu to the panel, which cannot tell us
        whether it is open; but its shape changes only when the server's
        statuses or "Start at login" become available, not with a status.
        """
        shown = self._shown_menu
        self._entries = menu
        if shown is not None and shape(menu) == shape(shown) and self._update_in_place(menu):
            self._shown_menu = menu
            return
        if shown is not None and self._menu_open():
            self._rebuild_when_closed()
            return
        self._shown_menu = menu
        self._icon.menu = self._pystray.Menu(*self._widgets(menu, ()))

    def _update_in_place(self, menu: tuple[Entry, ...]) -> bool:
        """Set labels, check marks and enabled states on the widgets that exist.

        GLib backends: on pystray's Gtk.Menu (AppIndicator exports its changes
        to the panel as they happen). Others: pystray reads our callables again
        (``update_menu``; Windows and macOS build their menu when it opens).
        Returns ``False`` when the widgets do not match (a rebuild is needed).
        """
        if self._backend not in GLIB_BACKENDS:
            self._icon.update_menu()  # Windows and macOS read the callables when the menu opens
            return True
        handle = getattr(self._icon, "_menu_handle", None)
        if handle is None:
            return False
        # set_active emits "activate", as a click does: our callback must ignore it,
        # and pystray's wrapper around it must not rebuild the menu (its update_menu
        # after every click), which would close it under the person's hand.
        self._quiet = True
        self._icon.update_menu = _nothing
        try:
            done = _apply(handle, menu)
        finally:
            del self._icon.update_menu
            self._quiet = False
        if not done:
            log.info("tray menu: the widgets do not match the menu; rebuilding it")
        return done

    def _menu_open(self) -> bool:
        handle = getattr(self._icon, "_menu_handle", None)
        return bool(handle is not None and self._backend == "gtk" and handle.get_visible())

    def _rebuild_when_closed(self) -> None:
        if self._rebuild_pending:
            return
        self._rebuild_pending = True
        handle = self._icon._menu_handle

        def closed(*_args: Any) -> None:
            handle.disconnect(handler)
            self._rebuild_pending = False
            self._shown_menu = None
            self._rerender()

        handler = handle.connect("hide", closed)

    def _entry(self, path: tuple[int, ...]) -> Entry:
        entries: tuple[Entry, ...] = self._entries
        entry: Entry = entries[path[0]]
        for index in path[1:]:
            assert isinstance(entry, Item)
            entry = entry.submenu[index]
        return entry

    def _widgets(self, entries: Sequence[Entry], path: tuple[int, ...]) -> list[Any]:
        pystray = self._pystray
        widgets: list[Any] = []
        for index, entry in enumerate(entries):
            here = (*path, index)
            if isinstance(entry, Separator):
                widgets.append(pystray.Menu.SEPARATOR)
            elif entry.submenu:
                submenu = pystray.Menu(*self._widgets(entry.submenu, here))
                widgets.append(
                    pystray.MenuItem(
                        self._text(here),
                        submenu,
                        checked=self._checked(here) if entry.kind != "plain" else None,
                        radio=entry.kind == "radio",
                        enabled=self._enabled(here),
                    )
                )
            else:
                widgets.append(
                    pystray.MenuItem(
                        self._text(here),
                        self._callback(here),
                        checked=self._checked(here) if entry.kind != "plain" else None,
                        radio=entry.kind == "radio",
                        enabled=self._enabled(here),
                    )
                )
        return widgets

    # What pystray reads when it builds (or, off GLib, rebuilds) the menu: the item at
    # that place in the menu shown now.
    def _text(self, path: tuple[int, ...]) -> Callable[[Any], str]:
        return lambda _item: _label(self._entry(path))

    def _checked(self, path: tuple[int, ...]) -> Callable[[Any], bool]:
        return lambda _item: bool(getattr(self._entry(path), "checked", False))

    def _enabled(self, path: tuple[int, ...]) -> Callable[[Any], bool]:
        return lambda _item: bool(getattr(self._entry(path), "enabled", True))

    def _callback(self, path: tuple[int, ...]) -> Callable[[Any, Any], None]:
        def on_click(_icon: Any, _item: Any) -> None:
            if self._quiet:
                return
            entry = self._entry(path)
            action = entry.action if isinstance(entry, Item) and entry.enabled else None
            if action is not None:
                _guarded(lambda: self._act(action))
            # pystray rebuilds the (now closed) menu after a click, from the entries:
            # the check mark GTK flipped goes back until the server's answer moves it.

        return on_click

    def _act(self, action: Action) -> None:
        """A menu choice. Runs on the UI thread: post, or hand blocking work to a thread."""
        commands = self._commands
        match action:
            case Choose(status=status):
                log.info("tray: %s chosen", status.value)
                commands.set_status(status, self._report_failure)
            case ChooseFor(status=status, seconds=seconds):
                log.info("tray: %s for %.0f s chosen", status.value, seconds)
                commands.set_timed(status, time.time() + seconds, "tray", self._report_failure)
            case ChooseUntil(status=status, until=until):
                log.info("tray: %s until %s chosen", status.value, time.ctime(until))
                commands.set_timed(status, until, "tray", self._report_failure)
            case Extend(seconds=seconds):
                commands.extend_timer(seconds)
            case PauseFor(seconds=seconds):
                commands.pause(seconds)
            case ResumeIdle():
                commands.resume()
            case OpenServer(url=url):
                _spawn("open-browser", lambda: _open_browser(url))
            case SignIn():
                self._sign_in()
            case SignOut():
                _spawn("sign-out", self._sign_out)
            case ToggleAutostart(enable=enable):
                _spawn("autostart", lambda: self._set_autostart(enable))
            case Quit():
                log.info("tray: quit chosen")
                commands.quit()

    def _report_failure(self, outcome: Outcome) -> None:
        """The answer to a choice (engine thread): tell the person only when it failed."""
        if not outcome.ok:
            words = self._settings.tr._("Could not change your status: {problem}")
            self._notify(words.format(problem=outcome.message))

    # -- tray-stop thread ----------------------------------------------------------------------

    def _stop_when_asked(self) -> None:
        self._commands.quitting(None)
        # pystray's stop() does nothing before its loop runs, and a quit can
        # come that early (SIGTERM at start-up): wait for the loop, or for
        # run() to have ended some other way.
        while not self._ready.wait(0.05):
            if self._finished.is_set():
                return
        self._closing.set()
        dialog = self._dialog
        if dialog is not None and dialog.poll() is None:
            dialog.terminate()
        try:
            self._icon.visible = False
        except Exception as exc:  # noqa: BLE001 - it is going away regardless
            log.debug("hiding the icon failed: %s", exc)
        self._icon.stop()

    # -- worker threads ---------------------------------------------------------------------------

    def _sign_in(self) -> None:
        """Open the sign-in dialog (a child process, so its toolkit never meets pystray's)."""
        if self._dialog_command is None:
            return
        if self._dialog is not None and self._dialog.poll() is None:
            log.info("the sign-in dialog is already open")
            return
        try:
            self._dialog = subprocess.Popen(
                self._dialog_command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                **selfexec.child_options(),  # the secret is typed in there
            )
        except OSError as exc:
            log.error("cannot open the sign-in dialog: %s", exc)
            from presence_agent.cli import login_hint

            hint = login_hint(self._paths)
            words = self._settings.tr._(
                "Cannot open the sign-in window; in a terminal, run: {command}"
            )
            self._notify(words.format(command=hint))
            return
        dialog = self._dialog
        _spawn("sign-in-dialog", lambda: self._wait_for_dialog(dialog))

    def _wait_for_dialog(self, dialog: subprocess.Popen[str]) -> None:
        out, err = dialog.communicate()
        if dialog.returncode != 0:
            # The dialog shows its own errors; its stderr never holds the secret.
            if err.strip():
                log.info("sign-in dialog: %s", err.strip().splitlines()[-1][:300])
            return
        summary = out.strip().splitlines()[-1] if out.strip() else "Signed in."
        log.info("%s", summary)
        self._reload_context()
        self._commands.credentials_changed()

    def _sign_out(self) -> None:
        """Go offline (briefly bounded), then remove the secret: nobody is left answering."""
        from presence_agent.app import sign_out
        from presence_agent.signin import SignInError

        try:
            summary = sign_out(self._commands, self._paths, self._credentials)
        except SignInError as exc:
            log.error("sign out failed: %s", exc)
            self._notify(self._settings.tr._("Sign out failed: {problem}").format(problem=exc))
            return
        log.info("%s", summary)

    def _set_autostart(self, enable: bool) -> None:
        from presence_agent import autostart

        try:
            state = autostart.enable() if enable else autostart.disable()
        except (OSError, ValueError) as exc:
            log.error("could not change Start at login: %s", exc)
            words = self._settings.tr._("Could not change Start at login: {problem}")
            self._notify(words.format(problem=exc))
            state = None
        problem = autostart.entry_problem(state, self._settings.tr) if state is not None else None
        if problem:
            log.warning("start at login %s", problem)
            words = self._settings.tr._(
                "Start at login {problem}. Install the app for one that lasts."
            )
            self._notify(words.format(problem=problem))
        self._context = dataclasses.replace(
            self._context, autostart=_read_autostart() if state is None else state.enabled
        )
        log.info("start at login: %s", "on" if self._context.autostart else "off")
        self._rerender()

    def _reload_context(self) -> None:
        try:
            server = config_mod.load(self._paths).server
        except config_mod.ConfigError as exc:
            log.warning("%s", exc)
            server = self._context.server_url
        self._context = dataclasses.replace(self._context, server_url=server)
        self._rerender()


def _nothing() -> None:
    return None


def _label(entry: Entry) -> str:
    return entry.label if isinstance(entry, Item) else ""


def _apply(menu: Any, entries: Sequence[Entry]) -> bool:
    """Make the GTK widgets of ``menu`` say and show ``entries``; ``False`` if they differ."""
    from gi.repository import Gtk

    widgets = menu.get_children()
    if len(widgets) != len(entries):
        return False
    for widget, entry in zip(widgets, entries, strict=True):
        if isinstance(entry, Separator):
            if not isinstance(widget, Gtk.SeparatorMenuItem):
                return False
            continue
        if isinstance(widget, Gtk.SeparatorMenuItem):
            return False
        if widget.get_label() != entry.label:
            widget.set_label(entry.label)
        if widget.get_sensitive() != entry.enabled:
            widget.set_sensitive(entry.enabled)
        if isinstance(widget, Gtk.CheckMenuItem) and widget.get_active() != entry.checked:
            widget.set_active(entry.checked)
        submenu = widget.get_submenu()
        if entry.submenu and (submenu is None or not _apply(submenu, entry.submenu)):
            return False
    return True


def _restore_sigint(handler: Any) -> None:
    if callable(handler) or handler in (signal.SIG_IGN, signal.SIG_DFL):
        signal.signal(signal.SIGINT, handler)


def _read_autostart() -> bool | None:
    from presence_agent import autostart

    try:
        return autostart.status().enabled
    except (OSError, ValueError) as exc:
        log.info("start at login is not available here: %s", exc)
        return None


def _open_browser(url: str) -> None:
    if not webbrowser.open(url):
        log.warning("no web browser could be started for %s", url)


__all__ = ["IconState", "TrayApp", "TraySettings"]
