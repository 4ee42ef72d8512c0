"""A source lost while the agent runs is replaced by the next of its chain (virtual time)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from presence_agent.idle._fallback import FallbackSource
from tests.fakes import Clock, LosableSource


def inline(work: Callable[[], None]) -> None:
    work()


class Chain:
    def __init__(self, clock: Clock, *names: str, broken: tuple[str, ...] = ()) -> None:
        self.sources = {
            name: LosableSource(name, clock, works=name not in broken) for name in names
        }
        self.built: list[str] = []

    def build(self, name: str) -> LosableSource:
        self.built.append(name)
        return self.sources[name]


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_lost_source_gives_way_to_the_next_that_works(clock: Clock) -> None:
    chain = Chain(clock, "x11", "mutter", "freedesktop", broken=("mutter",))
    x11 = chain.sources["x11"]
    source = FallbackSource(x11, chain.build, ["mutter", "freedesktop"], spawn=inline)
    seen: list[str] = []
    source.start(lambda: seen.append("input"))
    assert source.name == "x11"
    source.arm()
    x11.lose("the X display closed the connection")
    assert chain.built == ["mutter", "freedesktop"]
    assert source.name == "freedesktop"
    assert x11.events[-1] == "stop"
    freedesktop = chain.sources["freedesktop"]
    # The new source is started with the same callback and armed as the old one was.
    assert freedesktop.events == ["start", "arm"]
    assert source.hooks() == ("freedesktop hook",)
    freedesktop.touch()
    assert seen == ["input"]
    assert source.lost == [("x11", "the X display closed the connection")]


def test_a_loss_reported_twice_switches_once(clock: Clock) -> None:
    chain = Chain(clock, "x11", "mutter", "pynput")
    x11 = chain.sources["x11"]
    source = FallbackSource(x11, chain.build, ["mutter", "pynput"], spawn=inline)
    source.start(lambda: None)
    x11.lose("XSync: display gone")
    x11.lose("XScreenSaver: display gone")
    assert source.name == "mutter"
    assert chain.built == ["mutter"]


def test_with_nothing_left_the_idle_time_runs_on(clock: Clock) -> None:
    chain = Chain(clock, "x11", "pynput", broken=("pynput",))
    x11 = chain.sources["x11"]
    source = FallbackSource(
        x11, chain.build, ["pynput"], spawn=inline, clock=lambda: clock.now().mono
    )
    source.start(lambda: None)
    clock.advance(40)
    assert source.idle_seconds() == 40
    x11.lose("the X display closed the connection")
    assert source.name == "none (x11 lost)"
    clock.advance(260)
    # Nobody can be seen: the person goes away in time rather than never.
    assert source.idle_seconds() == 300
    source.arm()
    source.disarm()
    source.stop()


def test_an_explicit_source_is_never_replaced(clock: Clock) -> None:
    chain = Chain(clock, "x11", "pynput")
    x11 = chain.sources["x11"]
    source = FallbackSource(x11, chain.build, [], spawn=inline)
    source.start(lambda: None)
    x11.lose("gone")
    assert chain.built == []
    assert source.name == "none (x11 lost)"


def test_a_loss_after_stop_changes_nothing(clock: Clock) -> None:
    chain = Chain(clock, "x11", "mutter")
    x11 = chain.sources["x11"]
    source = FallbackSource(x11, chain.build, ["mutter"], spawn=inline)
    source.start(lambda: None)
    source.stop()
    x11.lose("gone")
    assert chain.built == []
    assert source.name == "x11"
