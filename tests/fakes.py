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


class LosableSource:
    """An idle source that can be lost, as a display or a compositor is; records its life.

    ``lose(why)`` is what the real source's thread does when its display goes away.
    """

    def __init__(self, name: str, clock: Clock, *, works: bool = True) -> None:
        self.name = name
        self._clock = clock
        self.works = works
        self.last_input = clock.now().mono
        self.events: list[str] = []
        self.armed = False
        self._on_activity: Callable[[], None] = lambda: None
        self._on_lost: Callable[[str], None] | None = None

    def probe(self) -> None:
        from presence_agent.idle.base import IdleSourceError

        if not self.works:
            raise IdleSourceError(f"{self.name} does not work here")

    def start(
        self, on_activity: Callable[[], None], on_lost: Callable[[str], None] | None = None
    ) -> None:
        self.events.append("start")
        self._on_activity = on_activity
        self._on_lost = on_lost

    def stop(self) -> None:
        self.events.append("stop")

    def idle_seconds(self) -> float:
        return max(0.0, self._clock.now().mono - self.last_input)

    def arm(self) -> None:
        self.armed = True
        self.events.append("arm")

    def disarm(self) -> None:
        self.armed = False
        self.events.append("disarm")

    def hooks(self) -> tuple[str, ...]:
        return (f"{self.name} hook",) if self.armed else ()

    def touch(self) -> None:
        self.last_input = self._clock.now().mono
        if self.armed:
            self.armed = False
            self._on_activity()

    def lose(self, why: str) -> None:
        assert self._on_lost is not None, "started without on_lost"
        self._on_lost(why)


class SessionRecorder:
    """SessionEvents that records, for any thread; ``sleeping`` can be made to dawdle."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.cond = threading.Condition()
        self.sleep_hook: Callable[[], None] | None = None

    def _add(self, event: tuple[str, object]) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def locked(self, locked: bool) -> None:
        self._add(("locked", locked))

    def sleeping(self) -> None:
        if self.sleep_hook is not None:
            self.sleep_hook()
        self._add(("sleeping", None))

    def woke(self) -> None:
        self._add(("woke", None))

    def inhibited(self, holder: str, active: bool) -> None:
        self._add(("inhibited", (holder, active)))

    def wait_for(self, event: tuple[str, object], timeout: float = 10.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: event in self.events, timeout):
                raise AssertionError(f"{event} not seen; got {self.events}")
