"""macOS: the HID system's idle time, ``CGEventSourceSecondsSinceLastEventType``.

Asked for ``kCGAnyInputEventType`` in ``kCGEventSourceStateHIDSystemState``,
CoreGraphics answers with the seconds since the last keyboard, mouse or
trackpad event of the whole login session. Unlike pynput's event tap it needs
no Input Monitoring permission and sees no keys.

Importable everywhere: CoreGraphics is loaded through ctypes only by
:class:`CoreGraphics`, which the source builds in ``open``.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from presence_agent.idle._native import NativeSource
from presence_agent.idle.base import IdleSourceError

#: ``kCGEventSourceStateHIDSystemState``: the state of the hardware, not of one app.
HID_SYSTEM_STATE = 1
#: ``kCGAnyInputEventType`` (``~0`` as a 32-bit ``CGEventType``).
ANY_INPUT_EVENT = 0xFFFFFFFF

_FRAMEWORKS = (
    "/System/Library/Frameworks/CoreGraphics.framework/CoreGraphics",
    # Before macOS 10.8 CoreGraphics lived inside ApplicationServices.
    "/System/Library/Frameworks/ApplicationServices.framework/ApplicationServices",
)


class QuartzApi(Protocol):
    """The one CoreGraphics call, so tests can pass a fake."""

    def seconds_since_last_event(self, state: int, event_type: int) -> float: ...


class CoreGraphics:
    """The real call, through ctypes. Built only on macOS."""

    def __init__(self) -> None:
        import ctypes

        library: Any = None
        errors = []
        for path in _FRAMEWORKS:
            try:
                library = ctypes.CDLL(path)
                break
            except OSError as exc:
                errors.append(str(exc))
        if library is None:
            raise IdleSourceError(f"cannot load CoreGraphics ({'; '.join(errors)[:200]})")
        function = library.CGEventSourceSecondsSinceLastEventType
        function.argtypes = (ctypes.c_int32, ctypes.c_uint32)
        function.restype = ctypes.c_double
        self._function = function

    def seconds_since_last_event(self, state: int, event_type: int) -> float:
        return float(self._function(state, event_type))


class HidIdleCounter:
    """Idle time from the HID system state."""

    what = "HID idle time"

    def __init__(self, api: QuartzApi | None = None) -> None:
        self._api = api

    def open(self) -> None:
        if self._api is None:
            self._api = CoreGraphics()

    def read(self) -> float:
        if self._api is None:
            raise IdleSourceError("CoreGraphics is not loaded")
        seconds = self._api.seconds_since_last_event(HID_SYSTEM_STATE, ANY_INPUT_EVENT)
        if math.isnan(seconds):  # CoreGraphics gave no answer
            raise IdleSourceError("CoreGraphics returned no idle time")
        return seconds

    def close(self) -> None:
        return None


def source(api: QuartzApi | None = None) -> NativeSource:
    return NativeSource("macos", HidIdleCounter(api))
