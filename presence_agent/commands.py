"""What the tray, the control channel and the session watchers may ask of the running agent.

They get a :class:`Commands` (and read :class:`~presence_agent.events.Snapshot`\\ s),
never the whole app: every command is one message posted to the engine's
inbox, so none of them can block the engine or reach into another thread's
state. Standard library only (no HTTP or GUI library behind it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from presence_agent.events import (
    EngineInput,
    ExtendTimer,
    ManualChoice,
    Notice,
    Outcome,
    Pause,
    Resume,
    SignInChanged,
    Snapshot,
    TimedChoice,
    check_pause,
)
from presence_agent.vocab import Status


class Commands(Protocol):
    """The running agent, as the people-facing parts see it. Every method: any thread."""

    def set_status(self, status: Status, reply: Callable[[Outcome], None] | None = None) -> None:
        """A manual choice; ``reply`` hears what became of it (on the engine thread)."""

    def set_timed(
        self,
        status: Status,
        until: float,
        set_by: str = "user",
        reply: Callable[[Outcome], None] | None = None,
    ) -> None:
        """A manual choice that ends by itself at the wall-clock instant ``until``."""

    def extend_timer(self, seconds: float) -> None:
        """Push the running timer's end back by ``seconds``."""

    def pause(self, seconds: float | None) -> None:
        """Pause idle detection (``None``: until resumed). :class:`ValueError` for a pause
        that is no sane duration (see :func:`~presence_agent.events.check_pause`)."""

    def resume(self) -> None: ...

    def credentials_changed(self) -> None:
        """Sign-in or sign-out stored new credentials (or removed them): use them now."""

    def quit(self) -> None:
        """Quit in order (offline first, bounded): what SIGTERM and the tray's Quit do."""

    def quitting(self, timeout: float | None = 0.0) -> bool:
        """Whether a quit was asked for, waiting up to ``timeout`` s (``None``: until it is)."""

    def snapshot(self) -> Snapshot: ...

    def subscribe(self, listener: Callable[[Snapshot], None]) -> None:
        """Hear each new snapshot, on the engine thread (post from there, never block)."""

    def subscribe_notices(self, listener: Callable[[Notice], None]) -> None:
        """Hear each notification the agent wants shown, on the engine thread."""


class EngineLike(Protocol):
    def post(self, event: EngineInput) -> None: ...

    def snapshot(self) -> Snapshot: ...

    def subscribe(self, listener: Callable[[Snapshot], None]) -> None: ...

    def subscribe_notices(self, listener: Callable[[Notice], None]) -> None: ...


class AgentCommands:
    """:class:`Commands` over the engine's inbox and the agent's quit flag."""

    def __init__(self, engine: EngineLike, quit_flag: threading.Event) -> None:
        self._engine = engine
        self._quit = quit_flag

    def set_status(self, status: Status, reply: Callable[[Outcome], None] | None = None) -> None:
        self._engine.post(ManualChoice(status, reply))

    def set_timed(
        self,
        status: Status,
        until: float,
        set_by: str = "user",
        reply: Callable[[Outcome], None] | None = None,
    ) -> None:
        self._engine.post(TimedChoice(status, until, set_by, reply))

    def extend_timer(self, seconds: float) -> None:
        self._engine.post(ExtendTimer(seconds))

    def pause(self, seconds: float | None) -> None:
        self._engine.post(Pause(check_pause(seconds)))

    def resume(self) -> None:
        self._engine.post(Resume())

    def credentials_changed(self) -> None:
        self._engine.post(SignInChanged())

    def quit(self) -> None:
        self._quit.set()

    def quitting(self, timeout: float | None = 0.0) -> bool:
        if timeout == 0.0:
            return self._quit.is_set()
        return self._quit.wait(timeout)

    def snapshot(self) -> Snapshot:
        return self._engine.snapshot()

    def subscribe(self, listener: Callable[[Snapshot], None]) -> None:
        self._engine.subscribe(listener)

    def subscribe_notices(self, listener: Callable[[Notice], None]) -> None:
        self._engine.subscribe_notices(listener)
