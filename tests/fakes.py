"""Small hand-written fakes shared by the engine-level tests."""

from __future__ import annotations

import threading
from collections.abc import Callable

from presence_agent.policy import Now

WALL = 1_700_000_000.0


class Clock:
    """Both clocks, moved by hand from the test thread; read on the engine thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.mono = 5_000.0
        self.wall = WALL

    def now(self) -> Now:
        with self._lock:
            return Now(self.mono, self.wall)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.mono += seconds
            self.wall += seconds

    def sleep(self, seconds: float) -> None:
        """A suspend on Linux or macOS: the monotonic clock stands still."""
        with self._lock:
            self.wall += seconds


class FakeSource:
    """An idle counter the test sets; records arming. Engine thread only, but for reads."""

    name = "fake"

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.last_input = clock.now().mono
        self.armed = False

    def start(self, on_activity: Callable[[], None]) -> None:
        return None

    def stop(self) -> None:
        return None

    def idle_seconds(self) -> float:
        return max(0.0, self._clock.now().mono - self.last_input)

    def arm(self) -> None:
        self.armed = True

    def disarm(self) -> None:
        self.armed = False
