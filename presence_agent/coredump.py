"""No core dump of a process that holds the secret (issue 16).

A core file (``ulimit -c unlimited``, then ``kill -QUIT``) holds the API secret
in clear, as many times as the process has copies of it. Every presence-agent
process that may hold it (the agent, its keyring helper, ``login``, the sign-in
dialog, any command that reads the keyring) forbids dumps first thing
(presence_agent/cli.py): on Linux ``prctl(PR_SET_DUMPABLE, 0)``, which also
keeps other processes of the same user from attaching a debugger or reading its
memory through ``/proc``; everywhere ``RLIMIT_CORE`` 0, hard limit too, so that
nothing the process or a neighbour does raises it again.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

__all__ = ["dumpable", "forbid_core_dumps"]

#: From <linux/prctl.h>.
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4


def forbid_core_dumps(platform: str = sys.platform) -> None:
    """Make this process non-dumpable where the OS allows it. Never raises: a platform
    without the call keeps running (Windows has neither; its crash dumps are WER's)."""
    try:
        import resource
    except ImportError:  # Windows
        pass
    else:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if platform.startswith("linux"):
        libc = _libc()
        if libc is not None:
            libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def dumpable() -> bool | None:
    """Whether the kernel would dump this process (Linux), ``None`` where it cannot say."""
    if not sys.platform.startswith("linux"):
        return None
    libc = _libc()
    if libc is None:
        return None
    return bool(libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))


def _libc() -> Any:
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
