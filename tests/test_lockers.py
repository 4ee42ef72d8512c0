"""Real screen lockers from Debian, on a private Xvfb and session bus, heard by the watcher.

- mate-screensaver speaks only ``org.mate.ScreenSaver``: its lock and unlock are heard,
  by the watcher alone and by the whole agent against the test server (away on the lock,
  Available again only with input after the unlock).
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
from tests.agent_process import KEY, SECRET, AgentProcess, log_text, signed_in
from tests.desktop import (
    Input,
    make_desktop_env,
    running_locker,
    running_secret_service,
    running_session_bus,
    running_xvfb,
    wait_until,
)
from tests.fakes import SessionRecorder
from tests.libredesk_server import LibredeskServer

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


def test_the_agent_goes_away_on_a_real_lock_and_comes_back_with_input_after_the_unlock(
    desk: tuple[str, str], tmp_path: Path
) -> None:
    """The real agent (X11 idle counter, its session watcher) against the test server, with
    mate-screensaver locking the screen: the lock rule (docs/architecture.md) sends away at
    once, whatever the idle time; the unlock alone sends nothing; the first input after it
    brings Available back. Both are idle detection's own (source idle)."""
    display, bus = desk
    with (
        running_secret_service(bus, tmp_path / "keyring"),
        LibredeskServer(dialect="documented", api_key=KEY, api_secret=SECRET) as server,
        running_locker("mate-screensaver", "org.mate.ScreenSaver", display, bus, tmp_path) as mate,
    ):
        env = make_desktop_env(display, bus, tmp_path / "agent")
        env["PRESENCE_AGENT_IDLE_SOURCE"] = "x11"
        signed_in(env, server)
        person = Input(display)
        # The away threshold is an hour: only the lock can send it away in this test.
        with AgentProcess(["run", "--no-tray", "--away-after", "3600"], env) as agent:
            assert server.wait_for_put("available", "user", timeout=15), agent.output()
            # Logged once the session watcher listens (it starts before this line).
            wait_until(
                lambda: "started (idle source x11" in log_text(env), what="the agent's start"
            )
            count = len(server.puts())
            mate.run("--lock")
            away = server.wait_for_put("away", "idle", timeout=10, after=count)
            assert away is not None, agent.output()
            assert agent.wait_output(lambda line: "Away (screen locked)" in line, 5), agent.output()

            # Moving the mouse on the locked screen (to type the password) is not being back:
            # while locked the agent does not even listen for the first input.
            person.touch()
            mate.run("--deactivate")
            wait_until(lambda: "screen unlocked" in log_text(env), what="the agent to hear it")
            assert server.puts()[count:] == [("away", "idle")]
            assert server.status == "away"

            # Unlocked: the person moves the mouse, and is back.
            def back() -> bool:
                person.touch()
                return (
                    server.wait_for_put("available", "idle", timeout=0.2, after=count) is not None
                )

            wait_until(back, timeout=10, what="Available after input")
            assert server.puts()[count:] == [("away", "idle"), ("available", "idle")]
            assert agent.terminate() == 0
        assert server.puts()[-1] == ("offline", "user")
