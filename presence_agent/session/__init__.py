"""Session signals: screen lock, sleep and wake, idle inhibitors.

One watcher module per OS, imported only when chosen (``_linux`` for every
D-Bus desktop, ``_windows``, ``_macos``); ``PRESENCE_AGENT_SESSION=none``
turns them off. :class:`SessionSignals` is the app's part: built with the
engine, started and stopped by the composition root (presence_agent/app.py);
wherever a signal is missing the agent degrades silently to idle time (and
notices a sleep from the clock jump on wake).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from presence_agent.session.base import SessionEvents, SessionWatcher, Signal, WatcherUnavailable

if TYPE_CHECKING:
    from presence_agent.commands import EngineLike

__all__ = [
    "ENV_VAR",
    "SessionEvents",
    "SessionSignals",
    "SessionWatcher",
    "Signal",
    "WatcherUnavailable",
    "probe",
    "watcher_for",
]

log = logging.getLogger(__name__)

ENV_VAR = "PRESENCE_AGENT_SESSION"


def watcher_for(
    platform: str | None = None, environ: Mapping[str, str] | None = None
) -> SessionWatcher:
    """This platform's watcher (not started). Raises :class:`WatcherUnavailable`."""
    platform = sys.platform if platform is None else platform
    environ = os.environ if environ is None else environ
    if environ.get(ENV_VAR, "").strip() == "none":
        raise WatcherUnavailable(f"turned off by {ENV_VAR}=none")
    if platform == "win32":
        from presence_agent.session._windows import WindowsWatcher

        return WindowsWatcher()
    if platform == "darwin":
        from presence_agent.session._macos import MacWatcher

        return MacWatcher()
    from presence_agent.session._linux import LinuxWatcher

    return LinuxWatcher(environ=environ)


class SessionSignals:
    """The platform's watcher, posting to the engine through an :class:`EngineBridge`.

    Thread use: build and ``start``/``stop`` on the thread that wires the app.
    ``start`` never raises: with no signals here the agent runs on idle time.
    """

    def __init__(
        self,
        engine: EngineLike,
        *,
        lock_means_away: bool = True,
        hold_in_call: bool = True,
        watcher: Callable[[], SessionWatcher] = watcher_for,
    ) -> None:
        from presence_agent.session._bridge import EngineBridge

        self.bridge = EngineBridge(engine, lock_means_away=lock_means_away)
        engine.subscribe(self.bridge.on_snapshot)
        self._make_watcher = watcher
        self._watcher: SessionWatcher | None = None
        self._hold_in_call = hold_in_call
        self._stops: list[Callable[[], None]] = []

    def start(self) -> list[Signal]:
        """Start listening; returns what is heard (nothing, when no watcher works here)."""
        if self._hold_in_call:
            start_calls(self.bridge, self._stops.append)
        else:
            log.info("call: not watched (hold_in_call = false)")
        try:
            watcher = self._make_watcher()
            signals = watcher.start(self.bridge)
        except WatcherUnavailable as exc:
            log.info("no session signals (%s): idle time only", exc)
            return []
        except Exception:
            # Lock and sleep signals are a refinement: never a reason not to run.
            log.exception("session signals failed to start: idle time only")
            return []
        self._watcher = watcher
        for signal in signals:
            log.info(
                "%s: %s%s", signal.kind, "" if signal.available else "not heard: ", signal.text
            )
        return signals

    def stop(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()
        stops, self._stops = self._stops, []
        for stop_one in stops:
            stop_one()


def start_calls(events: SessionEvents, on_stop: Callable[[Callable[[], None]], None]) -> None:
    """Watch the microphone and camera; their use holds idle off, as an inhibitor does."""
    from presence_agent import calls

    try:
        watcher = calls.watcher_for()
        signals = watcher.start(events.inhibited)
    except WatcherUnavailable as exc:
        log.info("call: not heard: %s", exc)
        return
    except Exception:
        log.exception("watching the microphone and camera failed: calls are not seen")
        return
    on_stop(watcher.stop)
    for signal in signals:
        log.info("%s: %s%s", signal.kind, "" if signal.available else "not heard: ", signal.text)


def probe(platform: str | None = None) -> list[Signal]:
    """What the watcher would hear here, for ``doctor`` (starts it with no listener, stops it)."""
    from presence_agent.session._bridge import NullEvents

    try:
        watcher = watcher_for(platform)
    except WatcherUnavailable as exc:
        return [Signal(kind, False, str(exc)) for kind in ("lock", "suspend", "inhibit")]
    try:
        heard = watcher.start(NullEvents())
    except WatcherUnavailable as exc:
        heard = [Signal(kind, False, str(exc)) for kind in ("lock", "suspend", "inhibit")]
    finally:
        watcher.stop()
    return heard + probe_calls(platform)


def probe_calls(platform: str | None = None) -> list[Signal]:
    """What the call watcher would hear here, for ``doctor``."""
    from presence_agent import calls

    try:
        watcher = calls.watcher_for(platform, probe=True)
    except WatcherUnavailable as exc:
        return [Signal("call", False, str(exc))]
    try:
        return watcher.start(lambda _device, _in_use: None)
    except WatcherUnavailable as exc:
        return [Signal("call", False, str(exc))]
    finally:
        watcher.stop()
