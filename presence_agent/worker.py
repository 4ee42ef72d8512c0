"""Supervised worker threads: a crash is logged, shown, and followed by a restart.

Every long-running thread of the agent (the engine, the reporter, the
keepalive) runs its loop through :class:`Supervised`. A loop that raises
something unexpected is not a silent dead thread: the traceback goes to the
log, ``on_failure`` hears a one-line :class:`~presence_agent.events.WorkerFailed`
(the engine shows it in the tray and ``status``), and the loop is started
again after a delay that doubles with each crash in a row (1 s up to 5 min).
Each loop keeps its state machine across restarts, so what it was asked to
do (the newest status, above all) survives the crash.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from presence_agent.errortext import first_line
from presence_agent.events import WorkerFailed

log = logging.getLogger(__name__)

#: The first restart delay, and the most it grows to.
RESTART_FIRST = 1.0
RESTART_MAX = 300.0
#: A loop that ran this long before it crashed counts as healthy: the next delay starts over.
HEALTHY_AFTER = 600.0


class Supervised:
    """One thread running ``loop`` until it returns, restarted when it raises.

    ``loop`` is called again after each crash, on the same thread. Thread use:
    ``start``, ``stop`` and ``join`` from the thread that wires the app;
    ``on_failure`` is called on the worker's thread and must only post.
    ``stop`` only ends a restart wait: the loop itself must be told to return
    (each worker has its own stop message).
    """

    def __init__(
        self,
        name: str,
        loop: Callable[[], None],
        on_failure: Callable[[WorkerFailed], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        self.name = name
        self._loop = loop
        self._on_failure = on_failure
        self._clock = clock
        self._stopping = threading.Event()
        self._wait = wait or self._stopping.wait
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        #: How many times the loop crashed (for tests and ``doctor``).
        self.crashes = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        in_a_row = 0
        while not self._stopping.is_set():
            began = self._clock()
            try:
                self._loop()
            except Exception as exc:
                self.crashes += 1
                if self._clock() - began >= HEALTHY_AFTER:
                    in_a_row = 0
                delay = min(RESTART_MAX, RESTART_FIRST * 2**in_a_row)
                in_a_row += 1
                log.exception("the %s thread failed; restarting it in %.0f s", self.name, delay)
                failure = WorkerFailed(
                    self.name,
                    f"internal error in the {self.name}: {first_line(exc, with_type=True)}"
                    f" (restarting it in {delay:.0f} s; details in the log)",
                    delay,
                )
                try:
                    self._on_failure(failure)
                except Exception:
                    log.exception("reporting the %s failure failed", self.name)
                if self._wait(delay) or self._stopping.is_set():
                    return
                log.info("restarting the %s thread", self.name)
            else:
                return
