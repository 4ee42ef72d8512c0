"""Windows: the privacy settings' own record of which app uses the microphone or camera.

Windows keeps, per app, when it last started and stopped using a capability:
``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\CapabilityAccessManager\\ConsentStore``
``\\microphone`` (and ``\\webcam``), one subkey per packaged app, and under
``NonPackaged`` one per program path, each with ``LastUsedTimeStart`` and
``LastUsedTimeStop``. An app using the device *now* has ``LastUsedTimeStop``
0. This is what the taskbar's "your microphone is being used" icon shows; no
device is opened and nothing is recorded. ``RegNotifyChangeKeyValue`` on each
tree wakes the watcher's thread when it changes: no polling.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

from presence_agent.calls import Report
from presence_agent.errortext import first_line
from presence_agent.session.base import Signal, WatcherUnavailable

log = logging.getLogger(__name__)

STORE = r"Software\Microsoft\Windows\CurrentVersion\CapabilityAccessManager\ConsentStore"
#: Registry capability name -> the device the tray names.
CAPABILITIES = {"microphone": "microphone", "webcam": "camera"}
_REG_NOTIFY_CHANGE_NAME = 0x1
_REG_NOTIFY_CHANGE_LAST_SET = 0x4
_WAIT_OBJECT_0 = 0
_INFINITE = 0xFFFFFFFF

#: ``(subkey names, {value name: value})`` of a key path under HKCU; raises OSError.
Reader = Callable[[str], tuple[list[str], dict[str, Any]]]


def in_use(capability: str, read: Reader) -> list[str]:
    """The apps using ``capability`` now (``LastUsedTimeStop == 0``), from ``read``."""
    users = []

    def visit(path: str, depth: int) -> None:
        try:
            subkeys, values = read(path)
        except OSError:
            return
        if values.get("LastUsedTimeStop") == 0 and values.get("LastUsedTimeStart", 0) != 0:
            users.append(path.rsplit("\\", 1)[-1].replace("#", "\\"))
        if depth < 2:
            for name in subkeys:
                visit(f"{path}\\{name}", depth + 1)

    visit(f"{STORE}\\{capability}", 0)
    return users


def _winreg_read(path: str) -> tuple[list[str], dict[str, Any]]:
    """:data:`Reader` over the real ``HKEY_CURRENT_USER`` (mypy checks it with --platform win32)."""
    if sys.platform == "win32":
        import winreg

        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, path) as key:
            subkeys_count, values_count, _ = winreg.QueryInfoKey(key)
            subkeys = [winreg.EnumKey(key, i) for i in range(subkeys_count)]
            values = {}
            for i in range(values_count):
                name, value, _kind = winreg.EnumValue(key, i)
                values[name] = value
            return subkeys, values
    raise OSError("the registry exists only on Windows")


class WindowsCalls:
    """Microphone and webcam use from the ConsentStore, woken by registry change events.

    Thread use: ``start``/``stop`` from the wiring thread; the ``calls-consent``
    thread waits on the change events and calls ``report``.
    """

    name = "windows"

    def __init__(self, read: Reader | None = None) -> None:
        self._read = read
        self._report: Report = lambda _device, _in_use: None
        self._state: dict[str, bool] = {}
        self._stop_event: Any = None
        self._thread: threading.Thread | None = None

    def start(self, report: Report) -> list[Signal]:
        self._read = self._read or _winreg_read
        self._report = report
        try:
            self.check()
        except OSError as exc:
            raise WatcherUnavailable(f"cannot read the ConsentStore ({first_line(exc)})") from None
        if sys.platform == "win32":  # pragma: no cover - Windows only
            import ctypes

            self._stop_event = ctypes.windll.kernel32.CreateEventW(None, True, False, None)
            self._thread = threading.Thread(target=self._run, name="calls-consent", daemon=True)
            self._thread.start()
        return [
            Signal(
                "call",
                True,
                "microphone and camera: the privacy settings' ConsentStore (change events)",
            )
        ]

    def check(self) -> None:
        """Read the store now and report what changed (any thread that owns the watcher)."""
        assert self._read is not None
        for capability, device in CAPABILITIES.items():
            users = in_use(capability, self._read)
            now = bool(users)
            if self._state.get(device, False) != now:
                self._state[device] = now
                log.info("%s %s", device, f"in use ({users[0]})" if now else "no longer in use")
                self._report(device, now)

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if sys.platform == "win32":
            import ctypes

            ctypes.windll.kernel32.SetEvent(self._stop_event)
        thread.join(3.0)

    def _run(self) -> None:  # pragma: no cover - Windows only
        if sys.platform == "win32":  # mypy checks this with --platform win32
            import ctypes
            import winreg

            advapi32 = ctypes.windll.advapi32
            kernel32 = ctypes.windll.kernel32
            with contextlib.ExitStack() as stack:
                keys = [
                    stack.enter_context(winreg.OpenKey(winreg.HKEY_CURRENT_USER, f"{STORE}\\{cap}"))
                    for cap in CAPABILITIES
                ]
                changed = kernel32.CreateEventW(None, False, False, None)
                handles = (ctypes.c_void_p * 2)(self._stop_event, changed)
                while True:
                    for key in keys:
                        advapi32.RegNotifyChangeKeyValue(
                            int(key),
                            True,
                            _REG_NOTIFY_CHANGE_NAME | _REG_NOTIFY_CHANGE_LAST_SET,
                            changed,
                            True,
                        )
                    which = kernel32.WaitForMultipleObjects(2, handles, False, _INFINITE)
                    if which == _WAIT_OBJECT_0:
                        kernel32.CloseHandle(changed)
                        return
                    try:
                        self.check()
                    except Exception:
                        log.exception("reading the ConsentStore failed")
