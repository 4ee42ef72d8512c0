"""The idle-source protocol: how the engine learns how long the person has been away."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class IdleSourceError(Exception):
    """A source cannot run here (no display, no permission, missing library).

    The text is one line a person can act on.
    """


class SourceLost(IdleSourceError):
    """A running source can no longer see input, for good (its display or compositor is gone).

    Raised by a counter's ``read``; a source that learns it on a thread of its
    own calls the ``on_lost`` it was started with instead. Either way, the
    fallback chain (presence_agent/idle/_fallback.py) moves on to the next
    source that works.
    """


#: Called once, from any thread, with one line saying why the source is lost.
LossHandler = Callable[[str], None]


class IdleSource(Protocol):
    """Tells the time since the last keyboard or mouse input.

    Thread use: the engine thread calls every method; ``on_activity`` is called
    from the source's own thread and must only post to the engine.
    """

    @property
    def name(self) -> str:
        """Short name shown by ``doctor`` and in the log (``pynput``, ``x11``, ...).

        It may change while the agent runs (a lost source replaced by the next).
        """

    def start(self, on_activity: Callable[[], None]) -> None:
        """Begin watching. Raises :class:`IdleSourceError` if the source cannot run."""

    def stop(self) -> None:
        """Stop watching and release hooks. Safe to call twice, or before start."""

    def idle_seconds(self) -> float:
        """Seconds since the last input."""

    def arm(self) -> None:
        """Call ``on_activity`` once, as soon as possible after the next input.

        The engine arms a source only while the person is away because of
        idleness, so a source may watch input closely only then.
        """

    def disarm(self) -> None:
        """The next input no longer needs reporting."""
