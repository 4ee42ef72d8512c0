"""In a call: a real PulseAudio with a real recording stream, and real opens of a device node.

The sound server is ``pulseaudio -n`` with a null source (``fakemic``) and a null sink;
``parecord`` is the call. A recording of the sink's monitor is not a microphone.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from presence_agent.calls._linux import Cameras, PulseMicrophone
from tests.desktop import SoundServer, private_dirs, running_pulseaudio, wait_until

pytestmark = pytest.mark.desktop


class Heard:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[str, bool]] = []

    def __call__(self, device: str, in_use: bool) -> None:
        with self.lock:
            self.events.append((device, in_use))

    def last(self, device: str) -> bool | None:
        with self.lock:
            mine = [in_use for name, in_use in self.events if name == device]
        return mine[-1] if mine else None


@pytest.fixture
def sound(tmp_path: Path) -> Iterator[SoundServer]:
    import os

    env = {**os.environ, **private_dirs(tmp_path / "dirs")}
    with running_pulseaudio(env, tmp_path) as server:
        yield server


def test_a_recording_stream_is_a_call_and_a_monitor_is_not(
    sound: SoundServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("XDG_RUNTIME_DIR", "HOME"):
        monkeypatch.setenv(name, sound.env[name])
    heard = Heard()
    microphone = PulseMicrophone(sound.env)
    signal = microphone.start(heard)
    try:
        assert signal.available, signal.text
        assert "recording streams on the Pulse server at" in signal.text
        with sound.recording("speakers.monitor"):
            wait_until(lambda: sound.source_outputs() == 1, what="the monitor recording")
            time.sleep(0.3)  # let an event, if one were wrongly counted, arrive
            assert heard.last("microphone") is None
        with sound.recording("fakemic"):
            wait_until(lambda: heard.last("microphone") is True, timeout=10, what="the call")
        wait_until(lambda: heard.last("microphone") is False, timeout=10, what="the hang-up")
    finally:
        microphone.stop()
    assert not [t for t in threading.enumerate() if t.name == "calls-pulse"]


@contextlib.contextmanager
def holding_open(path: Path) -> Iterator[None]:
    """Another process holds ``path`` open, as a video call holds the camera, while inside."""
    holder = subprocess.Popen(
        [sys.executable, "-c", f"f = open({str(path)!r}, 'rb'); input()"], stdin=subprocess.PIPE
    )
    try:
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)


def test_an_open_camera_is_a_call(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    dev.mkdir()
    camera = dev / "video0"
    camera.write_bytes(b"")
    heard = Heard()
    cameras = Cameras(dev)
    signal = cameras.start(heard)
    try:
        assert signal.available, signal.text
        assert "1 device" in signal.text
        with holding_open(camera):
            wait_until(lambda: heard.last("camera") is True, timeout=10, what="the camera open")
        wait_until(lambda: heard.last("camera") is False, timeout=10, what="the camera closed")
        # A camera plugged in later is watched too.
        (dev / "video1").write_bytes(b"")
        with holding_open(dev / "video1"):
            wait_until(lambda: heard.last("camera") is True, timeout=10, what="the new camera")
    finally:
        cameras.stop()


def test_the_agent_stays_available_through_a_call(env: dict[str, str], tmp_path: Path) -> None:
    from tests.agent_process import AgentProcess, login, run_cli
    from tests.desktop import Input
    from tests.libredesk_server import LibredeskServer

    with (
        LibredeskServer(dialect="libredesk", api_key="k", api_secret="call-secret-3") as server,
        running_pulseaudio(env, tmp_path) as sound,
    ):
        assert login(env, server.url, "k", "call-secret-3").returncode == 0
        Input(env["DISPLAY"]).touch()
        with AgentProcess(["run", "--no-tray", "--away-after", "2"], env) as agent:
            with sound.recording("fakemic"):
                assert server.wait_for_put("online", "user", timeout=10), agent.output()
                # Twice the threshold with no input, but the microphone is open: no away.
                assert not server.wait_for_put("away", timeout=4.5), agent.output()
                status = run_cli(["status"], env)
                assert status.returncode == 0, status.stderr
                assert "in a call (microphone in use)" in status.stdout, status.stdout
            # The call ended (parecord stopped): away after the threshold.
            assert server.wait_for_put("away", "idle", timeout=6), agent.output()
            assert agent.terminate() == 0
        doctor = run_cli(["doctor"], env).stdout
        assert "recording streams on the Pulse server" in doctor, doctor
