"""In a call: the microphone or the camera is in use, so the person is at the desk.

A call with the microphone open and no keyboard use for five minutes is the
best-known complaint about every auto-away. While a microphone records (or a
camera is open), idle detection is held off exactly as an idle inhibitor holds
it (presence_agent/session/_bridge.py), and the tray says "In a call
(microphone in use)". Nothing here records or reads audio or video: only the
sound server's and the OS's own bookkeeping of who uses which device.

One module per OS, chosen in :func:`watcher_for` (imported only then):

* ``_linux``: PulseAudio, or PipeWire through its Pulse server, subscribed to
  over its native protocol (a real source's recording stream, never a sink's monitor);
  and opens of ``/dev/video*`` through inotify.
* ``_windows``: the privacy settings' own record,
  ``CapabilityAccessManager\\ConsentStore\\{microphone,webcam}``, where an app
  using the device has ``LastUsedTimeStop == 0``; ``RegNotifyChangeKeyValue``
  tells of changes.
* ``_macos``: CoreAudio's ``kAudioDevicePropertyDeviceIsRunningSomewhere`` on
  the default input device, with a property listener.

``hold_in_call = false`` in the config turns it off; ``PRESENCE_AGENT_CALLS=none``
too (tests, or to rule it out).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Protocol

from presence_agent.i18n import N_
from presence_agent.session.base import Signal, WatcherUnavailable

__all__ = ["ENV_VAR", "CallWatcher", "Report", "describe", "watcher_for"]

ENV_VAR = "PRESENCE_AGENT_CALLS"

#: ``report(device, in_use)``: ``device`` is ``"microphone"`` or ``"camera"``.
Report = Callable[[str, bool], None]


class CallWatcher(Protocol):
    """Tells when the microphone or the camera starts and stops being used.

    Thread use: ``start``/``stop`` from the thread that wires the app;
    ``report`` is called from the watcher's own threads (and once from
    ``start`` for what is in use already).
    """

    name: str

    def start(self, report: Report) -> list[Signal]:
        """Begin watching; what is watched (kind ``"call"``). Raises WatcherUnavailable."""

    def stop(self) -> None:
        """Stop watching. Idempotent."""


def watcher_for(
    platform: str | None = None, environ: Mapping[str, str] | None = None, *, probe: bool = False
) -> CallWatcher:
    """This platform's call watcher (not started). Raises :class:`WatcherUnavailable`.

    ``probe`` (``doctor``): its ``start`` waits briefly to say whether a sound server answers.
    """
    platform = sys.platform if platform is None else platform
    environ = os.environ if environ is None else environ
    if environ.get(ENV_VAR, "").strip() == "none":
        raise WatcherUnavailable(f"turned off by {ENV_VAR}=none")
    if platform == "win32":
        from presence_agent.calls._windows import WindowsCalls

        return WindowsCalls()
    if platform == "darwin":
        from presence_agent.calls._macos import MacCalls

        return MacCalls()
    from presence_agent.calls._linux import LinuxCalls

    return LinuxCalls(environ=environ, probe=probe)


#: What holds idle detection off, in English msgids: the tray and ``status`` show them
#: through the person's Translator (``tr._(held_by)``, presence_agent/tray/_model.py).
_IN_USE = {
    ("microphone",): N_("microphone in use"),
    ("camera",): N_("camera in use"),
    ("microphone", "camera"): N_("microphone and camera in use"),
}


def describe(devices: set[str]) -> str:
    """``microphone in use``, ``microphone and camera in use``: for the tray and ``status``."""
    order = tuple(device for device in ("microphone", "camera") if device in devices)
    return _IN_USE.get(order, "")
