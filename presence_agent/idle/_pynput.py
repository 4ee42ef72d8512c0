"""The universal idle source: pynput's global mouse and keyboard listeners.

The callbacks are the hottest code in the app (every mouse move on the
desktop runs one), so they only store a number, and call the engine only on
the first input after the person was idle. The key a callback is given is
never looked at, stored or logged.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from presence_agent.errortext import first_line
from presence_agent.idle.base import IdleSourceError

_START_TIMEOUT = 5.0


def _display_problem() -> str | None:
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        if os.environ.get("WAYLAND_DISPLAY"):
            return "Wayland without XWayland: pynput cannot see input (no DISPLAY)"
        return "no X display (DISPLAY is not set): cannot watch keyboard and mouse input"
    return None


class PynputSource:
    """Idle time from pynput listeners.

    Thread use: ``start``/``stop``/``arm``/``idle_seconds`` from the engine
    thread; the listener threads only run ``_input``.
    """

    name = "pynput"

    def __init__(self, keyboard: bool = True, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._keyboard = keyboard
        self._last = clock()
        self._armed = False
        self._on_activity: Callable[[], None] = _nothing
        self._listeners: list[Any] = []
        self._kinds: tuple[str, ...] = ()

    def probe(self) -> None:
        """Whether pynput can run here, without starting a listener. Raises IdleSourceError."""
        problem = _display_problem()
        if problem:
            raise IdleSourceError(problem)

    def hooks(self) -> tuple[str, ...]:
        """What watches input right now (``doctor``, the control socket, tests)."""
        return tuple(
            f"pynput {kind} listener"
            for kind, listener in zip(self._kinds, self._listeners, strict=False)
            if listener.is_alive()
        )

    def start(self, on_activity: Callable[[], None]) -> None:
        problem = _display_problem()
        if problem:
            raise IdleSourceError(problem)
        self._on_activity = on_activity
        try:
            from pynput import keyboard, mouse
        except Exception as exc:  # noqa: BLE001 - pynput raises ImportError, Xlib others
            raise IdleSourceError(f"pynput cannot watch input here: {first_line(exc)}") from None
        stamp = self._input
        self._listeners = [mouse.Listener(on_move=stamp, on_click=stamp, on_scroll=stamp)]
        self._kinds = ("mouse",)
        if self._keyboard:
            self._listeners.append(keyboard.Listener(on_press=stamp, on_release=stamp))
            self._kinds = ("mouse", "keyboard")
        for listener in self._listeners:
            listener.start()
        for listener in self._listeners:
            self._wait_ready(listener)

    def _wait_ready(self, listener: Any) -> None:
        # pynput's own wait() blocks forever when the listener thread dies
        # before it is ready (no display, no permission), so wait by hand.
        ready = threading.Event()

        def wait() -> None:
            listener.wait()
            ready.set()

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not ready.wait(0.02):
            if not listener.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise IdleSourceError(
                    "the input listener failed to start (no display access, or no permission"
                    " to watch input: on macOS allow Input Monitoring for this app)"
                )

    def _input(self, *_event: Any) -> None:
        # Hot path. Do not add to it (ARCHITECTURE: ~40 µs/event already).
        self._last = self._clock()
        if self._armed:
            self._armed = False
            self._on_activity()

    def stop(self) -> None:
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener.stop()

    def idle_seconds(self) -> float:
        return max(0.0, self._clock() - self._last)

    def arm(self) -> None:
        self._armed = True

    def disarm(self) -> None:
        self._armed = False


def _nothing() -> None:
    return None
