"""Wayland: idle and return as events from the compositor, through ``ext-idle-notify-v1``.

Under Wayland no client may watch global input, so the compositor itself says
when the person went idle and when they came back: an
``ext_idle_notification_v1`` made with a timeout sends ``idled`` once no input
came for that long, and ``resumed`` at the first input after. Nothing polls:
the source's thread sleeps in ``select`` on the Wayland socket, and the
compositor sends nothing while the person types on, and nothing while they
are away, until they come back.

KWin (Plasma 5.27 and later), sway 1.8+, Hyprland, niri, labwc, COSMIC and
other wlroots compositors offer it; GNOME's Mutter does not (its D-Bus
IdleMonitor serves there, the next source of the chain). Version 2 of the
notifier adds ``get_input_idle_notification``, which counts only input
(idle inhibitors held by a video player do not count as presence, and our own
session watcher hears inhibitors separately); it is used where offered, else
version 1's ``get_idle_notification``.

The engine asks for the idle *time*, which the protocol does not tell. With a
short timeout (:data:`GRANULARITY`), ``idled`` at time *t* means the last
input was at *t - GRANULARITY* (KWin's coarse Qt timers may fire 5 % early
or late), and before ``idled`` the last input is less than
:data:`GRANULARITY` ago: the idle time is known to within that, so the away
comes at most that late. The cost is one ``idled``/``resumed`` pair per
pause of more than :data:`GRANULARITY` while the person works: events, a few
tens of microseconds each, none while they are away.

pywayland (libwayland through cffi, with the generated protocol bindings) is
the well-kept library for this; it costs about 5.7 MB of resident memory when
imported, measured in the README's performance table with the headless agent
under KWin, which stays within the 45 MB budget.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from presence_agent.errortext import first_line
from presence_agent.idle.base import IdleSourceError, LossHandler

log = logging.getLogger(__name__)

#: The notification's timeout, in seconds: how precisely the idle time is known.
GRANULARITY = 0.5
#: How long the first round trips to the compositor may take.
_CONNECT_TIMEOUT = 5.0
_JOIN_TIMEOUT = 2.0
NOTIFIER = "ext_idle_notifier_v1"
SEAT = "wl_seat"


def _display_name(environ: Mapping[str, str]) -> str:
    name = environ.get("WAYLAND_DISPLAY", "").strip()
    if not name:
        raise IdleSourceError("not a Wayland session (WAYLAND_DISPLAY is not set)")
    return name


class _Connection:
    """One connection to the compositor with the globals bound: the source's thread owns it."""

    def __init__(self, name: str) -> None:
        try:
            from pywayland.client.display import Display
            from pywayland.protocol.ext_idle_notify_v1 import ExtIdleNotifierV1
            from pywayland.protocol.wayland import WlSeat
        except ImportError as exc:
            raise IdleSourceError(f"pywayland is missing ({first_line(exc)})") from None
        self._display: Any = Display(name)
        try:
            self._display.connect()
        except Exception as exc:  # noqa: BLE001 - pywayland raises ValueError/RuntimeError
            raise IdleSourceError(
                f"cannot connect to the Wayland display {name!r}: {first_line(exc)}"
            ) from None
        offered: dict[str, tuple[int, int]] = {}

        def on_global(_registry: Any, ident: int, interface: str, version: int) -> None:
            if interface in (NOTIFIER, SEAT) and interface not in offered:
                offered[interface] = (ident, version)

        try:
            registry = self._display.get_registry()
            registry.dispatcher["global"] = on_global
            self._display.roundtrip()
            if NOTIFIER not in offered:
                raise IdleSourceError(
                    "this compositor offers no ext_idle_notifier_v1 (GNOME's Mutter does not;"
                    " KDE Plasma 5.27+, sway 1.8+, Hyprland, niri, labwc and COSMIC do)"
                )
            if SEAT not in offered:
                raise IdleSourceError("this compositor offers no wl_seat (no input devices)")
            ident, version = offered[NOTIFIER]
            self.version = min(version, 2)
            self.notifier = registry.bind(ident, ExtIdleNotifierV1, self.version)
            seat_ident, seat_version = offered[SEAT]
            self.seat = registry.bind(seat_ident, WlSeat, min(seat_version, 1))
            self._display.roundtrip()
        except BaseException:
            self.close()
            raise

    @property
    def fd(self) -> int:
        return int(self._display.get_fd())

    @property
    def what(self) -> str:
        if self.version >= 2:
            return "ext-idle-notify v2 input idle notification"
        return "ext-idle-notify v1 idle notification"

    def watch(self, timeout_ms: int, idled: Callable[[], None], resumed: Callable[[], None]) -> Any:
        if self.version >= 2:
            notification = self.notifier.get_input_idle_notification(timeout_ms, self.seat)
        else:
            notification = self.notifier.get_idle_notification(timeout_ms, self.seat)
        notification.dispatcher["idled"] = lambda _n: idled()
        notification.dispatcher["resumed"] = lambda _n: resumed()
        self._display.flush()
        return notification

    def pump(self) -> None:
        """Read what the compositor sent (the socket is readable) and dispatch it."""
        self._display.read()
        self._display.dispatch(block=False)
        self._display.flush()

    def dispatch_pending(self) -> None:
        self._display.dispatch(block=False)
        self._display.flush()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._display.disconnect()


