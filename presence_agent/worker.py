"""Supervised worker threads: a crash is logged, shown, and followed by a restart.

Every long-running thread of the agent (the engine, the reporter, the
keepalive) runs its loop through :class:`Supervised`. A loop that raises
something unexpected is not a silent dead thread: the traceback goes to the
log, ``on_failure`` hears a one-line :class:`~presence_agent.events.WorkerFailed`
(the engine shows it in the tray and ``status``), and the loop is started
again after a delay that doubles with each crash in a row (1 s up to 5 min).
Each loop keeps its state machine across restarts, so what it was asked to
do (the newest status, above all) survives the crash.

:class:`MachineDriver` is the loop the reporter and the keepalive share: the
thread around a sans-IO machine, with the I/O left to each subclass.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from presence_agent.errortext import first_line
from presence_agent.events import EngineInput, Halt, Wait, WorkerFailed

log = logging.getLogger(__name__)

#: The first restart delay, and the most it grows to.
RESTART_FIRST = 1.0
RESTART_MAX = 300.0
#: A loop that ran this long before it crashed counts as healthy: the next delay starts over.
HEALTHY_AFTER = 600.0

InputT = TypeVar("InputT")
RequestT = TypeVar("RequestT")
EventT_co = TypeVar("EventT_co", bound=EngineInput, covariant=True)
InputT_contra = TypeVar("InputT_contra", contravariant=True)
RequestT_co = TypeVar("RequestT_co", covariant=True)


class Machine(Protocol[InputT_contra, RequestT_co, EventT_co]):
    """A sans-IO machine a :class:`MachineDriver` runs: it decides, the driver does."""

    def poll(self, now: float) -> RequestT_co | Wait | Halt: ...

    def handle(self, now: float, event: InputT_contra) -> Sequence[EventT_co]: ...


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


class _StopLoop:
    """Tells a driver's loop to return."""


class MachineDriver(Generic[InputT, RequestT]):
    """The thread around a sans-IO machine (the reporter's, the keepalive's).

    It asks the machine what to do (:meth:`Machine.poll`), performs the request
    (:meth:`perform`, the subclass's I/O) and feeds the result back, or sleeps on
    its inbox until the machine's deadline or the next input; the machine's news
    goes to ``emit`` (the engine). :class:`~presence_agent.events.Halt` ends the
    loop, and so does :meth:`stop`. Run under :class:`Supervised`: after a crash
    the loop starts again with the same machine, after :meth:`restarted`.

    With ``drain``, every input already waiting is fed before the next poll, so
    the next request is made for the newest of them (the reporter's "the newest
    status only").

    Thread use: ``start``, ``post``, ``stop``, ``join`` and ``is_alive`` from any
    thread; the rest on the driver's own thread, which calls ``emit`` (so
    ``emit`` must only post).
    """

    def __init__(
        self,
        name: str,
        machine: Machine[InputT, RequestT, EngineInput],
        emit: Callable[[EngineInput], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        supervise_wait: Callable[[float], bool] | None = None,
        drain: bool = False,
    ) -> None:
        self.machine = machine
        self._emit = emit
        self._clock = clock
        self._drain_inbox = drain
        self._inbox: queue.SimpleQueue[InputT | _StopLoop] = queue.SimpleQueue()
        self._runs = 0
        self._worker = Supervised(
            name, self._loop, self._on_failure, clock=clock, wait=supervise_wait
        )

    # -- any thread ---------------------------------------------------------------------

    def start(self) -> None:
        self._worker.start()

    def post(self, event: InputT) -> None:
        self._inbox.put(event)

    def stop(self) -> None:
        """End the loop (after the inputs already posted) and any restart wait."""
        self._worker.stop()
        self._inbox.put(_StopLoop())

    def join(self, timeout: float | None = None) -> None:
        self._worker.join(timeout)

    def is_alive(self) -> bool:
        return self._worker.is_alive()

    # -- for the subclass (driver thread) -----------------------------------------------

    def perform(self, request: RequestT) -> InputT | None:
        """Do ``request``; its outcome as an input for the machine (``None``: nothing)."""
        raise NotImplementedError

    def close(self) -> None:
        """Let go of what the driver holds (a client, a socket): the loop is ending."""

    def restarted(self) -> None:
        """The loop starts again after a crash: tell the machine what was lost with it."""

    def halted(self, halt: Halt) -> None:
        """The machine is done (it returned ``halt``); :meth:`close` has been called."""

    def feed(self, event: InputT) -> None:
        """Give the machine ``event``; pass what it says on to ``emit``."""
        for out in self.machine.handle(self._clock(), event):
            try:
                self._emit(out)
            except Exception:
                log.exception("event handler failed for %s", type(out).__name__)

    # -- driver thread ------------------------------------------------------------------

    def _on_failure(self, failure: WorkerFailed) -> None:
        self.close()
        self._emit(failure)

    def _loop(self) -> None:
        self._runs += 1
        if self._runs > 1:
            self.restarted()
        while True:
            action = self.machine.poll(self._clock())
            if isinstance(action, Halt):
                self.close()
                self.halted(action)
                return
            if isinstance(action, Wait):
                timeout = None if action.until is None else max(0.0, action.until - self._clock())
                try:
                    event = self._inbox.get(timeout=timeout)
                except queue.Empty:
                    continue
                if isinstance(event, _StopLoop):
                    self.close()
                    return
                self.feed(event)
            else:
                result = self.perform(action)
                if result is not None:
                    self.feed(result)
            if self._drain_inbox:
                self._drain()

    def _drain(self) -> None:
        """Take every input already waiting, so the next request is for the newest."""
        while True:
            try:
                event = self._inbox.get_nowait()
            except queue.Empty:
                return
            if isinstance(event, _StopLoop):
                self._inbox.put(event)  # seen by the next wait
                return
            self.feed(event)
