"""From session signals to engine events: the one :class:`SessionEvents` the app uses."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from presence_agent.commands import EngineLike
from presence_agent.events import Call, IdleInhibit, ScreenLock, Snapshot, Suspend
from presence_agent.i18n import N_

log = logging.getLogger(__name__)

#: How long ``sleeping`` holds the machine awake for the away to reach the
#: server. logind allows a delay lock 5 s (InhibitDelayMaxSec), Windows about
#: 2 s for PBT_APMSUSPEND; a server that slow gets the away on wake instead.
SLEEP_GRACE = 3.0


class EngineBridge:
    """Posts session signals to the engine, as :class:`~presence_agent.session.base.SessionEvents`.

    Thread use: the ``SessionEvents`` methods from watcher threads;
    ``on_snapshot`` on the engine thread (subscribe it to the engine).
    """

    def __init__(
        self,
        engine: EngineLike,
        *,
        lock_means_away: bool = True,
        sleep_grace: float = SLEEP_GRACE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._lock_means_away = lock_means_away
        self._sleep_grace = sleep_grace
        self._clock = clock
        self._cond = threading.Condition()
        self._locked: bool | None = None
        self._holders: set[str] = set()

    # -- engine thread -------------------------------------------------------------------

    def on_snapshot(self, snap: Snapshot) -> None:
        with self._cond:
            self._cond.notify_all()

    # -- watcher threads -----------------------------------------------------------------

    def locked(self, locked: bool) -> None:
        if not self._lock_means_away:
            return
        with self._cond:
            # Several sources report the same lock (ActiveChanged, logind's
            # LockedHint, its Lock signal): the engine hears it once.
            if self._locked is locked:
                return
            self._locked = locked
        log.info("screen %s", "locked" if locked else "unlocked")
        self._engine.post(ScreenLock(locked))

    def sleeping(self) -> None:
        log.info("the machine is going to sleep")
        handled = threading.Event()
        self._engine.post(Suspend(before=True))
        self._engine.post(Call(handled.set))
        deadline = self._clock() + self._sleep_grace
        if not handled.wait(self._sleep_grace):
            log.warning("the engine did not answer before sleep")
            return
        with self._cond:
            while not _settled(self._engine.snapshot()):
                remaining = deadline - self._clock()
                if remaining <= 0:
                    log.warning("the away did not reach the server before sleep; sent on wake")
                    return
                self._cond.wait(min(remaining, 0.1))

    def woke(self) -> None:
        log.info("the machine woke up")
        # Asleep, nobody was at the desk. If the away before sleeping never
        # went out (no warning from the OS, no network then), it goes now: the
        # first input brings Available back within 100 ms anyway.
        self._engine.post(Suspend(before=True))
        # The engine re-reads the server's status, and opens the connection and the /ws
        # socket afresh: either may have died in its sleep without either end knowing.
        self._engine.post(Suspend(before=False))

    def inhibited(self, holder: str, active: bool) -> None:
        with self._cond:
            before = held_by(self._holders)
            if active:
                self._holders.add(holder)
            else:
                self._holders.discard(holder)
            now = held_by(self._holders)
        if now != before:
            if bool(now) != bool(before):
                log.info("idle detection %s", f"held off: {now}" if now else "free again")
            self._engine.post(IdleInhibit(bool(now), now))


#: What an inhibitor's holder is, in words, for the tray.
_HOLDERS = {
    "gnome": N_("an app holds idle off (GNOME)"),
    "kde": N_("an app holds idle off (KDE)"),
    "logind": N_("an app holds idle off (systemd-inhibit)"),
}


def held_by(holders: set[str]) -> str:
    """``microphone in use``, ``camera in use``, ``an app holds idle off (GNOME)``, or ``""``."""
    from presence_agent.calls import describe

    devices = describe(holders & {"microphone", "camera"})
    if devices:
        return devices
    apps = sorted(_HOLDERS.get(holder, f"an app holds idle off ({holder})") for holder in holders)
    return apps[0] if apps else ""


def _settled(snap: Snapshot) -> bool:
    """Nothing is on its way to the server (or nothing can be)."""
    return snap.pending is None or not snap.connected or snap.signed_out


class NullEvents:
    """Listens to nothing (``doctor`` starts a watcher only to see what it hears)."""

    def locked(self, locked: bool) -> None:
        return None

    def sleeping(self) -> None:
        return None

    def woke(self) -> None:
        return None

    def inhibited(self, holder: str, active: bool) -> None:
        return None
