"""The exit codes of every ``presence-agent`` command: one table, here and in the README.

Scripts and fleet tools rely on these, so each one means one thing for every
command (``tests/test_exit_codes.py`` asserts each code for each command that
can produce it, and that the README's table is this one).
"""

from __future__ import annotations

import enum

from presence_agent.i18n import N_

__all__ = ["Exit"]


class Exit(enum.IntEnum):
    #: It worked (for ``set`` with the server down: the running agent queued it).
    OK = 0
    #: The world failed: the server, the keyring, the display, a file that cannot be written.
    FAILED = 1
    #: Bad input: an unknown command or flag, a bad value, a broken config file.
    USAGE = 2
    #: ``run``: an agent is already running for this user.
    ALREADY_RUNNING = 3
    #: Not signed in (no server, API key or secret): ``presence-agent login`` first.
    SIGNED_OUT = 4
    #: ``pause``/``resume``: no agent is running to ask.
    NOT_RUNNING = 5


#: For the README and ``--help``: the code and what it means, in a support agent's words
#: (English msgids; ``--help`` shows them in the person's language).
MEANINGS: dict[Exit, str] = {
    Exit.OK: N_("it worked (for `set` while the server is down: queued by the running agent)"),
    Exit.FAILED: N_("something outside failed: the server, the keyring, the display, a file"),
    Exit.USAGE: N_("bad input: an unknown command or flag, a bad value, a broken config file"),
    Exit.ALREADY_RUNNING: N_("`run`: the agent is already running for this user"),
    Exit.SIGNED_OUT: N_("not signed in: run `presence-agent login` (or Sign in… in the tray menu)"),
    Exit.NOT_RUNNING: N_("`pause`, `resume`: the agent is not running"),
}
