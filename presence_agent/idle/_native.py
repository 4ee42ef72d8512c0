"""What every native idle source shares: the OS keeps the counter, we only read it.

A native source installs no input hook at all. While the person is active the
engine reads the counter once, at its deadline. Only while the source is
armed (the person is away because of idleness) does a thread poll the counter
every :data:`POLL_INTERVAL` seconds, to see the first input within 100 ms;
disarmed, that thread sleeps on a condition and costs nothing.

Input is seen as the counter going *down*: without input an idle counter only
grows, so any drop means a keyboard or mouse event (or an app that reset the
counter on purpose, as video players do on X11: that is a sign of presence
too). This compares the counter only with itself, so it does not care whether
the OS clock and ours agree across a suspend. Its one blind spot: a second
input less than a poll interval after the one before the last reading does
not lower the counter below that reading; the input after it is seen. Armed
after an idle away, the counter is far above the interval anyway.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from presence_agent.idle.base import IdleSourceError, LossHandler, SourceLost

log = logging.getLogger(__name__)

#: How often an armed source reads its counter: half the 100 ms budget for
#: noticing the first input after an idle away, the rest for the engine and the PUT.
POLL_INTERVAL = 0.05
#: How long ``stop`` waits for the poll thread.
_JOIN_TIMEOUT = 2.0


class Counter(Protocol):
    """An OS idle counter.

    Thread use: :class:`NativeSource` calls it under one lock, so an
    implementation need not be thread-safe.
    """

    #: What is read, for ``doctor`` and the control socket (``XScreenSaver idle time``).
    what: str

    def open(self) -> None:
        """Connect to whatever holds the counter. Raises :class:`IdleSourceError`."""

    def read(self) -> float:
        """Seconds since the last input. Raises :class:`IdleSourceError` or ``OSError``."""

    def close(self) -> None:
        """Release the connection. Safe to call twice, or before ``open``."""


class NativeSource:
    """An :class:`~presence_agent.idle.base.IdleSource` over a :class:`Counter`.

    Thread use: ``start``/``stop``/``arm``/``disarm``/``idle_seconds`` from the
    engine thread; ``hooks`` from any thread; the poll thread (only started on
    the first ``arm``) reads the counter and calls ``on_activity``.
    """

    def __init__(
        self,
        name: str,
        counter: Counter,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = POLL_INTERVAL,
    ) -> None:
        self.name = name
        self._counter = counter
        self._clock = clock
        self._interval = interval
        self._io = threading.Lock()  # the counter's connection: one reader at a time
        self._cond = threading.Condition()
        self._armed = False
        self._stopping = False
        self._open = False
        self._previous = 0.0  # the last reading while armed
        self._good: tuple[float, float] | None = None  # (clock, reading) of the last good read
        self._complained = False
        self._on_activity: Callable[[], None] = _nothing
        self._on_lost: LossHandler | None = None
        self._lost = False
        self._thread: threading.Thread | None = None

    @property
    def what(self) -> str:
        return self._counter.what

    def probe(self) -> None:
        """Open, read once and close: whether this source works here. Raises IdleSourceError."""
        with self._io:
            try:
                self._counter.open()
                self._counter.read()
            except OSError as exc:
                raise IdleSourceError(f"{self._counter.what}: {exc}") from None
            finally:
                self._counter.close()

    def start(self, on_activity: Callable[[], None], on_lost: LossHandler | None = None) -> None:
        """Open the counter. ``on_lost`` hears (once) when it can never be read again."""
        with self._io:
            self._counter.open()
            self._open = True
            self._lost = False
            self._on_lost = on_lost
        with self._cond:
            self._stopping = False
            self._on_activity = on_activity

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._armed = False
            thread, self._thread = self._thread, None
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(_JOIN_TIMEOUT)
        with self._io:
            self._open = False
            self._counter.close()

    def idle_seconds(self) -> float:
        reading = self._read()
        if reading is not None:
            return reading
        # The counter cannot be read (the display went away, say). Let the
        # idle time run on from the last good reading: when we cannot see the
        # person, going away in time is the honest answer.
        if self._good is None:
            return 0.0
        at, value = self._good
        return value + max(0.0, self._clock() - at)

    def arm(self) -> None:
        with self._cond:
            if self._armed or self._stopping or not self._open:
                return
        baseline = self._read()
        with self._cond:
            if self._is_armed() or self._is_stopping():  # changed while we read
                return
            self._previous = baseline if baseline is not None else 0.0
            self._armed = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._poll, name=f"idle-poll-{self.name}", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def disarm(self) -> None:
        with self._cond:
            if self._armed:
                self._armed = False
                self._cond.notify_all()

    def hooks(self) -> tuple[str, ...]:
        """What watches input right now (``doctor``, the control socket, tests)."""
        with self._cond:
            armed = self._armed
        if armed:
            return (f"poll {self._counter.what} every {self._interval * 1000:.0f} ms",)
        return ()

    # -- poll thread ---------------------------------------------------------------------

    def _poll(self) -> None:
        while True:
            with self._cond:
                while not self._armed and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                self._cond.wait(self._interval)
                if self._is_stopping():
                    return
                if not self._is_armed():
                    continue
                previous = self._previous
            reading = self._read()
            if reading is None:
                continue
            with self._cond:
                if not self._is_armed():
                    continue
                if reading >= previous:
                    self._previous = reading
                    continue
                self._armed = False
                on_activity = self._on_activity
            on_activity()

    # Re-read under the lock after a wait: another thread may have changed them
    # (a method call, so the type checker does not assume they are unchanged).
    def _is_armed(self) -> bool:
        return self._armed

    def _is_stopping(self) -> bool:
        return self._stopping

    def _read(self) -> float | None:
        with self._io:
            if not self._open:
                return None
            try:
                value = max(0.0, float(self._counter.read()))
            except SourceLost as exc:
                self._report_lost(str(exc))
                return None
            except (IdleSourceError, OSError) as exc:
                if not self._complained:
                    self._complained = True
                    log.warning("cannot read the %s: %s", self._counter.what, exc)
                return None
            except Exception:
                # A library's own error type (Xlib's, jeepney's): the engine
                # thread must never die of it.
                if not self._complained:
                    self._complained = True
                    log.exception("cannot read the %s", self._counter.what)
                return None
            self._good = (self._clock(), value)
            if self._complained:
                self._complained = False
                log.info("the %s can be read again", self._counter.what)
            return value

    def _report_lost(self, why: str) -> None:
        """Under ``_io``: tell the chain once; every later read fails at once."""
        self._open = False
        if self._lost:
            return
        self._lost = True
        log.warning("the %s is lost: %s", self._counter.what, why)
        if self._on_lost is not None:
            self._on_lost(why)


def _nothing() -> None:
    return None
