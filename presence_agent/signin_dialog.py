"""The sign-in window: server, API key and secret, verified with the server before stored.

It looks like the desktop it runs on: GTK 3 on Linux (the tray already needs
PyGObject there), ttk with the platform's own theme on Windows and macOS (and
on a Linux without GTK). The auth scheme, a CA bundle and plain-http opt-in sit
under an "Advanced" expander. A bare host (``desk.example.com``) means
``https://desk.example.com``, as everywhere else.

The tray starts it as a child process (``presence-agent _signin-dialog``, which
a frozen build answers too), so the toolkit gets a main thread of its own
(macOS requires it) and never shares a process with pystray's. It signs in with
:func:`presence_agent.signin.sign_in`, exactly like ``presence-agent login``;
the tray then tells the running agent.

Exit codes: 0 signed in (the summary line on stdout), 1 closed without signing
in, 2 no toolkit or display. The secret is typed into a masked field, passed
to ``sign_in`` and dropped; it is never printed, logged or put in an error.

Thread use: the toolkit on the main thread; ``sign_in`` (HTTP, keyring) on one
worker thread at a time, its result handed back through a queue (Tk polls it)
or ``GLib.idle_add`` (GTK).
"""

from __future__ import annotations

import importlib.util
import os
import queue
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from presence_agent.i18n import ENGLISH, N_, Translator

if TYPE_CHECKING:
    import tkinter as tk

    from presence_agent.paths import Paths

__all__ = ["TITLE", "Prefill", "available", "command", "main", "toolkit"]

# English msgids: every window shows them through its Translator (tr._(TITLE)).
TITLE = N_("Sign in to Libredesk - presence-agent")
HEADING = N_("Sign in to Libredesk")
INTRO = N_("Create an API key and secret in your Libredesk profile, then enter them here.")
EXIT_SIGNED_IN = 0
EXIT_CANCELLED = 1
EXIT_UNAVAILABLE = 2
_POLL_MS = 100
#: The words for the plain-http opt-in, as this window offers it (not a CLI flag).
INSECURE_LABEL = N_("Allow plain http:// to another machine (the secret travels unencrypted)")
INSECURE_OPT_IN = N_("tick “Allow plain http://” under Advanced")
AUTH_LABELS = {
    "token": N_("Token (Libredesk's own)"),
    "basic": N_("Basic (for proxies that need it)"),
}


def _auth_labels(tr: Translator) -> dict[str, str]:
    return {scheme: tr._(words) for scheme, words in AUTH_LABELS.items()}


SignInFn = Callable[..., str]


def toolkit(platform: str = sys.platform) -> str | None:
    """``gtk`` or ``tk``: what this install can draw the window with, or ``None``."""
    if platform.startswith("linux") and _has_gtk():
        return "gtk"
    if importlib.util.find_spec("tkinter") and importlib.util.find_spec("_tkinter"):
        return "tk"
    return None


def _has_gtk() -> bool:
    if importlib.util.find_spec("gi") is None:
        return False
    try:
        import gi

        gi.require_version("Gtk", "3.0")
    except (ImportError, ValueError):
        return False
    return True


def available() -> bool:
    """Whether a toolkit for the window exists here (GTK or tkinter)."""
    return toolkit() is not None


def command() -> list[str] | None:
    """The argv that opens the window (this install, frozen or not), or ``None`` if it cannot."""
    from presence_agent import selfexec
    from presence_agent.cli import SIGNIN_DIALOG_COMMAND

    if not available():
        return None
    return selfexec.cli_argv(SIGNIN_DIALOG_COMMAND)


