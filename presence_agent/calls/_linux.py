"""Linux: a recording stream on the sound server, or an open ``/dev/video*``.

Microphone: PulseAudio, or PipeWire through pipewire-pulse, over the Pulse
native protocol (presence_agent/calls/_pulse.py). The server tells
subscribers of every new, changed or gone *source output* (a recording
stream); on each such event the agent lists the streams once and counts those
that record from a real source. A stream on a
sink's *monitor* (a screen recorder taking what the speakers play, a visualiser)
is not a microphone, and neither are level meters' peak-detect streams
(pavucontrol's, the sound settings'). Nothing is recorded or read: the agent
opens no stream of its own. Between events, no wake-ups: the listener thread
sleeps in libpulse's main loop. Should the server go away (it restarts, the
session ends), the thread connects again after 5 s, doubling to 5 min.

Camera: inotify on each ``/dev/video*`` node (``IN_OPEN``/``IN_CLOSE``, for opens
by any process) and on ``/dev`` for cameras plugged in later. After each event
the agent looks at which processes hold a video device open now
(``/proc/*/fd``), so a camera probed and closed again at once is not a call.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import select
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from presence_agent.calls import Report
from presence_agent.calls._pulse import PulseClient, PulseUnavailable
from presence_agent.session.base import Signal, WatcherUnavailable

log = logging.getLogger(__name__)

CLIENT_NAME = "presence-agent"
#: ``PA_INVALID_INDEX``: a source that monitors no sink is a real source.
_NO_SINK = 0xFFFFFFFF
#: Streams that only show a level, never a call.
_METERS = re.compile(r"peak detect", re.IGNORECASE)
RETRY_FIRST = 5.0
RETRY_MAX = 300.0
_JOIN_TIMEOUT = 3.0
#: How long ``doctor``'s probe waits for the sound server's first answer.
FIRST_ANSWER = 2.0
_VIDEO = re.compile(r"video\d+\Z")


def recording(outputs: list[Any], sources: list[Any]) -> list[str]:
    """The applications recording from a real source (not a monitor, not a meter)."""
    monitors = {
        source.index
        for source in sources
        if getattr(source, "monitor_of_sink", None) not in (None, _NO_SINK)
    }
    apps = []
    for output in outputs:
        if output.source in monitors:
            continue
        props = getattr(output, "proplist", {}) or {}
        if _METERS.search(str(props.get("media.name", ""))):
            continue
        apps.append(str(props.get("application.name") or output.name or "an app"))
    return apps


class PulseMicrophone:
    """Recording streams on the Pulse server (PulseAudio or PipeWire).

    Thread use: ``start``/``stop`` from the wiring thread; the ``calls-pulse``
    thread alone talks to the server and calls ``report``.
    """

    def __init__(self, environ: Mapping[str, str], *, first_answer: float = 0.0) -> None:
        self._environ = environ
        self._first_answer = first_answer
        self._report: Report = lambda _device, _in_use: None
        self._stopping = threading.Event()
        self._in_use = False
        self._thread: threading.Thread | None = None
        self._first: queue.Queue[str] = queue.Queue()
        self._wake_r = self._wake_w = -1

    @property
    def running(self) -> bool:
        """Whether the listener thread runs (it keeps trying to reach the sound server)."""
        return self._thread is not None

    def start(self, report: Report) -> Signal:
        self._report = report
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="calls-pulse", daemon=True)
        self._thread.start()
        if not self._first_answer:
            # The running agent does not wait for the sound server: start-up is on
            # the way to the first report. What it finds goes to the log.
            where = PulseClient(self._environ).path
            return Signal(
                "call",
                True,
                f"microphone: recording streams on the Pulse server at {where}"
                " (events, once it answers)",
            )
        try:
            first = self._first.get(timeout=self._first_answer)
        except queue.Empty:
            first = "!the sound server did not answer in time"
        if first.startswith("!"):
            return Signal(
                "call",
                False,
                f"microphone: {first[1:]}; trying again from time to time",
            )
        return Signal(
            "call", True, f"microphone: recording streams on the Pulse server at {first} (events)"
        )

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        self._stopping.set()
        _wake_and_join(thread, self._wake_w)
        _close_pipe(self._wake_r, self._wake_w)
        self._wake_r = self._wake_w = -1

    def _run(self) -> None:
        delay = RETRY_FIRST
        told = False
        while not self._stopping.is_set():
            client = PulseClient(self._environ, CLIENT_NAME)
            try:
                where = client.connect()
                if not told:
                    told = True
                    self._first.put(where)
                delay = RETRY_FIRST
                while True:
                    outputs = client.source_outputs()
                    sources = client.sources({output.source for output in outputs})
                    apps = recording(list(outputs), list(sources))
                    self._set(bool(apps), apps)
                    if not client.wait(self._wake_r):
                        return  # stop() woke us
            except PulseUnavailable as exc:
                if not told:
                    told = True
                    self._first.put(f"!{exc}")
                log.info("sound server: %s", exc)
            except Exception:
                log.exception("watching the sound server failed")
            finally:
                client.close()
            self._set(False, [])
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, RETRY_MAX)

    def _set(self, in_use: bool, apps: list[str]) -> None:
        if in_use == self._in_use:
            return
        self._in_use = in_use
        if in_use:
            log.info("microphone in use (%s)", ", ".join(sorted(set(apps))[:3]))
        else:
            log.info("microphone no longer in use")
        self._report("microphone", in_use)


def holders(devices: set[str], proc: Path = Path("/proc"), me: int | None = None) -> set[int]:
    """The processes (but ``me``) that hold one of ``devices`` open, from ``/proc/*/fd``."""
    me = os.getpid() if me is None else me
    found = set()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:  # gone, or not ours to look at
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target in devices:
                found.add(int(entry.name))
                break
    return found


class Cameras:
    """Open video devices, from inotify and ``/proc``.

    ``dev`` is the device directory (``/dev``; a test gives a directory of its own).
    Thread use: ``start``/``stop`` from the wiring thread; the ``calls-camera``
    thread reads inotify and calls ``report``.
    """

    def __init__(self, dev: Path = Path("/dev"), proc: Path = Path("/proc")) -> None:
        self._dev = dev
        self._proc = proc
        self._inotify: Any = None
        self._watches: dict[int, Path] = {}
        self._report: Report = lambda _device, _in_use: None
        self._in_use = False
        self._thread: threading.Thread | None = None
        self._wake_r = self._wake_w = -1
        self._stopping = False

    def start(self, report: Report) -> Signal:
        try:
            from inotify_simple import INotify, flags
        except ImportError as exc:
            return Signal("call", False, f"camera unseen: inotify_simple missing ({exc})")
        self._report = report
        try:
            self._inotify = INotify()
            self._inotify.add_watch(str(self._dev), flags.CREATE | flags.DELETE)
        except OSError as exc:
            return Signal("call", False, f"camera unseen: cannot watch {self._dev} ({exc})")
        for path in self._devices():
            self._watch(path)
        self._check()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="calls-camera", daemon=True)
        self._thread.start()
        count = len(self._watches)
        return Signal(
            "call",
            True,
            f"camera: opens of {self._dev}/video* ({count} device{'s' if count != 1 else ''}"
            " now; inotify events)",
        )

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        self._stopping = True
        _wake_and_join(thread, self._wake_w)
        _close_pipe(self._wake_r, self._wake_w)
        self._wake_r = self._wake_w = -1
        if self._inotify is not None:
            with contextlib.suppress(OSError):
                self._inotify.close()
            self._inotify = None

    def _devices(self) -> list[Path]:
        try:
            return sorted(p for p in self._dev.iterdir() if _VIDEO.match(p.name))
        except OSError:
            return []

    def _watch(self, path: Path) -> None:
        from inotify_simple import flags

        try:
            wd = self._inotify.add_watch(
                str(path), flags.OPEN | flags.CLOSE_WRITE | flags.CLOSE_NOWRITE
            )
        except OSError as exc:
            log.info("cannot watch %s: %s", path, exc)
            return
        self._watches[wd] = path

    def _check(self) -> None:
        devices = {str(path) for path in self._watches.values()}
        users = holders(devices, self._proc) if devices else set()
        in_use = bool(users)
        if in_use != self._in_use:
            self._in_use = in_use
            log.info("camera %s", "in use" if in_use else "no longer in use")
            self._report("camera", in_use)

    def _run(self) -> None:
        from inotify_simple import flags

        fd = self._inotify.fileno()
        try:
            while not self._stopping:
                ready, _, _ = select.select([fd, self._wake_r], [], [])
                if self._wake_r in ready:  # stop() wrote it
                    return
                if fd not in ready:
                    continue
                for event in self._inotify.read(timeout=0):
                    if event.mask & flags.CREATE and _VIDEO.match(event.name or ""):
                        self._watch(self._dev / event.name)
                    elif event.mask & flags.IGNORED:
                        self._watches.pop(event.wd, None)  # the device went away
                self._check()
        except Exception:
            log.exception("the camera watch failed")


def _wake_and_join(thread: threading.Thread | None, wake_w: int) -> None:
    """Wake a watcher thread sleeping in ``select`` on its pipe, and wait for it (bounded)."""
    if thread is None:
        return
    with contextlib.suppress(OSError):
        os.write(wake_w, b"!")
    thread.join(_JOIN_TIMEOUT)


def _close_pipe(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


class LinuxCalls:
    """The microphone (Pulse protocol) and the cameras (``/dev/video*``)."""

    name = "linux"

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        dev: Path = Path("/dev"),
        proc: Path = Path("/proc"),
        probe: bool = False,
    ) -> None:
        self._microphone = PulseMicrophone(
            os.environ if environ is None else environ, first_answer=FIRST_ANSWER if probe else 0.0
        )
        self._cameras = Cameras(dev, proc)

    def start(self, report: Report) -> list[Signal]:
        signals = [self._microphone.start(report), self._cameras.start(report)]
        if not any(signal.available for signal in signals) and not self._microphone.running:
            raise WatcherUnavailable("; ".join(signal.text for signal in signals))
        return signals

    def stop(self) -> None:
        self._microphone.stop()
        self._cameras.stop()


__all__ = ["Cameras", "LinuxCalls", "PulseMicrophone", "holders", "recording"]
