"""The sign-in dialog: server URL, API key and secret, verified with the server before stored.

The tray starts it as a child process (``python -m presence_agent.signin_dialog``),
so tkinter gets a main thread of its own (macOS requires it) and never shares
a process with pystray's toolkit. It signs in with :func:`presence_agent.signin.sign_in`,
exactly like ``presence-agent login``; the tray then tells the running agent.

Exit codes: 0 signed in (the summary line on stdout), 1 closed without signing
in, 2 no toolkit or display. The secret is typed into a masked field, passed
to ``sign_in`` and dropped; it is never printed, logged or put in an error.

Thread use: Tk on the main thread; ``sign_in`` (HTTP, keyring) on one worker
thread at a time, its result handed back through a queue that Tk polls.
"""

from __future__ import annotations

import importlib.util
import queue
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tkinter as tk

    from presence_agent.paths import Paths

__all__ = ["TITLE", "available", "command", "main"]

TITLE = "Sign in to Libredesk - presence-agent"
EXIT_SIGNED_IN = 0
EXIT_CANCELLED = 1
EXIT_UNAVAILABLE = 2
_POLL_MS = 100

SignInFn = Callable[..., str]


def available() -> bool:
    """Whether tkinter can be imported here (Debian ships it apart: python3-tk)."""
    return (
        importlib.util.find_spec("tkinter") is not None
        and importlib.util.find_spec("_tkinter") is not None
    )


def command() -> list[str] | None:
    """The argv that opens the dialog, or ``None`` when it cannot be shown from this install.

    A frozen (PyInstaller) build has no ``-m``; it gets the terminal hint instead.
    """
    from presence_agent import selfexec

    if getattr(sys, "frozen", False) or not available():
        return None
    return selfexec.module_argv("presence_agent.signin_dialog")


class SignInForm:
    """The form. Tk thread only, except :meth:`_work`, which runs on the worker thread."""

    def __init__(
        self,
        root: tk.Tk,
        paths: Paths,
        *,
        sign_in: SignInFn | None = None,
    ) -> None:
        import tkinter as tk
        from tkinter import ttk

        from presence_agent import config
        from presence_agent.signin import sign_in as default_sign_in

        self.root = root
        self.paths = paths
        self.summary: str | None = None
        self._sign_in = sign_in or default_sign_in
        self._results: queue.SimpleQueue[tuple[bool, str]] = queue.SimpleQueue()
        self._busy = False
        try:
            previous = config.load(paths)
        except config.ConfigError:
            previous = config.Config()
        self._auth = previous.auth

        root.title(TITLE)
        root.resizable(False, False)
        frame = ttk.Frame(root, padding=16)
        frame.grid(sticky="nsew")
        ttk.Label(frame, text="Sign in to Libredesk", font=("TkDefaultFont", 12, "bold")).grid(
            row=0, column=0, columnspan=2, sticky="w"
        )
        ttk.Label(
            frame,
            text="Create an API key and secret in your Libredesk profile.",
            wraplength=440,
        ).grid(row=1, column=0, columnspan=2, sticky="w", pady=(2, 10))

        self.server = tk.StringVar(value=previous.server or "https://")
        self.api_key = tk.StringVar(value=previous.api_key or "")
        self.secret = tk.StringVar(value="")
        self.insecure = tk.BooleanVar(value=previous.allow_insecure_http)
        self.entries: list[ttk.Entry] = []
        for row, (label, var, show) in enumerate(
            (
                ("Server URL", self.server, ""),
                ("API key", self.api_key, ""),
                ("API secret", self.secret, "•"),
            ),
            start=2,
        ):
            ttk.Label(frame, text=label).grid(row=row, column=0, sticky="w", padx=(0, 8), pady=3)
            entry = ttk.Entry(frame, textvariable=var, width=40, show=show)
            entry.grid(row=row, column=1, sticky="ew", pady=3)
            self.entries.append(entry)
        self.insecure_box = ttk.Checkbutton(
            frame,
            text="Allow plain http:// to another machine (unencrypted)",
            variable=self.insecure,
        )
        self.insecure_box.grid(row=5, column=0, columnspan=2, sticky="w", pady=(6, 0))
        self.message = tk.StringVar(value="")
        self.message_label = ttk.Label(
            frame, textvariable=self.message, wraplength=440, foreground="#B00020"
        )
        self.message_label.grid(row=6, column=0, columnspan=2, sticky="w", pady=(8, 0))
        buttons = ttk.Frame(frame)
        buttons.grid(row=7, column=0, columnspan=2, sticky="e", pady=(12, 0))
        self.cancel_button = ttk.Button(buttons, text="Cancel", command=self.cancel)
        self.cancel_button.grid(row=0, column=0, padx=(0, 6))
        self.sign_in_button = ttk.Button(
            buttons, text="Sign in", command=self.submit, default="active"
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
                if not v.get().strip() or v.get() == "https://"
            ),
            self.entries[-1],
        )
        root.after_idle(lambda: _take_focus(root, first_empty))

    # -- Tk thread -----------------------------------------------------------------------

    def submit(self) -> None:
        if self._busy:
            return
        secret = self.secret.get()
        if not secret:
            self.message.set("Enter the API secret from your Libredesk profile.")
            return
        self._set_busy(True)
        self.message.set("Checking with the server…")
        args = (
            self.paths,
            self.server.get(),
            self.api_key.get(),
            secret,
            self._auth,
            bool(self.insecure.get()),
        )
        threading.Thread(target=self._work, args=args, name="sign-in", daemon=True).start()
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
        for widget in (*self.entries, self.insecure_box, self.sign_in_button):
            widget.state(state)

    # -- worker thread ------------------------------------------------------------------------

    def _work(
        self, paths: Paths, server: str, key: str, secret: str, auth: str, insecure: bool
    ) -> None:
        from presence_agent.signin import SignInError

        try:
            summary = self._sign_in(paths, server, key, secret, auth, insecure)
        except SignInError as exc:
            self._results.put((False, str(exc)))
        # Whatever else goes wrong, the form must come back to life, and say so.
        except Exception as exc:  # noqa: BLE001
            self._results.put((False, f"Sign-in failed: {type(exc).__name__}"))
        else:
            self._results.put((True, summary))


def _take_focus(root: Any, entry: Any) -> None:
    # Without a window manager (and on some with focus-stealing prevention) a
    # new window does not get the keyboard by itself.
    root.lift()
    root.focus_force()
    entry.focus_set()
    # Selected, so typing replaces a placeholder such as "https://".
    entry.select_range(0, "end")
    entry.icursor("end")


def main(argv: Sequence[str] | None = None) -> int:
    if not available():
        print(
            "presence-agent: tkinter is not installed; run `presence-agent login`", file=sys.stderr
        )
        return EXIT_UNAVAILABLE
    import tkinter as tk

    from presence_agent.paths import Paths

    try:
        root = tk.Tk(className="presence-agent")
    except tk.TclError as exc:
        print(f"presence-agent: cannot open the sign-in dialog: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    form = SignInForm(root, Paths.default())
    root.mainloop()
    if form.summary is None:
        return EXIT_CANCELLED
    print(form.summary, flush=True)
    return EXIT_SIGNED_IN


if __name__ == "__main__":
    sys.exit(main())
