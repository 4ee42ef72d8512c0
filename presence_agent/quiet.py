"""Keep library noise off the person's terminal: warnings go to the log, at debug level.

A support agent who types ``presence-agent status`` over ssh or in a cron job
(no ``XDG_RUNTIME_DIR``) must see the answer, not a library's
``RuntimeDirWarning`` with a source path. Python warnings are what libraries
use for such remarks; they are routed to the log (``presence_agent.warnings``,
DEBUG), where whoever debugs the agent still finds them. GLib's own messages
(``Gdk-CRITICAL``) are routed the same way by the tray, which owns GTK
(:func:`route_glib_messages`).

Nothing happens at import; :func:`install` is called once by the CLI's ``main``.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, TextIO

__all__ = ["install", "replay", "route_glib_messages"]

_log = logging.getLogger("presence_agent.warnings")


class _Router:
    """``warnings.showwarning`` replacement: to the log, and kept until the log exists.

    Warnings raised before the log file is set up (``Paths.default()`` runs first
    and is where ``RuntimeDirWarning`` comes from) are kept, a few at most, and
    handed to the log by :func:`replay` once it is. Thread use: any thread.
    """

    MAX_EARLY = 20

    def __init__(self) -> None:
        self.early: list[str] = []

    def __call__(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        text = f"{category.__name__}: {message} ({filename}:{lineno})"
        if not logging.getLogger().handlers and len(self.early) < self.MAX_EARLY:
            self.early.append(text)
        _log.debug("%s", text)


def install() -> None:
    """Route Python warnings to the log instead of standard error."""
    if not isinstance(warnings.showwarning, _Router):
        warnings.showwarning = _Router()


def replay() -> None:
    """Log (at debug level) the warnings that came before the log existed; logs.setup calls it."""
    router = warnings.showwarning
    if isinstance(router, _Router):
        early, router.early = router.early, []
        for text in early:
            _log.debug("(before the log started) %s", text)


def route_glib_messages(
    glib: Any, domains: tuple[str, ...] = ("Gdk", "Gtk", "GLib-GObject")
) -> None:
    """Send GLib's messages for ``domains`` (criticals and warnings) to the log at debug level.

    GTK prints ``Gdk-CRITICAL`` assertions from inside its own code (pystray's
    GTK backend sets an icon before the tray has mapped it); they are not the
    person's business, and not ours to fix at their terminal.
    """
    flags = (
        glib.LogLevelFlags.LEVEL_CRITICAL
        | glib.LogLevelFlags.LEVEL_WARNING
        | glib.LogLevelFlags.LEVEL_MESSAGE
    )
    gtk_log = logging.getLogger("presence_agent.gtk")

    def handler(domain: str | None, level: Any, message: str, *_user: Any) -> None:
        gtk_log.debug("%s: %s", domain or "GLib", message)

    for domain in domains:
        glib.log_set_handler(domain, flags, handler, None)
