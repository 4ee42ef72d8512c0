"""The session-watcher protocol: what the OS says about the session, not about input.

A watcher turns the platform's signals (screen lock, sleep and wake, idle
inhibitors held by a call or a video) into calls on :class:`SessionEvents`.
One module per OS implements it; :class:`presence_agent.session.SessionSignals`
chooses and wires them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class WatcherUnavailable(Exception):
    """Nothing this watcher listens to exists here (no bus, not this OS). One line."""


@dataclass(frozen=True)
class Signal:
    """One kind of session signal and whether it can be heard here (for ``doctor``)."""

    kind: str  # "lock", "suspend" or "inhibit"
    available: bool
    text: str


class SessionEvents(Protocol):
    """Where a watcher reports.

    Thread use: called from the watcher's own thread. ``sleeping`` may block
    (bounded) until the away is reported; the others return at once.
    """

    def locked(self, locked: bool) -> None:
        """The screen was locked (``True``) or unlocked."""

    def sleeping(self) -> None:
        """The machine is about to sleep. Returns when it may (the away is out, or time is up)."""

    def woke(self) -> None:
        """The machine woke from sleep."""

    def inhibited(self, holder: str, active: bool) -> None:
        """``holder`` (``"logind"``, ``"gnome"``...) has an idle inhibitor now, or no longer."""


class SessionWatcher(Protocol):
    """Listens to one platform's session signals.

    Thread use: ``start`` and ``stop`` from the thread that wires the app; the
    watcher calls :class:`SessionEvents` from threads of its own.
    """

    name: str

    def start(self, events: SessionEvents) -> list[Signal]:
        """Begin listening; returns what is heard. Raises :class:`WatcherUnavailable`."""

    def stop(self) -> None:
        """Stop listening and release what was taken (a sleep delay lock). Idempotent."""
