"""Linux (and other D-Bus desktops): lock, sleep and idle inhibitors from the buses.

Session bus:

* ``ActiveChanged(b)`` of every screen locker's own interface: the screen
  locked or unlocked. ``org.freedesktop.ScreenSaver`` (KDE, light-locker,
  xscreensaver's and others' bridges), ``org.gnome.ScreenSaver`` (GNOME,
  gnome-screensaver), ``org.mate.ScreenSaver`` (mate-screensaver, which
  speaks only that), ``org.cinnamon.ScreenSaver`` and ``org.xfce.ScreenSaver``
  (xfce4-screensaver). Each locker's bus name is watched too
  (``NameOwnerChanged``): a locker that dies while locked (gnome-screensaver
  3.6 segfaults on Xvfb a second after ``--lock``) sends no
  ``ActiveChanged(false)``, so when its name vanishes, or a new locker
  appears, the lock state is read again from whatever is left (each running
  locker's ``GetActive``, logind's ``LockedHint``): the agent is never left
  "locked" by a locker that is gone, and the screen it locked is gone with it.
* Idle inhibitors: ``org.gnome.SessionManager.IsInhibited(8)`` (8 is the
  "idle" flag; apps that call ``org.freedesktop.ScreenSaver.Inhibit`` on
  GNOME land there too), re-read on ``InhibitorAdded``/``InhibitorRemoved``;
  KDE's ``org.kde.Solid.PowerManagement.PolicyAgent.HasInhibition(4)``
  (screen settings, where KDE files those same inhibitors), re-read on
  ``InhibitionsChanged``.

System bus (logind), where there is one:

* ``PrepareForSleep(b)``: about to sleep (``True``) or woken. A *delay*
  inhibitor lock, held while awake, makes logind wait (up to its
  InhibitDelayMaxSec, 5 s by default) until we have reported the away and
  let go of it.
* ``Lock``/``Unlock`` on our session object, and its ``LockedHint`` property.
* ``BlockInhibited`` containing ``idle`` (``systemd-inhibit --what=idle``).
  logind sends no change signal for it, so it is read every
  :data:`INHIBIT_POLL` seconds: one small call, far from the hot path.

Anything missing is skipped without a word above INFO: idle time alone
still works. jeepney's router gives each bus a receiver thread; one more
thread of ours handles what they match, so a slow engine never stalls D-Bus.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from presence_agent.dbus import Bus, BusUnavailable, Interface, signal_fields
from presence_agent.session.base import SessionEvents, Signal, WatcherUnavailable

log = logging.getLogger(__name__)

#: How often logind's BlockInhibited is read (it has no change signal).
INHIBIT_POLL = 30.0
_JOIN_TIMEOUT = 5.0

#: Every screen locker's bus name (also its interface) and object path.
SCREENSAVERS = (
    ("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver"),
    ("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver"),
    ("org.mate.ScreenSaver", "/org/mate/ScreenSaver"),
    ("org.cinnamon.ScreenSaver", "/org/cinnamon/ScreenSaver"),
    ("org.xfce.ScreenSaver", "/org/xfce/ScreenSaver"),
)
DBUS_DAEMON = "org.freedesktop.DBus"
LOGIND = "org.freedesktop.login1"
LOGIND_PATH = "/org/freedesktop/login1"
MANAGER = "org.freedesktop.login1.Manager"
SESSION = "org.freedesktop.login1.Session"
PROPERTIES = "org.freedesktop.DBus.Properties"
GNOME_SM = "org.gnome.SessionManager"
GNOME_SM_PATH = "/org/gnome/SessionManager"
#: ``GSM_INHIBITOR_FLAG_IDLE``: "don't mark the session idle".
GNOME_INHIBIT_IDLE = 8
KDE_POLICY = "org.kde.Solid.PowerManagement.PolicyAgent"
KDE_POLICY_PATH = "/org/kde/Solid/PowerManagement/PolicyAgent"
#: ``PolicyAgent::ChangeScreenSettings``: screen dimming and locking held off.
KDE_INHIBIT_SCREEN = 4

_STOP = object()


def _open(address: str, *, enable_fds: bool = False) -> Bus | None:
    try:
        return Bus(address, enable_fds=enable_fds)
    except BusUnavailable as exc:  # no such bus is a normal case (containers, CI)
        log.debug("%s", exc)
        return None


class LinuxWatcher:
    """The session and system buses' lock, sleep and inhibitor signals.

    Thread use: ``start``/``stop`` from the wiring thread; jeepney's receiver
    threads fill a queue; our ``session-signals`` thread empties it and calls
    :class:`SessionEvents` (and is the only one to touch the delay lock).
    """

    name = "linux"

    def __init__(
        self,
        *,
        session_bus: str = "SESSION",
        system_bus: str = "SYSTEM",
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        inhibit_poll: float = INHIBIT_POLL,
    ) -> None:
        self._session_address = session_bus
        self._system_address = system_bus
        self._environ = os.environ if environ is None else environ
        self._clock = clock
        self._inhibit_poll = inhibit_poll
        self._queue: queue.Queue[Any] = queue.Queue()
        self._session: Bus | None = None
        self._system: Bus | None = None
        self._events: SessionEvents | None = None
        self._session_path: str | None = None
        self._logind = False
        self._poll_logind = False
        self._delay_lock: Any = None
        self._thread: threading.Thread | None = None

    # -- wiring thread -------------------------------------------------------------------

    def start(self, events: SessionEvents) -> list[Signal]:
        self._events = events
        self._session = _open(self._session_address)
        self._system = _open(self._system_address, enable_fds=True)
        if self._session is None and self._system is None:
            raise WatcherUnavailable("no D-Bus session or system bus")
        try:
            signals = [
                self._watch_screensavers(),
                *self._watch_logind(),
                self._watch_inhibitors(),
            ]
        except BaseException:
            self._close()
            raise
        self._thread = threading.Thread(target=self._run, name="session-signals", daemon=True)
        self._thread.start()
        return signals

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(_JOIN_TIMEOUT)
        self._close()

    def _close(self) -> None:
        self._release_delay_lock()
        for bus in (self._session, self._system):
            if bus is not None:
                with contextlib.suppress(Exception):
                    bus.close()
        self._session = self._system = None

    def _watch_screensavers(self) -> Signal:
        bus = self._session
        if bus is None:
            return Signal("lock", False, "no D-Bus session bus: screen lock unseen")
        heard = [
            name
            for name, _path in SCREENSAVERS
            if bus.subscribe_signal(self._queue, interface=name, member="ActiveChanged")
        ]
        if not heard:
            return Signal("lock", False, "cannot subscribe to ActiveChanged on the session bus")
        for name in heard:
            bus.watch_owner(self._queue, name)
        running = [name for name in heard if bus.has_owner(name)]
        if self._read_lockers():
            self._report_lock(True)
        owners = f"{', '.join(running)} running" if running else "no screen locker running yet"
        names = ", ".join(name.removesuffix(".ScreenSaver") for name in heard)
        return Signal(
            "lock", True, f"ActiveChanged and the owner of each locker ({names}); {owners}"
        )

    def _read_lockers(self) -> bool:
        """Whether any running locker says the screen is locked now (one call each)."""
        bus = self._session
        if bus is None:
            return False
        for name, path in SCREENSAVERS:
            if bus.has_owner(name):
                reply = bus.try_call(Interface(name, path, name), "GetActive")
                if reply and reply[0]:
                    return True
        return False

    def _reread_lock(self, why: str) -> None:
        """A locker came or went: the lock state from what is there now."""
        locked = self._read_lockers()
        if not locked and self._system is not None and self._session_path is not None:
            locked = (
                self._system.get(Interface(LOGIND, self._session_path, SESSION), "LockedHint")
                is True
            )
        log.info("%s: the screen is %s", why, "locked" if locked else "not locked")
        self._report_lock(locked)

    def _watch_logind(self) -> list[Signal]:
        bus = self._system
        if bus is None or not bus.has_owner(LOGIND):
            why = "no D-Bus system bus" if bus is None else "no logind on the system bus"
            return [
                Signal("suspend", False, f"{why}: no PrepareForSleep"),
                Signal("lock", False, f"{why}: no logind Lock/Unlock"),
            ]
        self._logind = True
        bus.subscribe_signal(
            self._queue, interface=MANAGER, member="PrepareForSleep", path=LOGIND_PATH
        )
        self._take_delay_lock()
        sleep = "PrepareForSleep" + (
            " with a delay lock" if self._delay_lock is not None else " (no delay lock)"
        )
        suspend = Signal("suspend", True, f"logind {sleep}")
        path = self._find_session(bus)
        if path is None:
            return [suspend, Signal("lock", False, "logind: this process is in no session")]
        self._session_path = path
        for member in ("Lock", "Unlock"):
            bus.subscribe_signal(self._queue, interface=SESSION, member=member, path=path)
        bus.subscribe_signal(
            self._queue, interface=PROPERTIES, member="PropertiesChanged", path=path
        )
        hint = bus.get(Interface(LOGIND, path, SESSION), "LockedHint")
        if hint is True:
            self._report_lock(True)
        return [suspend, Signal("lock", True, f"logind Lock/Unlock and LockedHint of {path}")]

    def _find_session(self, bus: Bus) -> str | None:
        attempts: list[tuple[str, str, tuple[Any, ...]]] = []
        session_id = self._environ.get("XDG_SESSION_ID")
        if session_id:
            attempts.append(("GetSession", "s", (session_id,)))
        attempts.append(("GetSessionByPID", "u", (os.getpid(),)))
        attempts.append(("GetSession", "s", ("auto",)))
        for method, signature, body in attempts:
            reply = bus.try_call(Interface(LOGIND, LOGIND_PATH, MANAGER), method, signature, body)
            if reply:
                return str(reply[0])
        return None

    def _watch_inhibitors(self) -> Signal:
        heard = []
        session = self._session
        if session is not None:
            for member in ("InhibitorAdded", "InhibitorRemoved"):
                session.subscribe_signal(self._queue, interface=GNOME_SM, member=member)
            session.subscribe_signal(self._queue, interface=KDE_POLICY, member="InhibitionsChanged")
            if self._check_gnome():
                heard.append("GNOME session manager")
            if self._check_kde():
                heard.append("KDE power management")
        if self._logind and self._check_logind():
            self._poll_logind = True
            heard.append(f"logind BlockInhibited (read every {self._inhibit_poll:.0f} s)")
        if not heard:
            return Signal(
                "inhibit", False, "no GNOME session manager, KDE power management or logind"
            )
        return Signal("inhibit", True, ", ".join(heard))

    # -- inhibitors (wiring thread at start, then the signals thread) --------------------

    def _check_gnome(self) -> bool:
        bus = self._session
        if bus is None or not bus.has_owner(GNOME_SM):
            return False
        reply = bus.try_call(
            Interface(GNOME_SM, GNOME_SM_PATH, GNOME_SM), "IsInhibited", "u", (GNOME_INHIBIT_IDLE,)
        )
        if reply is None:
            return False
        self._report_inhibit("gnome", bool(reply[0]))
        return True

    def _check_kde(self) -> bool:
        bus = self._session
        if bus is None or not bus.has_owner(KDE_POLICY):
            return False
        reply = bus.try_call(
            Interface(KDE_POLICY, KDE_POLICY_PATH, KDE_POLICY),
            "HasInhibition",
            "u",
            (KDE_INHIBIT_SCREEN,),
        )
        if reply is None:
            return False
        self._report_inhibit("kde", bool(reply[0]))
        return True

    def _check_logind(self) -> bool:
        bus = self._system
        if bus is None:
            return False
        what = bus.get(Interface(LOGIND, LOGIND_PATH, MANAGER), "BlockInhibited")
        if what is None:
            return False
        what = str(what)
        self._report_inhibit("logind", "idle" in what.split(":"))
        return True

    def _report_inhibit(self, holder: str, active: bool) -> None:
        if self._events is not None:
            self._events.inhibited(holder, active)

    def _report_lock(self, locked: bool) -> None:
        if self._events is not None:
            self._events.locked(locked)

    # -- the delay lock (signals thread, and start) --------------------------------------

    def _take_delay_lock(self) -> None:
        if self._system is None or self._delay_lock is not None:
            return
        reply = self._system.try_call(
            Interface(LOGIND, LOGIND_PATH, MANAGER),
            "Inhibit",
            "ssss",
            ("sleep", "presence-agent", "Report away before the machine sleeps", "delay"),
        )
        if reply:
            self._delay_lock = reply[0]

    def _release_delay_lock(self) -> None:
        lock, self._delay_lock = self._delay_lock, None
        if lock is not None:
            with contextlib.suppress(OSError):
                lock.close()

    # -- signals thread ------------------------------------------------------------------

    def _run(self) -> None:
        next_poll = self._clock() + self._inhibit_poll
        while True:
            timeout = max(0.0, next_poll - self._clock()) if self._poll_logind else None
            try:
                message = self._queue.get(timeout=timeout)
            except queue.Empty:
                self._check_logind()
                next_poll = self._clock() + self._inhibit_poll
                continue
            if message is _STOP:
                return
            try:
                self._handle(message)
            except Exception:
                log.exception("handling a session signal failed")

    def _handle(self, message: Any) -> None:
        interface, member, path, _sender = signal_fields(message)
        body = message.body
        if member == "ActiveChanged" and interface in dict(SCREENSAVERS):
            self._report_lock(bool(body[0]))
        elif interface == DBUS_DAEMON and member == "NameOwnerChanged":
            name, _old, new = (str(part) for part in body[:3])
            if name in dict(SCREENSAVERS):
                self._reread_lock(f"{name} {'started' if new else 'vanished'}")
        elif interface == MANAGER and member == "PrepareForSleep":
            self._prepare_for_sleep(bool(body[0]))
        elif interface == SESSION and path == self._session_path:
            self._report_lock(member == "Lock")
        elif interface == PROPERTIES and path == self._session_path:
            changed = body[1] if len(body) > 1 and body[0] == SESSION else {}
            hint = changed.get("LockedHint")
            if hint is not None:
                self._report_lock(bool(hint[1]))
        elif interface == GNOME_SM:
            self._check_gnome()
        elif interface == KDE_POLICY:
            self._check_kde()

    def _prepare_for_sleep(self, before: bool) -> None:
        if self._events is None:
            return
        if before:
            try:
                self._events.sleeping()
            finally:
                # Let logind go on: held longer, the lock only delays the sleep.
                self._release_delay_lock()
        else:
            self._take_delay_lock()
            self._events.woke()
