"""The X11 source against a real X server (Xvfb), where the XScreenSaver idle time is real."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from presence_agent import idle
from presence_agent.idle import _x11
from presence_agent.idle._native import NativeSource
from presence_agent.idle._xsync import XSyncWatch
from presence_agent.idle.base import IdleSourceError
from tests.desktop import key, kill_xvfb, move_mouse, running_xvfb, wait_until

pytestmark = pytest.mark.desktop


@pytest.fixture
def display(xvfb: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DISPLAY", xvfb)
    monkeypatch.setenv("XDG_SESSION_TYPE", "x11")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv(idle.ENV_VAR, raising=False)
    return xvfb


@pytest.fixture
def source(display: str) -> Iterator[NativeSource]:
    src = _x11.source(display)
    yield src
    src.stop()


def pynput_listeners() -> list[threading.Thread]:
    from pynput._util import AbstractListener

    return [t for t in threading.enumerate() if isinstance(t, AbstractListener)]


def test_the_idle_time_grows_and_input_resets_it(source: NativeSource, display: str) -> None:
    source.start(lambda: None)
    move_mouse(display, 100, 100)
    wait_until(lambda: source.idle_seconds() >= 0.3, timeout=10, what="idle time to grow")
    move_mouse(display, 200, 150)
    assert source.idle_seconds() < 0.3
    wait_until(lambda: source.idle_seconds() >= 0.3, timeout=10, what="idle time to grow")
    key(display, "shift")
    assert source.idle_seconds() < 0.3


def test_armed_it_sees_the_first_input_within_100_ms(source: NativeSource, display: str) -> None:
    seen: list[float] = []
    source.start(lambda: seen.append(time.monotonic()))
    move_mouse(display, 300, 300)
    wait_until(lambda: source.idle_seconds() >= 0.2, timeout=10, what="some idle time")
    source.arm()
    assert source.hooks() == ("XSync IDLETIME alarm",)
    time.sleep(0.05)  # the alarm is set up on the watch's own thread
    moved = time.monotonic()
    move_mouse(display, 310, 300)  # returns once the X server has moved the pointer
    wait_until(lambda: seen, timeout=5, interval=0.005, what="the first input")
    # An event from the X server, not a poll: well inside the 100 ms budget.
    assert seen[0] - moved < 0.05
    assert source.hooks() == ()


def test_no_input_hook_of_any_kind(source: NativeSource, display: str) -> None:
    before = pynput_listeners()
    source.start(lambda: None)
    source.arm()
    source.idle_seconds()
    # No pynput listener (XRecord) threads, armed or not, and no poll: only the XSync watch.
    assert pynput_listeners() == before
    assert [t.name for t in threading.enumerate() if t.name.startswith("idle-poll")] == []
    assert [t.name for t in threading.enumerate() if t.name == "idle-xsync"] == ["idle-xsync"]


def test_armed_it_costs_nothing_until_input(source: NativeSource, display: str) -> None:
    seen: list[float] = []
    source.start(lambda: seen.append(time.monotonic()))
    move_mouse(display, 400, 300)
    source.arm()
    cpu = time.process_time()
    time.sleep(1.0)
    assert time.process_time() - cpu < 0.02, "an armed source must sleep, not poll"
    assert seen == []
    key(display, "shift")  # a key alone brings the person back too
    wait_until(lambda: seen, timeout=5, interval=0.005, what="the key press")
    source.disarm()
    assert source.hooks() == ()


def test_falls_back_to_polling_without_xsync(display: str) -> None:
    src = _x11.X11Source(display, watch=NoXSync())
    seen: list[float] = []
    try:
        src.start(lambda: seen.append(time.monotonic()))
        move_mouse(display, 500, 300)
        wait_until(lambda: src.idle_seconds() >= 0.2, timeout=10, what="some idle time")
        src.arm()
        assert src.hooks() == ("poll XScreenSaver idle time every 50 ms",)
        move_mouse(display, 510, 300)
        wait_until(lambda: seen, timeout=5, interval=0.005, what="the first input")
    finally:
        src.stop()


class NoXSync(XSyncWatch):
    """What the watch does on a server without SYNC."""

    def open(self, on_activity: object, on_broken: object = None) -> None:
        raise IdleSourceError("the X server has no SYNC extension")


def test_the_factory_picks_x11_under_xvfb(display: str) -> None:
    choice = idle.choose("auto")
    try:
        assert choice.source.name == "x11"
        assert choice.skipped == ()
    finally:
        choice.source.stop()


def test_no_display_is_a_clear_error() -> None:
    # (A display that refuses a connection would do too, but python-xlib leaks
    # that socket, which this suite's warnings-as-errors would report.)
    with pytest.raises(IdleSourceError, match="cannot open the X display: Bad display name"):
        _x11.source("not-a-display").probe()


def test_an_x_error_is_reported_and_the_counter_is_polled_instead(
    display: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A negative transition with a positive delta: the X server answers BadMatch for
    # real. libX11's default handler would print it and exit() the whole agent.
    src = _x11.X11Source(display, watch=XSyncWatch(display, alarm_delta=1))
    seen: list[float] = []
    try:
        src.start(lambda: seen.append(time.monotonic()))
        move_mouse(display, 600, 300)
        wait_until(lambda: src.idle_seconds() >= 0.2, timeout=10, what="some idle time")
        with caplog.at_level("WARNING", logger="presence_agent.idle._x11"):
            src.arm()
            wait_until(
                lambda: src.hooks() == ("poll XScreenSaver idle time every 50 ms",),
                timeout=5,
                what="the source to give way to polling",
            )
        assert "refused the XSync alarm (BadMatch" in caplog.text
        move_mouse(display, 610, 300)
        wait_until(lambda: seen, timeout=5, interval=0.005, what="the first input")
    finally:
        src.stop()


def test_a_lost_display_is_reported_once_and_nothing_exits(tmp_path: Path) -> None:
    lost: list[str] = []
    with running_xvfb(tmp_path, size=(640, 480)) as own:
        src = _x11.X11Source(own)
        src.start(lambda: None, lost.append)
        src.arm()
        assert src.hooks() == ("XSync IDLETIME alarm",)
        kill_xvfb(own)
        wait_until(lambda: lost, timeout=10, what="the loss to be reported")
    # The XSync thread saw it first, or the counter did: either way, one report.
    assert src.idle_seconds() >= 0.0
    assert len(lost) == 1
    assert "closed the connection" in lost[0]
    src.stop()
