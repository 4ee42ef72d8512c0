"""The Linux watcher on real, private D-Bus buses.

The session bus is the ``session_bus`` fixture; a second private bus stands in
for the system bus, with a fake logind on it. Signals are sent the way the
desktop sends them (``dbus-send`` for the screensaver's ActiveChanged), and
the fake services answer real method calls, so the whole jeepney path runs.

The fake D-Bus services and the recorder are in tests/fakes.py.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from presence_agent.session._linux import (
    GNOME_SM,
    GNOME_SM_PATH,
    LOGIND,
    LOGIND_PATH,
    MANAGER,
    PROPERTIES,
    SESSION,
    LinuxWatcher,
)
from presence_agent.session.base import Signal, WatcherUnavailable
from tests.desktop import running_session_bus, wait_until
from tests.fakes import FakeService, Handler, ServiceError
from tests.fakes import SessionRecorder as Recorder

pytestmark = pytest.mark.desktop


def send_signal(bus: str, path: str, member: str, *args: str) -> None:
    subprocess.run(
        ["dbus-send", f"--bus={bus}", "--type=signal", path, member, *args],
        check=True,
        timeout=10,
    )


@pytest.fixture
def system_bus(tmp_path: Path) -> Iterator[str]:
    """A second private bus, standing in for the system bus."""
    with running_session_bus(tmp_path) as address:
        yield address


@pytest.fixture
def no_system_bus(tmp_path: Path) -> str:
    return f"unix:path={tmp_path / 'no-such-bus'}"


def by_kind(signals: list[Signal]) -> dict[str, list[Signal]]:
    kinds: dict[str, list[Signal]] = {}
    for signal in signals:
        kinds.setdefault(signal.kind, []).append(signal)
    return kinds


@contextlib.contextmanager
def watching(session: str, system: str, **kwargs: Any) -> Iterator[tuple[Recorder, list[Signal]]]:
    recorder = Recorder()
    watcher = LinuxWatcher(session_bus=session, system_bus=system, environ={}, **kwargs)
    signals = watcher.start(recorder)
    try:
        yield recorder, signals
    finally:
        watcher.stop()
    assert not [t for t in threading.enumerate() if t.name == "session-signals"]


# -- the session bus -------------------------------------------------------------------


def test_screensaver_active_changed_is_lock_and_unlock(
    session_bus: str, no_system_bus: str
) -> None:
    with watching(session_bus, no_system_bus) as (recorder, signals):
        kinds = by_kind(signals)
        assert kinds["lock"][0].available
        text = kinds["lock"][0].text
        for locker in ("org.freedesktop", "org.gnome", "org.mate", "org.cinnamon", "org.xfce"):
            assert locker in text
        send_signal(
            session_bus,
            "/org/freedesktop/ScreenSaver",
            "org.freedesktop.ScreenSaver.ActiveChanged",
            "boolean:true",
        )
        recorder.wait_for(("locked", True))
        send_signal(
            session_bus,
            "/org/gnome/ScreenSaver",
            "org.gnome.ScreenSaver.ActiveChanged",
            "boolean:false",
        )
        recorder.wait_for(("locked", False))


def test_without_a_system_bus_sleep_and_logind_are_not_heard(
    session_bus: str, no_system_bus: str
) -> None:
    with watching(session_bus, no_system_bus) as (_recorder, signals):
        kinds = by_kind(signals)
        assert [(s.available, s.text) for s in kinds["suspend"]] == [
            (False, "no D-Bus system bus: no PrepareForSleep")
        ]
        assert (False, "no D-Bus system bus: no logind Lock/Unlock") in [
            (s.available, s.text) for s in kinds["lock"]
        ]


def test_no_bus_at_all_is_unavailable(no_system_bus: str) -> None:
    watcher = LinuxWatcher(session_bus=no_system_bus, system_bus=no_system_bus)
    with pytest.raises(WatcherUnavailable, match="no D-Bus session or system bus"):
        watcher.start(Recorder())
    watcher.stop()


def test_a_running_locked_screensaver_is_reported_at_start(
    session_bus: str, no_system_bus: str
) -> None:
    methods: dict[tuple[str, str, str], Handler] = {
        ("/org/gnome/ScreenSaver", "org.gnome.ScreenSaver", "GetActive"): lambda _: ("b", (True,)),
    }
    with (
        FakeService(session_bus, "org.gnome.ScreenSaver", methods),
        watching(session_bus, no_system_bus) as (recorder, signals),
    ):
        assert recorder.events == [("locked", True)]
        assert "org.gnome.ScreenSaver running" in by_kind(signals)["lock"][0].text


def test_gnome_idle_inhibitor_is_read_again_on_each_change(
    session_bus: str, no_system_bus: str
) -> None:
    inhibited = [False]

    def is_inhibited(body: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
        assert body == (8,)  # the idle flag, not logout or suspend
        return "b", (inhibited[0],)

    service = FakeService(
        session_bus, GNOME_SM, {(GNOME_SM_PATH, GNOME_SM, "IsInhibited"): is_inhibited}
    )
    with service, watching(session_bus, no_system_bus) as (recorder, signals):
        assert by_kind(signals)["inhibit"][0].text == "GNOME session manager"
        assert recorder.events == [("inhibited", ("gnome", False))]
        inhibited[0] = True
        service.emit(GNOME_SM_PATH, GNOME_SM, "InhibitorAdded", "o", ("/org/gnome/Inhibitor1",))
        recorder.wait_for(("inhibited", ("gnome", True)))
        inhibited[0] = False
        service.emit(GNOME_SM_PATH, GNOME_SM, "InhibitorRemoved", "o", ("/org/gnome/Inhibitor1",))
        wait_until(
            lambda: recorder.events.count(("inhibited", ("gnome", False))) == 2,
            timeout=10,
            what="the inhibitor to go",
        )


# -- the system bus (a fake logind) ----------------------------------------------------

SESSION_PATH = "/org/freedesktop/login1/session/_31"


class FakeLogind:
    """logind's Manager and one Session, with a delay lock made of a pipe, as logind does."""

    def __init__(self, address: str) -> None:
        self.block_inhibited = "handle-lid-switch"
        self.locked_hint = False
        self.locks: list[int] = []  # our read ends: EOF once the agent lets go
        self.service = FakeService(
            address,
            LOGIND,
            {
                (LOGIND_PATH, MANAGER, "Inhibit"): self._inhibit,
                (LOGIND_PATH, MANAGER, "GetSessionByPID"): lambda _: ("o", (SESSION_PATH,)),
                (LOGIND_PATH, PROPERTIES, "Get"): self._get,
                (SESSION_PATH, PROPERTIES, "Get"): self._get,
            },
            enable_fds=True,
        )

    def _inhibit(self, body: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
        assert body[0] == "sleep"
        assert body[3] == "delay"
        read_end, write_end = os.pipe()
        self.locks.append(read_end)
        from jeepney.fds import FileDescriptor

        return "h", (FileDescriptor(write_end),)

    def _get(self, body: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
        interface, name = body
        if (interface, name) == (MANAGER, "BlockInhibited"):
            return "v", (("s", self.block_inhibited),)
        if (interface, name) == (SESSION, "LockedHint"):
            return "v", (("b", self.locked_hint),)
        raise ServiceError("org.freedesktop.DBus.Error.UnknownProperty", name)

    def released(self, index: int) -> bool:
        """Whether the agent closed delay lock ``index`` (its pipe shows EOF)."""
        readable, _, _ = select.select([self.locks[index]], [], [], 0)
        return bool(readable) and os.read(self.locks[index], 1) == b""

    def close(self) -> None:
        self.service.stop()
        for fd in self.locks:
            os.close(fd)


@pytest.fixture
def logind(system_bus: str) -> Iterator[FakeLogind]:
    fake = FakeLogind(system_bus)
    fake.service.start()
    yield fake
    fake.close()


def test_prepare_for_sleep_holds_a_delay_lock_until_the_away_is_out(
    session_bus: str, system_bus: str, logind: FakeLogind
) -> None:
    with watching(session_bus, system_bus) as (recorder, signals):
        assert "logind PrepareForSleep with a delay lock" in [s.text for s in signals]
        assert len(logind.locks) == 1
        assert not logind.released(0)
        in_sleeping = threading.Event()
        may_return = threading.Event()

        def dawdle() -> None:
            in_sleeping.set()
            assert may_return.wait(10)

        recorder.sleep_hook = dawdle
        logind.service.emit(LOGIND_PATH, MANAGER, "PrepareForSleep", "b", (True,))
        assert in_sleeping.wait(10)
        # While the away is on its way, logind must still wait for us.
        assert not logind.released(0)
        may_return.set()
        recorder.wait_for(("sleeping", None))
        wait_until(lambda: logind.released(0), timeout=10, what="the delay lock to be released")
        # On wake: a new delay lock for the next sleep, then the wake is reported.
        logind.service.emit(LOGIND_PATH, MANAGER, "PrepareForSleep", "b", (False,))
        recorder.wait_for(("woke", None))
        assert len(logind.locks) == 2
        assert not logind.released(1)
    # Stopping the watcher lets go of the lock too.
    wait_until(lambda: logind.released(1), timeout=10, what="the lock released at stop")


def test_logind_lock_unlock_and_locked_hint(
    session_bus: str, system_bus: str, logind: FakeLogind
) -> None:
    with watching(session_bus, system_bus) as (recorder, signals):
        assert f"logind Lock/Unlock and LockedHint of {SESSION_PATH}" in [s.text for s in signals]
        logind.service.emit(SESSION_PATH, SESSION, "Lock", "", ())
        recorder.wait_for(("locked", True))
        logind.service.emit(SESSION_PATH, SESSION, "Unlock", "", ())
        recorder.wait_for(("locked", False))
        logind.service.emit(
            SESSION_PATH,
            PROPERTIES,
            "PropertiesChanged",
            "sa{sv}as",
            (SESSION, {"LockedHint": ("b", True)}, []),
        )
        wait_until(
            lambda: recorder.events.count(("locked", True)) == 2, timeout=10, what="LockedHint"
        )
        # Another session's lock is not ours.
        logind.service.emit("/org/freedesktop/login1/session/_99", SESSION, "Unlock", "", ())
        logind.service.emit(SESSION_PATH, SESSION, "Unlock", "", ())
        wait_until(
            lambda: recorder.events.count(("locked", False)) == 2, timeout=10, what="our unlock"
        )
        assert recorder.events.count(("locked", False)) == 2


def test_logind_idle_block_is_polled(session_bus: str, system_bus: str, logind: FakeLogind) -> None:
    logind.block_inhibited = "handle-lid-switch:idle"
    with watching(session_bus, system_bus, inhibit_poll=0.1) as (recorder, signals):
        assert any("logind BlockInhibited" in s.text for s in signals if s.kind == "inhibit")
        assert ("inhibited", ("logind", True)) in recorder.events
        logind.block_inhibited = "sleep:shutdown"
        recorder.wait_for(("inhibited", ("logind", False)))


@pytest.mark.parametrize(
    "locker", ["org.mate.ScreenSaver", "org.cinnamon.ScreenSaver", "org.xfce.ScreenSaver"]
)
def test_every_lockers_own_active_changed_is_heard(
    session_bus: str, no_system_bus: str, locker: str
) -> None:
    path = "/" + locker.replace(".", "/")
    with watching(session_bus, no_system_bus) as (recorder, _signals):
        send_signal(session_bus, path, f"{locker}.ActiveChanged", "boolean:true")
        recorder.wait_for(("locked", True))
        send_signal(session_bus, path, f"{locker}.ActiveChanged", "boolean:false")
        recorder.wait_for(("locked", False))
