"""Idle sources and the one place that picks one.

Which hooks run where (the README's table comes from here):

=================  ===============================  ==========================  =================
platform           source (first that works)        while active                while away (armed)
=================  ===============================  ==========================  =================
Linux, X11         ``x11`` XScreenSaver             nothing: one read at the    nothing: an XSync
                                                    engine's deadline           IDLETIME alarm
Linux, Wayland     ``ext-idle-notify`` (KWin,       nothing: the compositor     nothing: its
                   wlroots compositors)             sends idled/resumed         resumed event
                   ``mutter`` (GNOME) or            nothing: one D-Bus call     D-Bus call every
                   ``freedesktop`` (others)         at the deadline             50 ms
Windows            ``windows`` GetLastInputInfo     nothing                     poll every 50 ms
macOS              ``macos`` HID idle time          nothing                     poll every 50 ms
any, fallback      ``pynput``                       keyboard + mouse listeners  the same listeners
=================  ===============================  ==========================  =================

A native source never installs a keyboard or mouse hook: the OS keeps the
counter. ``pynput`` (global listeners, on macOS behind the Input Monitoring
permission) runs only when no native counter works, or when asked for.

Choosing: ``idle_source`` in the config, overridden by the environment
variable ``PRESENCE_AGENT_IDLE_SOURCE``; ``auto`` (the default) tries the
platform's chain in order and takes the first source whose probe (one real
read of the counter) succeeds. A source named explicitly is not replaced by
another when it fails: the error says why. Nothing here runs at import; each
OS module is imported only when its source is tried.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from presence_agent.idle.base import IdleSource, IdleSourceError

__all__ = [
    "ENV_VAR",
    "KNOWN",
    "Choice",
    "IdleSource",
    "IdleSourceError",
    "chain_for",
    "choose",
    "create",
    "hooks_of",
]

ENV_VAR = "PRESENCE_AGENT_IDLE_SOURCE"
#: Every source name, for the config and the error text.
KNOWN = ("x11", "ext-idle-notify", "mutter", "freedesktop", "windows", "macos", "pynput")


class Probed(IdleSource, Protocol):
    """A source that can say whether it works here before it is started."""

    def probe(self) -> None:
        """Raise :class:`IdleSourceError` (one line a person can act on) if it cannot run."""


#: Builds the named source (importing its module then, not before).
Builder = Callable[[str], Probed]


@dataclass(frozen=True)
class Choice:
    """The chosen source, why, and why each one before it was passed over."""

    source: Probed
    reason: str
    skipped: tuple[tuple[str, str], ...] = ()
    not_tried: tuple[str, ...] = ()


def _build(name: str) -> Probed:
    if name == "x11":
        from presence_agent.idle import _x11

        return _x11.source()
    if name == "ext-idle-notify":
        from presence_agent.idle import _wayland

        return _wayland.source()
    if name == "mutter":
        from presence_agent.idle import _dbus

        return _dbus.mutter()
    if name == "freedesktop":
        from presence_agent.idle import _dbus

        return _dbus.freedesktop()
    if name == "windows":
        from presence_agent.idle import _windows

        return _windows.source()
    if name == "macos":
        from presence_agent.idle import _macos

        return _macos.source()
    if name == "pynput":
        from presence_agent.idle._pynput import PynputSource

        return PynputSource()
    raise IdleSourceError(f"unknown idle source {name!r} (known: auto, {', '.join(KNOWN)})")


def is_wayland(environ: Mapping[str, str]) -> bool:
    return environ.get("XDG_SESSION_TYPE") == "wayland" or bool(environ.get("WAYLAND_DISPLAY"))


def chain_for(platform: str, environ: Mapping[str, str]) -> tuple[tuple[str, ...], str]:
    """The sources ``auto`` tries here, best first, and a name for the session."""
    if platform == "win32":
        return ("windows", "pynput"), "Windows"
    if platform == "darwin":
        return ("macos", "pynput"), "macOS"
    if is_wayland(environ):
        # XWayland's XScreenSaver counter sees only input sent to X clients. The
        # standard protocol first (KWin, wlroots compositors); GNOME answers on D-Bus;
        # org.freedesktop.ScreenSaver's GetSessionIdleTime is unsupported on KWin 5.27.
        return ("ext-idle-notify", "mutter", "freedesktop", "pynput"), "Wayland session"
    return ("x11", "mutter", "freedesktop", "pynput"), "X11 session"


def choose(
    preference: str = "auto",
    *,
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    build: Builder = _build,
) -> Choice:
    """Pick the idle source: the override, or the first of the chain that works.

    Raises :class:`IdleSourceError` if the named source, or every source of
    the chain, cannot run here.
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    override = environ.get(ENV_VAR, "").strip()
    wanted = override or preference.strip() or "auto"
    where = f"{ENV_VAR}={override}" if override else f"idle_source = {preference!r} in the config"
    if wanted != "auto":
        source = build(wanted)  # raises for an unknown name
        try:
            source.probe()
        except IdleSourceError as exc:
            raise IdleSourceError(f"idle source {wanted!r} (from {where}): {exc}") from None
        return Choice(source, f"chosen by {where}")
    chain, session = chain_for(platform, environ)
    skipped: list[tuple[str, str]] = []
    for position, name in enumerate(chain):
        try:
            source = build(name)
            source.probe()
        except IdleSourceError as exc:
            skipped.append((name, str(exc)))
            continue
        reason = (
            f"best that works in this {session}" if skipped else f"first choice for this {session}"
        )
        return Choice(source, reason, tuple(skipped), chain[position + 1 :])
    details = "; ".join(f"{name}: {why}" for name, why in skipped)
    raise IdleSourceError(f"no idle source works here ({details})")


def create(preference: str = "auto") -> IdleSource:
    """The idle source to use: the choice, and the rest of its chain should it be lost later.

    ``preference`` comes from the config; ``PRESENCE_AGENT_IDLE_SOURCE`` overrides it.
    """
    from presence_agent.idle._fallback import FallbackSource

    choice = choose(preference)
    return FallbackSource(choice.source, _build, choice.not_tried)


def hooks_of(source: Any) -> list[str]:
    """What ``source`` uses to watch input right now; empty when nothing does.

    Sources without a ``hooks`` method (test fakes) report nothing.
    """
    hooks = getattr(source, "hooks", None)
    if not callable(hooks):
        return []
    return [str(hook) for hook in hooks()]