@dataclass(frozen=True)
class Prefill:
    """What the window starts with: the configured server and key, and whether they are fixed."""

    server: str = ""
    api_key: str = ""
    auth: str = "token"
    ca_bundle: str = ""
    allow_insecure_http: bool = False
    #: The administrator locked the server (shown, not editable).
    server_locked: bool = False

    @classmethod
    def load(cls, paths: Paths) -> Prefill:
        from presence_agent import config

        try:
            layers = config.load_layers(paths)
        except config.ConfigError:
            return cls()
        cfg = layers.config
        return cls(
            server=cfg.server or "",
            api_key=cfg.api_key or "",
            auth=cfg.auth,
            ca_bundle=cfg.ca_bundle or "",
            allow_insecure_http=cfg.allow_insecure_http,
            server_locked="server" in layers.locked and bool(cfg.server),
        )


class _Worker:
    """Runs one ``sign_in`` at a time off the UI thread and hands back ``(ok, text)``."""

    def __init__(
        self,
        sign_in: SignInFn | None,
        done: Callable[[bool, str], None],
        tr: Translator = ENGLISH,
    ) -> None:
        from presence_agent.signin import sign_in as default_sign_in

        self._sign_in = sign_in or default_sign_in
        self._done = done
        self._tr = tr

    def start(self, paths: Paths, fields: dict[str, Any]) -> None:
        threading.Thread(
            target=self._work, args=(paths, fields), name="sign-in", daemon=True
        ).start()

    def _work(self, paths: Paths, fields: dict[str, Any]) -> None:
        from presence_agent.signin import SignInError

        try:
            summary = self._sign_in(
                paths,
                fields["server"],
                fields["api_key"],
                fields["secret"],
                fields["auth"],
                fields["insecure"],
                fields["ca_bundle"] or None,
                insecure_opt_in=INSECURE_OPT_IN,
                tr=self._tr,
            )
        except SignInError as exc:
            self._done(False, str(exc))
        # Whatever else goes wrong, the form must come back to life, and say so.
        except Exception:  # noqa: BLE001
            words = self._tr._("Sign-in failed unexpectedly; nothing was stored. Try again.")
            self._done(False, words)
        else:
            self._done(True, summary)


def _missing_field(server: str, api_key: str, secret: str, tr: Translator = ENGLISH) -> str | None:
    if not server.strip() or server.strip() in ("https://", "http://"):
        return tr._("Enter your Libredesk address, for example desk.example.com.")
    if not api_key.strip():
        return tr._("Enter the API key from your Libredesk profile.")
    if not secret:
        return tr._("Enter the API secret from your Libredesk profile.")
    return None


# -- ttk (Windows, macOS, and Linux without GTK) -------------------------------------------------


