"""Real screen lockers from Debian, on a private Xvfb and session bus, heard by the watcher.

- mate-screensaver speaks only ``org.mate.ScreenSaver``: its lock and unlock are heard.
- gnome-screensaver 3.6 segfaults on Xvfb about a second after ``--lock``: no
  ``ActiveChanged(false)`` ever comes, only its bus name vanishing. The watcher must
  not stay "locked" (that is the vanishing-locker test), and a new locker that starts
  unlocked must be believed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from presence_agent.session._linux import LinuxWatcher
from tests.desktop import running_locker, running_session_bus, running_xvfb, wait_until
from tests.fakes import SessionRecorder

pytestmark = pytest.mark.desktop


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A display and a session bus of this test's own: a locker grabs the whole screen."""
    with (
        running_xvfb(tmp_path, size=(640, 480)) as display,
        running_session_bus(tmp_path) as bus,
    ):
        yield display, bus


@pytest.fixture
def recorder(desk: tuple[str, str], tmp_path: Path) -> Iterator[SessionRecorder]:
    _display, bus = desk
    recorder = SessionRecorder()
    watcher = LinuxWatcher(
        session_bus=bus, system_bus=f"unix:path={tmp_path / 'no-system-bus'}", environ={}
    )
    watcher.start(recorder)
    try:
        yield recorder
    finally:
        watcher.stop()


def locks(recorder: SessionRecorder) -> list[object]:
    with recorder.cond:
        return [value for kind, value in recorder.events if kind == "locked"]


def test_mate_screensaver_lock_and_unlock(
    desk: tuple[str, str], recorder: SessionRecorder, tmp_path: Path
) -> None:
    display, bus = desk
    with running_locker("mate-screensaver", "org.mate.ScreenSaver", display, bus, tmp_path) as mate:
        mate.run("--lock")
        recorder.wait_for(("locked", True))
        mate.run("--deactivate")
        wait_until(lambda: locks(recorder)[-1:] == [False], timeout=10, what="the unlock")


def test_a_locker_that_dies_while_locked_never_leaves_the_agent_locked(
    desk: tuple[str, str], recorder: SessionRecorder, tmp_path: Path
) -> None:
    display, bus = desk
    with running_locker(
        "gnome-screensaver", "org.gnome.ScreenSaver", display, bus, tmp_path
    ) as gnome:
        gnome.run("--lock")
        recorder.wait_for(("locked", True))
        # Its crash on Xvfb: the bus name vanishes, and nothing says "unlocked".
        wait_until(lambda: not gnome.alive(), timeout=15, what="gnome-screensaver to crash")
        wait_until(lambda: locks(recorder)[-1:] == [False], timeout=10, what="the re-read")
    # A new locker, not locked: the state stays unlocked, and its own lock is heard.
    with running_locker("mate-screensaver", "org.mate.ScreenSaver", display, bus, tmp_path) as mate:
        assert locks(recorder)[-1] is False
        mate.run("--lock")
        wait_until(lambda: locks(recorder)[-1:] == [True], timeout=10, what="the new lock")
