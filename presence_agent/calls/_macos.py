"""macOS: whether any process records from the default input device, from CoreAudio.

``kAudioDevicePropertyDeviceIsRunningSomewhere`` of the default input device
is true while any app has an input stream on it running (the orange dot in
the menu bar); a property listener on it, and on the default input device
itself, calls back on changes: no polling, nothing recorded. The camera has
no such public property; it is not watched on macOS.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from typing import Any

from presence_agent.calls import Report
from presence_agent.session.base import Signal, WatcherUnavailable

log = logging.getLogger(__name__)


def _fourcc(code: str) -> int:
    return int.from_bytes(code.encode("ascii"), "big")


_SYSTEM_OBJECT = 1  # kAudioObjectSystemObject
_DEFAULT_INPUT = _fourcc("dIn ")  # kAudioHardwarePropertyDefaultInputDevice
_RUNNING_SOMEWHERE = _fourcc("gone")  # kAudioDevicePropertyDeviceIsRunningSomewhere
_SCOPE_GLOBAL = _fourcc("glob")
_ELEMENT_MAIN = 0


class _Address(ctypes.Structure):
    _fields_ = (
        ("selector", ctypes.c_uint32),
        ("scope", ctypes.c_uint32),
        ("element", ctypes.c_uint32),
    )


_LISTENER = ctypes.CFUNCTYPE(
    ctypes.c_int32, ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(_Address), ctypes.c_void_p
)


class MacCalls:
    """The default input device's "running somewhere", with CoreAudio listeners.

    Thread use: ``start``/``stop`` from the wiring thread; CoreAudio calls the
    listener on a thread of its own, which calls ``report``.
    """

    name = "macos"

    def __init__(self) -> None:
        self._audio: Any = None
        self._report: Report = lambda _device, _in_use: None
        self._lock = threading.Lock()
        self._device = 0
        self._in_use = False
        # The thunk must live as long as CoreAudio may call it.
        self._listener = _LISTENER(self._changed)

    def start(self, report: Report) -> list[Signal]:  # pragma: no cover - macOS only
        path = ctypes.util.find_library("CoreAudio")
        if path is None:
            raise WatcherUnavailable("no CoreAudio here")
        audio = ctypes.CDLL(path)
        audio.AudioObjectGetPropertyData.argtypes = [
            ctypes.c_uint32,
            ctypes.POINTER(_Address),
            ctypes.c_uint32,
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_uint32),
            ctypes.c_void_p,
        ]
        audio.AudioObjectAddPropertyListener.argtypes = [
            ctypes.c_uint32,
            ctypes.POINTER(_Address),
            _LISTENER,
            ctypes.c_void_p,
        ]
        audio.AudioObjectRemovePropertyListener.argtypes = (
            audio.AudioObjectAddPropertyListener.argtypes
        )
        self._audio = audio
        self._report = report
        default = _Address(_DEFAULT_INPUT, _SCOPE_GLOBAL, _ELEMENT_MAIN)
        audio.AudioObjectAddPropertyListener(
            _SYSTEM_OBJECT, ctypes.byref(default), self._listener, None
        )
        self._follow_default()
        return [Signal("call", True, "microphone: CoreAudio's device running somewhere (events)")]

    def stop(self) -> None:  # pragma: no cover - macOS only
        audio, self._audio = self._audio, None
        if audio is None:
            return
        default = _Address(_DEFAULT_INPUT, _SCOPE_GLOBAL, _ELEMENT_MAIN)
        audio.AudioObjectRemovePropertyListener(
            _SYSTEM_OBJECT, ctypes.byref(default), self._listener, None
        )
        with self._lock:
            device, self._device = self._device, 0
        if device:
            running = _Address(_RUNNING_SOMEWHERE, _SCOPE_GLOBAL, _ELEMENT_MAIN)
            audio.AudioObjectRemovePropertyListener(
                device, ctypes.byref(running), self._listener, None
            )

    def _read_u32(self, obj: int, selector: int) -> int:  # pragma: no cover - macOS only
        address = _Address(selector, _SCOPE_GLOBAL, _ELEMENT_MAIN)
        value = ctypes.c_uint32(0)
        size = ctypes.c_uint32(ctypes.sizeof(value))
        status = self._audio.AudioObjectGetPropertyData(
            obj, ctypes.byref(address), 0, None, ctypes.byref(size), ctypes.byref(value)
        )
        return int(value.value) if status == 0 else 0

    def _follow_default(self) -> None:  # pragma: no cover - macOS only
        device = self._read_u32(_SYSTEM_OBJECT, _DEFAULT_INPUT)
        running = _Address(_RUNNING_SOMEWHERE, _SCOPE_GLOBAL, _ELEMENT_MAIN)
        with self._lock:
            old, self._device = self._device, device
        if old and old != device:
            self._audio.AudioObjectRemovePropertyListener(
                old, ctypes.byref(running), self._listener, None
            )
        if device and device != old:
            self._audio.AudioObjectAddPropertyListener(
                device, ctypes.byref(running), self._listener, None
            )
        self._check()

    def _check(self) -> None:  # pragma: no cover - macOS only
        with self._lock:
            device = self._device
        now = bool(device) and bool(self._read_u32(device, _RUNNING_SOMEWHERE))
        if now != self._in_use:
            self._in_use = now
            log.info("microphone %s", "in use" if now else "no longer in use")
            self._report("microphone", now)

    def _changed(self, obj: int, _count: int, _addresses: Any, _data: Any) -> int:
        # CoreAudio's thread. Never let an exception cross back into C.
        try:
            if obj == _SYSTEM_OBJECT:
                self._follow_default()
            else:
                self._check()
        except Exception:  # pragma: no cover - macOS only
            log.exception("reading CoreAudio failed")
        return 0