class SignInForm:
    """The ttk window. Tk thread only; sign-in runs on :class:`_Worker`'s thread."""

    def __init__(
        self,
        root: tk.Tk,
        paths: Paths,
        *,
        sign_in: SignInFn | None = None,
        tr: Translator = ENGLISH,
    ) -> None:
        import tkinter as tk
        from tkinter import ttk

        self.root = root
        self.paths = paths
        self.summary: str | None = None
        self._tr = tr
        self._auth_labels = _auth_labels(tr)
        _ = tr._
        self._results: queue.SimpleQueue[tuple[bool, str]] = queue.SimpleQueue()
        self._worker = _Worker(sign_in, lambda ok, text: self._results.put((ok, text)), tr)
        self._busy = False
        pre = Prefill.load(paths)

        style = ttk.Style(root)
        if sys.platform.startswith("linux") and "clam" in style.theme_names():
            # Tk's "default" theme on X11 looks decades old; Windows and macOS keep theirs.
            style.theme_use("clam")
        root.title(_(TITLE))
        root.resizable(False, False)
        frame = ttk.Frame(root, padding=16)
        frame.grid(sticky="nsew")
        ttk.Label(frame, text=_(HEADING), font=("TkHeadingFont", 12, "bold")).grid(
            row=0, column=0, columnspan=2, sticky="w"
        )
        ttk.Label(frame, text=_(INTRO), wraplength=440).grid(
            row=1, column=0, columnspan=2, sticky="w", pady=(2, 10)
        )

        self.server = tk.StringVar(value=pre.server)
        self.api_key = tk.StringVar(value=pre.api_key)
        self.secret = tk.StringVar(value="")
        self.insecure = tk.BooleanVar(value=pre.allow_insecure_http)
        labels = self._auth_labels
        self.auth = tk.StringVar(value=labels.get(pre.auth, labels["token"]))
        self.ca_bundle = tk.StringVar(value=pre.ca_bundle)
        self.entries: list[ttk.Entry] = []
        for row, (label, var, show) in enumerate(
            (
                (_("Server"), self.server, ""),
                (_("API key"), self.api_key, ""),
                (_("API secret"), self.secret, "•"),
            ),
            start=2,
        ):
            ttk.Label(frame, text=label).grid(row=row, column=0, sticky="w", padx=(0, 8), pady=3)
            entry = ttk.Entry(frame, textvariable=var, width=40, show=show)
            entry.grid(row=row, column=1, sticky="ew", pady=3)
            self.entries.append(entry)
        if pre.server_locked:
            self.entries[0].state(["readonly"])

        # "Advanced": a toggle that shows or hides the rarely needed settings.
        self.advanced_open = tk.BooleanVar(value=False)
        self.advanced_toggle = ttk.Checkbutton(
            frame,
            text="▸ " + _("Advanced"),
            variable=self.advanced_open,
            command=self._toggle_advanced,
            style="Toolbutton",
        )
        self.advanced_toggle.grid(row=5, column=0, columnspan=2, sticky="w", pady=(8, 0))
        self.advanced = ttk.Frame(frame)
        ttk.Label(self.advanced, text=_("Sign-in scheme")).grid(
            row=0, column=0, sticky="w", padx=(0, 8)
        )
        self.auth_box = ttk.Combobox(
            self.advanced,
            textvariable=self.auth,
            values=list(labels.values()),
            state="readonly",
            width=32,
        )
        self.auth_box.grid(row=0, column=1, sticky="ew", pady=3)
        ttk.Label(self.advanced, text=_("CA bundle")).grid(row=1, column=0, sticky="w", padx=(0, 8))
        ca_row = ttk.Frame(self.advanced)
        ca_row.grid(row=1, column=1, sticky="ew", pady=3)
        self.ca_entry = ttk.Entry(ca_row, textvariable=self.ca_bundle, width=28)
        self.ca_entry.grid(row=0, column=0, sticky="ew")
        ttk.Button(ca_row, text=_("Choose…"), command=self._choose_ca).grid(
            row=0, column=1, padx=(6, 0)
        )
        self.insecure_box = ttk.Checkbutton(
            self.advanced, text=_(INSECURE_LABEL), variable=self.insecure
        )
        self.insecure_box.grid(row=2, column=0, columnspan=2, sticky="w", pady=(6, 0))

        self.message = tk.StringVar(value="")
        self.message_label = ttk.Label(
            frame, textvariable=self.message, wraplength=440, foreground="#B00020"
        )
        self.message_label.grid(row=7, column=0, columnspan=2, sticky="w", pady=(8, 0))
        buttons = ttk.Frame(frame)
        buttons.grid(row=8, column=0, columnspan=2, sticky="e", pady=(12, 0))
        self.cancel_button = ttk.Button(buttons, text=_("Cancel"), command=self.cancel)
        self.cancel_button.grid(row=0, column=0, padx=(0, 6))
        self.sign_in_button = ttk.Button(
            buttons, text=_("Sign in"), command=self.submit, default="active"
        )
        self.sign_in_button.grid(row=0, column=1)

        root.bind("<Return>", lambda _event: self.submit())
        root.bind("<KP_Enter>", lambda _event: self.submit())
        root.bind("<Escape>", lambda _event: self.cancel())
        root.protocol("WM_DELETE_WINDOW", self.cancel)
        first_empty = next(
            (
                e
                for e, v in zip(self.entries, (self.server, self.api_key, self.secret), strict=True)
                if not v.get().strip()
            ),
            self.entries[-1],
        )
        root.after_idle(lambda: _take_focus(root, first_empty))

    # -- Tk thread -----------------------------------------------------------------------

    def _toggle_advanced(self) -> None:
        if self.advanced_open.get():
            self.advanced.grid(row=6, column=0, columnspan=2, sticky="ew", pady=(4, 0))
            self.advanced_toggle.configure(text="▾ " + self._tr._("Advanced"))
        else:
            self.advanced.grid_remove()
            self.advanced_toggle.configure(text="▸ " + self._tr._("Advanced"))

    def _choose_ca(self) -> None:
        from tkinter import filedialog

        path = filedialog.askopenfilename(
            parent=self.root,
            title=self._tr._("CA certificates (PEM)"),
            filetypes=[
                (self._tr._("PEM certificates"), "*.pem *.crt"),
                (self._tr._("All files"), "*"),
            ],
        )
        if path:
            self.ca_bundle.set(path)

    def _auth_scheme(self) -> str:
        label = self.auth.get()
        return next((k for k, v in self._auth_labels.items() if v == label), "token")

    def submit(self) -> None:
        if self._busy:
            return
        missing = _missing_field(self.server.get(), self.api_key.get(), self.secret.get(), self._tr)
        if missing:
            self.message.set(missing)
            return
        self._set_busy(True)
        self.message.set(self._tr._("Checking with the server…"))
        self._worker.start(
            self.paths,
            {
                "server": self.server.get(),
                "api_key": self.api_key.get(),
                "secret": self.secret.get(),
                "auth": self._auth_scheme(),
                "insecure": bool(self.insecure.get()),
                "ca_bundle": self.ca_bundle.get().strip(),
            },
        )
        self.root.after(_POLL_MS, self._poll)

    def cancel(self) -> None:
        self.root.destroy()

    def _poll(self) -> None:
        try:
            ok, text = self._results.get_nowait()
        except queue.Empty:
            self.root.after(_POLL_MS, self._poll)
            return
        if ok:
            self.summary = text
            self.secret.set("")
            self.root.destroy()
            return
        self._set_busy(False)
        self.message.set(text)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        state = ["disabled"] if busy else ["!disabled"]
        for widget in (*self.entries, self.insecure_box, self.sign_in_button, self.auth_box):
            widget.state(state)


