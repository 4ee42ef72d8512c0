"""The chosen idle source, and the next of its chain when it is lost while the agent runs.

:func:`presence_agent.idle.choose` picks the first source of the chain that
works at start. A source can still be lost later: the X server the agent
watched quits (a crashed Xorg, a killed Xvfb, a nested session closed), or the
compositor restarts. The source then says so once (``on_lost``), and
:class:`FallbackSource` moves on to the next source of the chain that works
now, with the same callbacks and the same armed state, so the agent keeps
running and keeps seeing the person. When nothing else works (or the source
was named explicitly, which is never replaced), it keeps the idle time running
on from the last reading: the person goes away in time, which is the honest
answer when nobody can be seen, and the log says why.

Thread use: ``start``/``stop``/``arm``/``disarm``/``idle_seconds`` from the
engine thread; ``on_lost`` from any source's thread, which hands the switch to
a short ``idle-fallback`` thread (a source cannot stop itself on its own
thread); ``name`` and ``hooks`` from any thread.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from presence_agent.idle.base import IdleSource, IdleSourceError

log = logging.getLogger(__name__)


class _Blind:
    """No source can see input any more: the idle time only grows, from the last reading."""

    def __init__(self, name: str, idle_at_loss: float, clock: Callable[[], float]) -> None:
        self.name = name
        self._clock = clock
        self._since = clock() - idle_at_loss

    def start(self, on_activity: Callable[[], None]) -> None:
        return None

    def stop(self) -> None:
        return None

    def idle_seconds(self) -> float:
        return max(0.0, self._clock() - self._since)

    def arm(self) -> None:
        return None

    def disarm(self) -> None:
        return None


class FallbackSource:
    """An :class:`IdleSource` that replaces a lost source by the next one of its chain.

    ``build(name)`` makes (and ``probe()`` checks) a source by name, as the
    factory does; ``rest`` are the names still to try, best first.
    """

    def __init__(
        self,
        source: Any,
        build: Callable[[str], Any],
        rest: Sequence[str],
        *,
        clock: Callable[[], float] = time.monotonic,
        spawn: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        self._current: Any = source
        self._spawn = spawn or _thread
        self._build = build
        self._rest = list(rest)
        self._clock = clock
        self._lock = threading.RLock()
        self._on_activity: Callable[[], None] = _nothing
        self._started = False
        self._armed = False
        self._last_idle = 0.0
        #: Sources lost so far, with why: for ``doctor``, the status and tests.
        self.lost: list[tuple[str, str]] = []

    @property
    def name(self) -> str:
        return str(self._current.name)

    @property
    def current(self) -> Any:
        return self._current

    def probe(self) -> None:
        probe = getattr(self._current, "probe", None)
        if callable(probe):
            probe()

    def start(self, on_activity: Callable[[], None]) -> None:
        with self._lock:
            self._on_activity = on_activity
            self._start(self._current)
            self._started = True

    def stop(self) -> None:
        with self._lock:
            self._started = False
            self._current.stop()

    def idle_seconds(self) -> float:
        with self._lock:
            value = float(self._current.idle_seconds())
            self._last_idle = value
            return value

    def arm(self) -> None:
        with self._lock:
            self._armed = True
            self._current.arm()

    def disarm(self) -> None:
        with self._lock:
            self._armed = False
            self._current.disarm()

    def hooks(self) -> tuple[str, ...]:
        hooks = getattr(self._current, "hooks", None)
        return tuple(hooks()) if callable(hooks) else ()

    # -- any source's thread, then the fallback thread -----------------------------------

    def _lost_handler(self, source: Any) -> Callable[[str], None]:
        reported = threading.Event()

        def on_lost(why: str) -> None:
            if reported.is_set():
                return
            reported.set()
            self._spawn(lambda: self._replace(source, why))

        return on_lost

    def _replace(self, lost: Any, why: str) -> None:
        with self._lock:
            if lost is not self._current or not self._started:
                return
            self.lost.append((str(lost.name), why))
            try:
                self._last_idle = float(lost.idle_seconds())
            except Exception:  # noqa: BLE001 - it is lost; the last good reading stands
                log.debug("no last reading from the lost %s source", lost.name)
            try:
                lost.stop()
            except Exception:
                log.exception("stopping the lost %s idle source failed", lost.name)
            skipped = []
            while self._rest:
                name = self._rest.pop(0)
                try:
                    candidate = self._build(name)
                    candidate.probe()
                    self._start(candidate)
                except IdleSourceError as exc:
                    skipped.append(f"{name}: {exc}")
                    continue
                except Exception as exc:  # noqa: BLE001 - a library's own error: not this one
                    skipped.append(f"{name}: {type(exc).__name__}: {exc}")
                    continue
                self._current = candidate
                if self._armed:
                    candidate.arm()
                log.warning(
                    "idle source %s lost (%s); now using %s%s",
                    lost.name,
                    why,
                    name,
                    f" (skipped {'; '.join(skipped)})" if skipped else "",
                )
                return
            blind = _Blind(f"none ({lost.name} lost)", self._last_idle, self._clock)
            self._current = blind
            log.error(
                "idle source %s lost (%s) and no other works%s: input cannot be seen, so"
                " idle time runs on and you will show as away; restart the agent once the"
                " display is back",
                lost.name,
                why,
                f" ({'; '.join(skipped)})" if skipped else "",
            )

    def _start(self, source: Any) -> None:
        """Start ``source`` with our callbacks (``on_lost`` where it takes one)."""
        if _takes_on_lost(source):
            source.start(self._on_activity, self._lost_handler(source))
        else:
            source.start(self._on_activity)


def _takes_on_lost(source: IdleSource) -> bool:
    try:
        return "on_lost" in inspect.signature(source.start).parameters
    except (TypeError, ValueError):
        return False


def _thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="idle-fallback", daemon=True).start()


def _nothing() -> None:
    return None
