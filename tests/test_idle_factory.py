"""The one factory: chains per platform, probing, overrides, and nothing at import."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest

from presence_agent import idle
from presence_agent.idle import ENV_VAR, Choice, choose, hooks_of
from presence_agent.idle.base import IdleSourceError


class FakeSource:
    def __init__(self, name: str, problem: str | None = None) -> None:
        self.name = name
        self.problem = problem
        self.probed = 0

    def probe(self) -> None:
        self.probed += 1
        if self.problem:
            raise IdleSourceError(self.problem)

    def start(self, on_activity: Callable[[], None]) -> None:
        return None

    def stop(self) -> None:
        return None

    def idle_seconds(self) -> float:
        return 0.0

    def arm(self) -> None:
        return None

    def disarm(self) -> None:
        return None


class Builder:
    """Builds fake sources; ``broken`` maps a name to its probe's complaint."""

    def __init__(self, **broken: str) -> None:
        self.broken = broken
        self.built: list[str] = []

    def __call__(self, name: str) -> FakeSource:
        if name not in idle.KNOWN:
            raise IdleSourceError(f"unknown idle source {name!r}")
        self.built.append(name)
        return FakeSource(name, self.broken.get(name))


X11 = {"DISPLAY": ":1", "XDG_SESSION_TYPE": "x11"}
WAYLAND = {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"}


def pick(preference: str = "auto", environ=X11, platform: str = "linux", **broken: str) -> Choice:
    return choose(preference, environ=environ, platform=platform, build=Builder(**broken))


@pytest.mark.parametrize(
    ("platform", "environ", "chain"),
    [
        ("linux", X11, ("x11", "mutter", "freedesktop", "pynput")),
        ("linux", WAYLAND, ("ext-idle-notify", "mutter", "freedesktop", "pynput")),
        (
            "linux",
            {"WAYLAND_DISPLAY": "wayland-1"},
            ("ext-idle-notify", "mutter", "freedesktop", "pynput"),
        ),
        ("freebsd14", X11, ("x11", "mutter", "freedesktop", "pynput")),
        ("win32", {}, ("windows", "pynput")),
        ("darwin", {}, ("macos", "pynput")),
    ],
)
def test_each_platform_has_a_chain_ending_at_pynput(platform, environ, chain) -> None:
    assert idle.chain_for(platform, environ)[0] == chain


def test_the_first_source_that_works_wins() -> None:
    choice = pick()
    assert choice.source.name == "x11"
    assert choice.skipped == ()
    assert choice.not_tried == ("mutter", "freedesktop", "pynput")
    assert "first choice" in choice.reason


def test_broken_sources_are_skipped_with_their_reason() -> None:
    choice = pick(
        environ=WAYLAND,
        mutter="org.gnome.Mutter.IdleMonitor is not on the bus",
        freedesktop="org.freedesktop.ScreenSaver answered NotSupported",
        **{"ext-idle-notify": "this compositor offers no ext_idle_notifier_v1"},
    )
    assert choice.source.name == "pynput"
    assert choice.skipped == (
        ("ext-idle-notify", "this compositor offers no ext_idle_notifier_v1"),
        ("mutter", "org.gnome.Mutter.IdleMonitor is not on the bus"),
        ("freedesktop", "org.freedesktop.ScreenSaver answered NotSupported"),
    )
    assert "best that works" in choice.reason


def test_nothing_works_says_why_for_each() -> None:
    with pytest.raises(IdleSourceError) as error:
        pick(platform="win32", windows="GetLastInputInfo failed", pynput="no permission")
    assert str(error.value) == (
        "no idle source works here (windows: GetLastInputInfo failed; pynput: no permission)"
    )


def test_the_config_names_a_source() -> None:
    choice = pick("pynput")
    assert choice.source.name == "pynput"
    assert choice.reason == "chosen by idle_source = 'pynput' in the config"


def test_the_environment_overrides_the_config() -> None:
    choice = pick("x11", environ={**X11, ENV_VAR: "mutter"})
    assert choice.source.name == "mutter"
    assert choice.reason == f"chosen by {ENV_VAR}=mutter"


def test_an_empty_environment_variable_is_no_override() -> None:
    assert pick("pynput", environ={**X11, ENV_VAR: ""}).source.name == "pynput"


def test_a_named_source_that_fails_is_an_error_not_a_fallback() -> None:
    with pytest.raises(IdleSourceError) as error:
        pick(environ={**X11, ENV_VAR: "x11"}, x11="the X server has no MIT-SCREEN-SAVER extension")
    assert str(error.value) == (
        f"idle source 'x11' (from {ENV_VAR}=x11): the X server has no MIT-SCREEN-SAVER extension"
    )


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(
        IdleSourceError, match=r"unknown idle source 'xscreensaver'.*x11, ext-idle-notify, mutter"
    ):
        choose("xscreensaver", environ={}, platform="linux")


def test_hooks_of_a_source_without_hooks_is_empty() -> None:
    assert hooks_of(FakeSource("x")) == []
    assert hooks_of(object()) == []


def test_importing_the_packages_starts_and_loads_nothing() -> None:
    # One module per OS, chosen lazily: importing must not pull in any of
    # them, nor the libraries they use, nor touch the display or a bus.
    script = textwrap.dedent(
        """\
        import sys, threading
        before = threading.active_count()
        import presence_agent.idle, presence_agent.session
        heavy = [m for m in sys.modules if m.split(".")[0] in
                 ("Xlib", "jeepney", "pynput", "AppKit", "Foundation", "ctypes")
                 or m.startswith(("presence_agent.idle._", "presence_agent.session._"))]
        print(heavy, threading.active_count() - before)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "[] 0"