def _take_focus(root: Any, entry: Any) -> None:
    # Without a window manager (and on some with focus-stealing prevention) a
    # new window does not get the keyboard by itself.
    root.lift()
    root.focus_force()
    entry.focus_set()
    entry.select_range(0, "end")
    entry.icursor("end")


def _run_tk(paths: Paths, tr: Translator = ENGLISH) -> tuple[int, str | None]:
    import tkinter as tk

    try:
        root = tk.Tk(className="presence-agent")
    except tk.TclError as exc:
        words = tr._("cannot open the sign-in window: {problem}").format(problem=exc)
        print(f"presence-agent: {words}", file=sys.stderr)
        return EXIT_UNAVAILABLE, None
    form = SignInForm(root, paths, tr=tr)
    root.mainloop()
    return (EXIT_CANCELLED, None) if form.summary is None else (EXIT_SIGNED_IN, form.summary)


# -- GTK 3 (Linux) -----------------------------------------------------------------------------


class GtkSignIn:
    """The GTK window: a header bar with Cancel and Sign in, the form, an Advanced expander.

    GTK main thread only; :class:`_Worker` reports back through ``GLib.idle_add``.
    """

    def __init__(
        self,
        gtk: Any,
        glib: Any,
        paths: Paths,
        *,
        sign_in: SignInFn | None = None,
        tr: Translator = ENGLISH,
    ) -> None:
        self._gtk, self._glib = gtk, glib
        self.paths = paths
        self.summary: str | None = None
        self._busy = False
        self._tr = tr
        _ = tr._
        self._worker = _Worker(
            sign_in, lambda ok, text: glib.idle_add(self._finished, ok, text), tr
        )
        pre = Prefill.load(paths)
        Gtk = gtk

        window = Gtk.Window(title=_(TITLE))
        window.set_default_size(460, -1)
        window.set_resizable(False)
        window.set_position(Gtk.WindowPosition.CENTER)
        window.set_icon_name("presence-agent")
        # The header bar's title becomes the window's title too (GTK sets it).
        header = Gtk.HeaderBar(title=_(HEADING), subtitle="presence-agent", show_close_button=False)
        self.cancel_button = Gtk.Button(label=_("Cancel"))
        self.cancel_button.connect("clicked", lambda _b: self.cancel())
        header.pack_start(self.cancel_button)
        self.sign_in_button = Gtk.Button(label=_("Sign in"))
        self.sign_in_button.get_style_context().add_class("suggested-action")
        self.sign_in_button.set_can_default(True)
        self.sign_in_button.connect("clicked", lambda _b: self.submit())
        header.pack_end(self.sign_in_button)
        self.spinner = Gtk.Spinner()
        header.pack_end(self.spinner)
        window.set_titlebar(header)
        window.connect("delete-event", self._on_delete)
        window.connect("key-press-event", self._on_key)

        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=12, margin=18)
        intro = Gtk.Label(label=_(INTRO), xalign=0, wrap=True, max_width_chars=52)
        intro.get_style_context().add_class("dim-label")
        box.pack_start(intro, False, False, 0)

        grid = Gtk.Grid(column_spacing=12, row_spacing=8)
        self.server = Gtk.Entry(text=pre.server, placeholder_text="desk.example.com", hexpand=True)
        self.server.set_input_purpose(Gtk.InputPurpose.URL)
        if pre.server_locked:
            self.server.set_sensitive(False)
            self.server.set_tooltip_text(_("Set by your administrator"))
        from_profile = _("from your Libredesk profile")
        self.api_key = Gtk.Entry(text=pre.api_key, placeholder_text=from_profile)
        self.secret = Gtk.Entry(visibility=False, placeholder_text=from_profile)
        self.secret.set_input_purpose(Gtk.InputPurpose.PASSWORD)
        self.entries = [self.server, self.api_key, self.secret]
        for row, (label, entry) in enumerate(
            (
                (_("Server"), self.server),
                (_("API key"), self.api_key),
                (_("API secret"), self.secret),
            )
        ):
            grid.attach(Gtk.Label(label=label, xalign=1), 0, row, 1, 1)
            grid.attach(entry, 1, row, 1, 1)
            entry.set_activates_default(True)
        box.pack_start(grid, False, False, 0)

        self.advanced = Gtk.Expander(label=_("Advanced"))
        adv = Gtk.Grid(column_spacing=12, row_spacing=8, margin_top=8)
        self.auth = Gtk.ComboBoxText()
        for scheme, text in _auth_labels(tr).items():
            self.auth.append(scheme, text)
        self.auth.set_active_id(pre.auth if pre.auth in AUTH_LABELS else "token")
        adv.attach(Gtk.Label(label=_("Sign-in scheme"), xalign=1), 0, 0, 1, 1)
        adv.attach(self.auth, 1, 0, 1, 1)
        self.ca_bundle = Gtk.FileChooserButton(title=_("CA certificates (PEM)"))
        pem = Gtk.FileFilter()
        pem.set_name(_("PEM certificates"))
        for pattern in ("*.pem", "*.crt"):
            pem.add_pattern(pattern)
        self.ca_bundle.add_filter(pem)
        if pre.ca_bundle:
            self.ca_bundle.set_filename(pre.ca_bundle)
        self.ca_bundle.set_hexpand(True)
        adv.attach(Gtk.Label(label=_("CA bundle"), xalign=1), 0, 1, 1, 1)
        adv.attach(self.ca_bundle, 1, 1, 1, 1)
        self.insecure = Gtk.CheckButton(label=_(INSECURE_LABEL), active=pre.allow_insecure_http)
        adv.attach(self.insecure, 0, 2, 2, 1)
        self.advanced.add(adv)
        box.pack_start(self.advanced, False, False, 0)

        self.message = Gtk.Label(xalign=0, wrap=True, max_width_chars=52, selectable=True)
        self.message.get_style_context().add_class("error")
        box.pack_start(self.message, False, False, 0)
        window.add(box)
        self.window = window
        window.show_all()
        self.message.hide()
        window.set_default(self.sign_in_button)
        first_empty = next((e for e in self.entries if not e.get_text().strip()), self.secret)
        first_empty.grab_focus()
        # Take the keyboard (without a window manager GTK sets the X input focus itself).
        window.present()

    def _on_delete(self, *_args: Any) -> bool:
        self.cancel()
        return True

    def _on_key(self, _widget: Any, event: Any) -> bool:
        from gi.repository import Gdk

        if event.keyval == Gdk.KEY_Escape:
            self.cancel()
            return True
        return False

    def show_message(self, text: str) -> None:
        self.message.set_text(text)
        self.message.set_visible(bool(text))

    def submit(self) -> None:
        if self._busy:
            return
        server, key, secret = (e.get_text() for e in self.entries)
        missing = _missing_field(server, key, secret, self._tr)
        if missing:
            self.show_message(missing)
            return
        self._set_busy(True)
        self.show_message(self._tr._("Checking with the server…"))
        self._worker.start(
            self.paths,
            {
                "server": server,
                "api_key": key,
                "secret": secret,
                "auth": self.auth.get_active_id() or "token",
                "insecure": self.insecure.get_active(),
                "ca_bundle": self.ca_bundle.get_filename() or "",
            },
        )

    def cancel(self) -> None:
        self._gtk.main_quit()

    def _finished(self, ok: bool, text: str) -> bool:
        if ok:
            self.summary = text
            self.secret.set_text("")
            self._gtk.main_quit()
            return False
        self._set_busy(False)
        self.show_message(text)
        return False  # a one-shot idle callback

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        for widget in (*self.entries, self.advanced, self.sign_in_button):
            widget.set_sensitive(not busy)
        if busy:
            self.spinner.start()
        else:
            self.spinner.stop()


