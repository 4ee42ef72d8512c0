"""The tray app: ``presence-agent run`` with no flags.

:func:`run_tray` shows an icon for the running agent's status and a menu to
change it, until the agent is asked to stop. It raises :class:`TrayUnavailable`
*before* blocking when no tray can be shown here (no display, no tray host, no
backend with a menu), and the agent then runs headless.

Importing this package needs no display: pystray is imported inside
:func:`run_tray`, because it picks (and initialises) its backend on import.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from presence_agent.tray._backend import TrayUnavailable

if TYPE_CHECKING:
    from presence_agent.commands import Commands
    from presence_agent.credentials import SecretStore
    from presence_agent.paths import Paths
    from presence_agent.tray._app import TraySettings

__all__ = ["TrayUnavailable", "run_tray"]


def run_tray(
    commands: Commands, settings: TraySettings, paths: Paths, credentials: SecretStore | None
) -> None:
    """Run the tray on the main thread until the agent is asked to quit.

    Returns once the icon is gone; the caller then shuts the agent down.
    """
    from presence_agent import signin_dialog
    from presence_agent.tray._app import TrayApp
    from presence_agent.tray._backend import (
        GLIB_BACKENDS,
        backend_name,
        check_glib_session_bus,
        check_session,
        load_pystray,
    )
    from presence_agent.tray._icons import Artwork, ArtworkError
    from presence_agent.tray._theme import detect_theme

    env = os.environ
    check_session(env)
    pystray = load_pystray(env)
    if backend_name(pystray) in GLIB_BACKENDS:
        check_glib_session_bus()
    try:
        artwork = Artwork.load()
    except ArtworkError as exc:
        raise TrayUnavailable(str(exc)) from None
    try:
        app = TrayApp(
            commands,
            settings,
            paths,
            credentials,
            pystray,
            artwork,
            detect_theme(env, preference=settings.tray_theme),
            dialog_command=signin_dialog.command(),
        )
    # The backend's own set-up (a status icon, an indicator) failing in any way
    # means no tray, not a crashed agent.
    except Exception as exc:
        raise TrayUnavailable(f"the tray could not start: {exc}") from exc
    app.run()
