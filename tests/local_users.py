"""A second local user on this machine, for the tests of what a neighbour can do (issue 16).

CI runs as root on Debian 12: :func:`neighbour` makes a user with ``useradd`` for the session
and removes it afterwards; commands run as that user through ``setpriv`` (util-linux), which
drops every capability too, so the neighbour is an ordinary user. Not root outside CI: the
tests skip, saying why; in CI (``CI=true``) they fail instead, like every real-part fixture
(tests/desktop.py).

:func:`shared_root` is a directory tree the neighbour can walk through (0755, like a home
directory on most systems), unlike pytest's own 0700 basetemp: a file the neighbour cannot
read there is unreadable because of its own mode, not by accident of the test's layout.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import secret_scan
from tests.desktop import _missing, require_tools


@dataclass(frozen=True)
class Neighbour:
    """Another local user: not root, not in our groups."""

    name: str
    uid: int
    gid: int

    def argv(self, *command: str) -> list[str]:
        return [
            "setpriv",
            f"--reuid={self.uid}",
            f"--regid={self.gid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
            *command,
        ]

    def run(self, *command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """``command`` as this user (an environment of their own: no HOME of ours)."""
        return subprocess.run(
            self.argv(*command),
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/", "LC_ALL": "C"},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def popen(self, command: Sequence[str], env: dict[str, str]) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*command),
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture(scope="session")
def neighbour() -> Iterator[Neighbour]:
    if os.geteuid() != 0:
        _missing("making a second local user needs root (CI runs as root)")
    require_tools("useradd", "userdel", "setpriv")
    name = f"pa-nb{os.getpid()}"[:32]
    made = subprocess.run(
        ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/bin/sh", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.fail(f"useradd {name} failed: {made.stderr.strip()}", pytrace=False)
    entry = pwd.getpwnam(name)
    try:
        yield Neighbour(name, entry.pw_uid, entry.pw_gid)
    finally:
        subprocess.run(["userdel", name], capture_output=True, check=False)


@pytest.fixture
def shared_root() -> Iterator[Path]:
    """A 0755 tree in /tmp the neighbour can walk; scanned for the test secrets afterwards."""
    root = Path(tempfile.mkdtemp(prefix="pa-shared-", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield root
        findings = secret_scan.scan_tree(root, secret_scan.all_secrets())
        assert not findings, [str(f) for f in findings]
    finally:
        shutil.rmtree(root, ignore_errors=True)