def _run_gtk(paths: Paths, tr: Translator = ENGLISH) -> tuple[int, str | None]:
    import gi

    gi.require_version("Gtk", "3.0")
    from gi.repository import GLib, Gtk

    from presence_agent import quiet

    quiet.route_glib_messages(GLib)
    GLib.set_prgname("presence-agent")
    ok, _argv = Gtk.init_check(None)
    if not ok:
        words = tr._("cannot open the sign-in window: {problem}").format(problem=tr._("no display"))
        print(f"presence-agent: {words}", file=sys.stderr)
        return EXIT_UNAVAILABLE, None
    form = GtkSignIn(Gtk, GLib, paths, tr=tr)
    Gtk.main()
    form.window.destroy()
    return (EXIT_CANCELLED, None) if form.summary is None else (EXIT_SIGNED_IN, form.summary)


def main(argv: Sequence[str] | None = None, tr: Translator = ENGLISH) -> int:
    """The window, in ``tr``'s language (the CLI's entry chose it: presence_agent/cli.py)."""
    from presence_agent.paths import Paths

    choice = os.environ.get("PRESENCE_AGENT_SIGNIN_TOOLKIT") or toolkit()
    if choice not in ("gtk", "tk"):
        words = tr._("no window toolkit here; sign in from a terminal: {command}")
        command = "presence-agent login --api-key " + tr._("KEY")
        print(f"presence-agent: {words.format(command=command)}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    paths = Paths.default()
    code, summary = _run_gtk(paths, tr) if choice == "gtk" else _run_tk(paths, tr)
    if summary is not None:
        print(summary, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