class ExtIdleNotifySource:
    """An :class:`~presence_agent.idle.base.IdleSource` from ``ext-idle-notify-v1`` events.

    Thread use: ``probe``/``start``/``stop``/``arm``/``disarm``/``idle_seconds``
    from the engine thread; the ``idle-wayland`` thread alone touches the
    connection after ``start``, and alone calls ``on_activity`` and ``on_lost``.
    """

    name = "ext-idle-notify"

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        granularity: float = GRANULARITY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._environ = os.environ if environ is None else environ
        self._granularity = granularity
        self._clock = clock
        self._lock = threading.Lock()
        self._idle_since: float | None = None  # monotonic time of the last input, while idled
        self._armed = False
        self._stopping = False
        self._on_activity: Callable[[], None] = _nothing
        self._on_lost: LossHandler | None = None
        self._what = "ext-idle-notify idle notification"
        self._thread: threading.Thread | None = None
        self._wake_r = self._wake_w = -1

    @property
    def what(self) -> str:
        return self._what

    @property
    def how(self) -> str:
        return (
            f"{self._what} ({self._granularity * 1000:.0f} ms), events from the compositor:"
            " no input hook, no polling"
        )

    def probe(self) -> None:
        connection = _Connection(_display_name(self._environ))
        self._what = connection.what
        connection.close()

    def start(self, on_activity: Callable[[], None], on_lost: LossHandler | None = None) -> None:
        connection = _Connection(_display_name(self._environ))
        self._what = connection.what
        with self._lock:
            self._on_activity = on_activity
            self._on_lost = on_lost
            self._stopping = False
            self._idle_since = None
        try:
            notification = connection.watch(
                round(self._granularity * 1000), self._idled, self._resumed
            )
        except Exception as exc:  # noqa: BLE001 - pywayland raises RuntimeError, cffi others
            connection.close()
            raise IdleSourceError(f"the compositor refused an idle notification: {exc}") from None
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(
            target=self._run, args=(connection, notification), name="idle-wayland", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        with self._lock:
            self._stopping = True
            self._armed = False
        if thread is None:
            return
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"!")
        if thread is not threading.current_thread():
            thread.join(_JOIN_TIMEOUT)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1

    def idle_seconds(self) -> float:
        with self._lock:
            since = self._idle_since
        if since is None:
            return 0.0  # input less than one granularity ago
        return max(0.0, self._clock() - since)

    def arm(self) -> None:
        with self._lock:
            if self._stopping:
                return
            back = self._idle_since is None  # input came already, after the idle read
            self._armed = not back
            on_activity = self._on_activity
        if back:
            on_activity()

    def disarm(self) -> None:
        with self._lock:
            self._armed = False

    def hooks(self) -> tuple[str, ...]:
        with self._lock:
            armed = self._armed
        return (f"{self._what}: resumed event",) if armed else ()

    # -- the idle-wayland thread ----------------------------------------------------------

    def _idled(self) -> None:
        with self._lock:
            self._idle_since = self._clock() - self._granularity

    def _resumed(self) -> None:
        with self._lock:
            self._idle_since = None
            report, self._armed = self._armed, False
            on_activity = self._on_activity
        if report:
            on_activity()

    def _run(self, connection: _Connection, notification: Any) -> None:
        lost: str | None = None
        try:
            fd = connection.fd
            connection.dispatch_pending()
            while True:
                with self._lock:
                    if self._stopping:
                        return
                ready, _, _ = select.select([fd, self._wake_r], [], [])
                if self._wake_r in ready:
                    with contextlib.suppress(OSError):
                        os.read(self._wake_r, 512)
                if fd in ready:
                    try:
                        connection.pump()
                    except Exception as exc:  # noqa: BLE001 - pywayland's RuntimeError
                        lost = f"the Wayland compositor closed the connection ({first_line(exc)})"
                        return
        except Exception:
            log.exception("the ext-idle-notify watch failed")
            lost = "the ext-idle-notify watch failed"
        finally:
            with contextlib.suppress(Exception):
                notification.destroy()
            connection.close()
            if lost is not None:
                with self._lock:
                    stopping, on_lost = self._stopping, self._on_lost
                if not stopping and on_lost is not None:
                    on_lost(lost)


def source(environ: Mapping[str, str] | None = None) -> ExtIdleNotifySource:
    return ExtIdleNotifySource(environ)


def _nothing() -> None:
    return None
