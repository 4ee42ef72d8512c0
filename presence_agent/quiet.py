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

__all__ = ["install", "route_glib_messages"]

_log = logging.getLogger("presence_agent.warnings")


def _to_log(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    _log.debug("%s: %s (%s:%s)", category.__name__, message, filename, lineno)


def install() -> None:
    """Route Python warnings to the log instead of standard error."""
    warnings.showwarning = _to_log


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
