"""Windows: session lock (WTS) and power broadcasts, through one hidden window.

``WTSRegisterSessionNotification`` sends ``WM_WTSSESSION_CHANGE`` with
``WTS_SESSION_LOCK``/``UNLOCK``; the system broadcasts ``WM_POWERBROADCAST``
with ``PBT_APMSUSPEND`` before sleep (about 2 s to finish) and
``PBT_APMRESUMEAUTOMATIC`` on every wake. The window is a hidden *top-level*
one, not a message-only window: broadcasts never reach message-only windows.
It lives on a thread of its own with its own message loop, so the tray's
thread is never involved.

Idle inhibitors (``SetThreadExecutionState`` power requests) cannot be read
without administrator rights, so none are reported here.

Importable everywhere: ``ctypes.windll`` is touched only in
:class:`Win32Window.run`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from presence_agent.session.base import SessionEvents, Signal, WatcherUnavailable

log = logging.getLogger(__name__)

WM_QUIT = 0x0012
WM_POWERBROADCAST = 0x0218
WM_WTSSESSION_CHANGE = 0x02B1
WTS_SESSION_LOCK = 0x7
WTS_SESSION_UNLOCK = 0x8
PBT_APMSUSPEND = 0x4
PBT_APMRESUMEAUTOMATIC = 0x12
NOTIFY_FOR_THIS_SESSION = 0
_READY_TIMEOUT = 5.0

#: ``handler(message, wparam, lparam)`` on the window's thread.
Handler = Callable[[int, int, int], None]


class MessageWindow(Protocol):
    """A window that receives session and power messages. Tests pass a fake."""

    def run(self, handler: Handler, ready: Callable[[str | None], None]) -> None:
        """Create the window, call ``ready(None)`` (or ``ready(error)`` and return), then
        pump messages into ``handler`` until :meth:`quit`. Blocks its thread."""

    def quit(self) -> None:
        """End :meth:`run` (from any thread)."""


class WindowsWatcher:
    """Lock and sleep from the hidden window's messages.

    Thread use: ``start``/``stop`` from the wiring thread; the window thread
    runs the message loop and calls :class:`SessionEvents`.
    """

    name = "windows"

    def __init__(self, window: MessageWindow | None = None) -> None:
        self._window = window
        self._events: SessionEvents | None = None
        self._thread: threading.Thread | None = None

    def start(self, events: SessionEvents) -> list[Signal]:
        self._events = events
        window = self._window if self._window is not None else Win32Window()
        self._window = window
        ready = threading.Event()
        problem: list[str | None] = []

        def on_ready(error: str | None) -> None:
            problem.append(error)
            ready.set()

        def run() -> None:
            try:
                window.run(self.on_message, on_ready)
            except Exception as exc:
                log.exception("the session window failed")
                on_ready(f"{type(exc).__name__}: {exc}")

        self._thread = threading.Thread(target=run, name="session-window", daemon=True)
        self._thread.start()
        if not ready.wait(_READY_TIMEOUT):
            raise WatcherUnavailable("the session window did not start")
        if problem[0] is not None:
            raise WatcherUnavailable(problem[0])
        return [
            Signal("lock", True, "WTS session lock notifications"),
            Signal("suspend", True, "power broadcasts (PBT_APMSUSPEND, PBT_APMRESUMEAUTOMATIC)"),
            Signal("inhibit", False, "Windows power requests are not readable without admin"),
        ]

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None or self._window is None:
            return
        self._window.quit()
        thread.join(_READY_TIMEOUT)

    def on_message(self, message: int, wparam: int, lparam: int) -> None:
        """Window thread: one message, already known to be one of ours."""
        events = self._events
        if events is None:
            return
        if message == WM_WTSSESSION_CHANGE:
            if wparam == WTS_SESSION_LOCK:
                events.locked(True)
            elif wparam == WTS_SESSION_UNLOCK:
                events.locked(False)
        elif message == WM_POWERBROADCAST:
            if wparam == PBT_APMSUSPEND:
                # Windows gives about 2 s for this message; returning lets it sleep.
                events.sleeping()
            elif wparam == PBT_APMRESUMEAUTOMATIC:
                # Sent on every wake, with or without a person (RESUMESUSPEND is not).
                events.woke()


class Win32Window:
    """The real hidden window, through ctypes."""

    def __init__(self) -> None:
        self._thread_id = 0
        self._keep: list[Any] = []  # the WNDPROC callback must outlive the window

    def run(self, handler: Handler, ready: Callable[[str | None], None]) -> None:
        import ctypes
        from ctypes import wintypes

        windll: Any = getattr(ctypes, "windll", None)
        if windll is None:
            ready("the session window exists only on Windows")
            return
        user32, kernel32, wtsapi32 = windll.user32, windll.kernel32, windll.wtsapi32
        lresult = ctypes.c_ssize_t
        wndproc_type = ctypes.WINFUNCTYPE(  # type: ignore[attr-defined,unused-ignore]
            lresult, wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM
        )
        user32.DefWindowProcW.argtypes = (
            wintypes.HWND,
            wintypes.UINT,
            wintypes.WPARAM,
            wintypes.LPARAM,
        )
        user32.DefWindowProcW.restype = lresult

        def procedure(hwnd: Any, message: int, wparam: int, lparam: int) -> int:
            if message in (WM_WTSSESSION_CHANGE, WM_POWERBROADCAST):
                try:
                    handler(message, int(wparam or 0), int(lparam or 0))
                except Exception:
                    log.exception("handling a session message failed")
                return 1 if message == WM_POWERBROADCAST else 0
            return int(user32.DefWindowProcW(hwnd, message, wparam, lparam))

        callback = wndproc_type(procedure)
        self._keep.append(callback)

        class WndClass(ctypes.Structure):
            _fields_ = (
                ("style", wintypes.UINT),
                ("lpfnWndProc", wndproc_type),
                ("cbClsExtra", ctypes.c_int),
                ("cbWndExtra", ctypes.c_int),
                ("hInstance", wintypes.HINSTANCE),
                ("hIcon", wintypes.HICON),
                ("hCursor", wintypes.HANDLE),
                ("hbrBackground", wintypes.HBRUSH),
                ("lpszMenuName", wintypes.LPCWSTR),
                ("lpszClassName", wintypes.LPCWSTR),
            )

        instance = kernel32.GetModuleHandleW(None)
        class_name = f"presence-agent-session-{id(self)}"
        window_class = WndClass()
        window_class.lpfnWndProc = callback
        window_class.hInstance = instance
        window_class.lpszClassName = class_name
        if not user32.RegisterClassW(ctypes.byref(window_class)):
            ready(f"RegisterClassW failed ({kernel32.GetLastError()})")
            return
        user32.CreateWindowExW.restype = wintypes.HWND
        hwnd = user32.CreateWindowExW(
            0, class_name, "presence-agent", 0, 0, 0, 0, 0, None, None, instance, None
        )
        if not hwnd:
            ready(f"CreateWindowExW failed ({kernel32.GetLastError()})")
            user32.UnregisterClassW(class_name, instance)
            return
        registered = bool(wtsapi32.WTSRegisterSessionNotification(hwnd, NOTIFY_FOR_THIS_SESSION))
        if not registered:
            log.info("WTSRegisterSessionNotification failed: screen lock unseen")
        self._thread_id = int(kernel32.GetCurrentThreadId())
        ready(None)
        message = wintypes.MSG()
        try:
            while user32.GetMessageW(ctypes.byref(message), None, 0, 0) > 0:
                user32.TranslateMessage(ctypes.byref(message))
                user32.DispatchMessageW(ctypes.byref(message))
        finally:
            if registered:
                wtsapi32.WTSUnRegisterSessionNotification(hwnd)
            user32.DestroyWindow(hwnd)
            user32.UnregisterClassW(class_name, instance)

    def quit(self) -> None:
        if not self._thread_id:
            return
        import ctypes

        windll: Any = getattr(ctypes, "windll", None)
        if windll is not None:
            windll.user32.PostThreadMessageW(self._thread_id, WM_QUIT, 0, 0)
