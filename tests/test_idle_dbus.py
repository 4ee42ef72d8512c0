"""The Wayland sources (GNOME's Mutter IdleMonitor, freedesktop ScreenSaver) on a private bus."""

from __future__ import annotations

import time
from typing import Any

import pytest

from presence_agent import idle
from presence_agent.idle import _dbus
from presence_agent.idle.base import IdleSourceError
from tests.fakes import FakeService, ServiceError

pytestmark = pytest.mark.desktop

MUTTER = ("/org/gnome/Mutter/IdleMonitor/Core", "org.gnome.Mutter.IdleMonitor", "GetIdletime")
FDO = ("/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver", "GetSessionIdleTime")


class IdleClock:
    """A compositor's idle counter in milliseconds; ``touch`` is input."""

    def __init__(self, idle_ms: int) -> None:
        self.base = time.monotonic() - idle_ms / 1000

    def touch(self) -> None:
        self.base = time.monotonic()

    def answer(self, signature: str):
        def handler(_body: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
            return signature, (int((time.monotonic() - self.base) * 1000),)

        return handler


def test_mutter_idle_time(session_bus: str) -> None:
    counter = IdleClock(7_000)
    with FakeService(session_bus, "org.gnome.Mutter.IdleMonitor", {MUTTER: counter.answer("t")}):
        source = _dbus.mutter(bus=session_bus)
        source.probe()
        source.start(lambda: None)
        try:
            assert 7.0 <= source.idle_seconds() < 8.0
        finally:
            source.stop()


def test_freedesktop_idle_time_and_first_input(session_bus: str) -> None:
    counter = IdleClock(60_000)
    seen: list[float] = []
    with FakeService(session_bus, "org.freedesktop.ScreenSaver", {FDO: counter.answer("u")}):
        source = _dbus.freedesktop(bus=session_bus)
        source.start(lambda: seen.append(time.monotonic()))
        try:
            assert source.idle_seconds() >= 60.0
            source.arm()
            assert source.hooks() == ("poll org.freedesktop.ScreenSaver idle time every 50 ms",)
            touched = time.monotonic()
            counter.touch()
            deadline = time.monotonic() + 5
            while not seen and time.monotonic() < deadline:
                time.sleep(0.005)
            assert seen
            assert seen[0] - touched < 0.1
        finally:
            source.stop()


def test_absent_service_fails_the_probe(session_bus: str) -> None:
    with pytest.raises(IdleSourceError, match=r"IdleMonitor is not on the session bus"):
        _dbus.mutter(bus=session_bus).probe()


def test_gnome_s_not_supported_answer_fails_the_probe(session_bus: str) -> None:
    def refuse(_body: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
        raise ServiceError("org.freedesktop.DBus.Error.NotSupported", "This method is not part")

    with (
        FakeService(session_bus, "org.freedesktop.ScreenSaver", {FDO: refuse}),
        pytest.raises(IdleSourceError, match="NotSupported"),
    ):
        _dbus.freedesktop(bus=session_bus).probe()


def test_no_bus_fails_the_probe(tmp_path) -> None:
    with pytest.raises(IdleSourceError, match="no D-Bus session bus"):
        _dbus.mutter(bus=f"unix:path={tmp_path / 'nothing'}").probe()


def test_on_wayland_the_factory_skips_to_what_answers(
    session_bus: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session_bus)
    monkeypatch.delenv(idle.ENV_VAR, raising=False)
    wayland = {"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}
    counter = IdleClock(1_000)
    with FakeService(session_bus, "org.freedesktop.ScreenSaver", {FDO: counter.answer("u")}):
        choice = idle.choose("auto", environ=wayland, platform="linux")
    assert choice.source.name == "freedesktop"
    assert [name for name, _why in choice.skipped] == ["ext-idle-notify", "mutter"]
    assert choice.not_tried == ("pynput",)
