"""Faults of the person's environment rather than of the server: no keyring on the session bus,
a keyring that is locked or has no collection, a suspend the engine learns of late; and the
secrets scan that guards every suite (tests/secret_scan.py), checked against itself.

The keyring cases use real parts: a private dbus-daemon with nothing on it, or a real
gnome-keyring-daemon whose collection is locked over D-Bus (or never created). Each asserts
one clear line, that nothing was stored, a bound on time (no prompt may hang the agent) and
on requests, and that `run` keeps running, says it is signed out and how to fix it.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import agent_process, secret_scan
from tests.agent_process import AgentProcess, login, run_cli
from tests.desktop import (
    _Daemon,
    make_desktop_env,
    name_has_owner,
    private_dirs,
    require_tools,
    running_secret_service,
    running_session_bus,
    wait_until,
)
from tests.libredesk_server import LibredeskServer
from tests.secret_scan import register_secret

KEY = "env-fault-key"
SECRET = register_secret("Env:fault-sëcret-Qx7", api_key=KEY)
FIX_WORDS = ("gnome-keyring", "KWallet")
#: Longer than any of these commands takes; a keyring prompt that waited would blow it.
BOUND = 10.0


def config_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) / "presence-agent" / "config.toml"


def configure_by_hand(env: dict[str, str], server: LibredeskServer) -> bytes:
    """A config as `login` would have left it, written directly (no keyring is usable)."""
    path = config_file(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = f'server = "{server.url}"\napi_key = "{KEY}"\n'.encode()
    path.write_bytes(text)
    return text


def one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def timed(fn: Callable[[], subprocess.CompletedProcess[str]]) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    result = fn()
    assert time.monotonic() - started < BOUND, "waited on the keyring (a prompt?)"
    return result


def check_broken_keyring(env: dict[str, str], *words: str) -> None:
    """The whole story of a person without a usable keyring, against a fresh server."""
    with LibredeskServer(dialect="documented", api_key=KEY, api_secret=SECRET) as server:
        # login: one line saying how to fix it, nothing stored anywhere.
        result = timed(lambda: login(env, server.url, KEY, SECRET))
        one_clear_line(result, *FIX_WORDS, *words)
        assert not config_file(env).exists()
        assert len(server.requests()) <= 2, "checking the credentials, at most"
        asked = len(server.requests())

        # With a config (from an earlier login, say): status fails the same way.
        config = configure_by_hand(env, server)
        one_clear_line(timed(lambda: run_cli(["status"], env, timeout=30)), *FIX_WORDS)
        one_clear_line(timed(lambda: run_cli(["set", "away"], env, timeout=30)), *FIX_WORDS)

        # run keeps running, signed out, says how to fix it, and leaves the server alone.
        with AgentProcess(["run", "--no-tray"], env) as agent:
            deadline = time.monotonic() + BOUND
            while "Signed out" not in agent.output():
                assert agent.proc.poll() is None, agent.output()
                assert time.monotonic() < deadline, agent.output()
                time.sleep(0.05)
            line = next(x for x in agent.output().splitlines() if "Signed out" in x)
            for word in FIX_WORDS:
                assert word in line, line
            time.sleep(2)  # long enough to see a retry loop, if there were one
            assert agent.proc.poll() is None, agent.output()
            status = run_cli(["status"], env, timeout=30)
            assert status.returncode == 1
            started = time.monotonic()
            assert agent.terminate() == 0, agent.output()
            assert time.monotonic() - started < 5, "quit must not wait on the keyring"
        assert "Traceback" not in agent.output()
        assert len(server.requests()) == asked, "without a secret there is nothing to send"
        assert server.status == "offline"
        assert config_file(env).read_bytes() == config


# -- no Secret Service at all -------------------------------------------------------------------


@pytest.fixture
def bare_bus(tmp_path: Path) -> Iterator[str]:
    """A session bus of its own with nothing on it: no gnome-keyring, no KWallet."""
    bus_dir = tmp_path / "bare-bus"
    bus_dir.mkdir()
    with running_session_bus(bus_dir) as address:
        yield address


@pytest.mark.desktop
def test_no_keyring_on_the_bus(xvfb: str, bare_bus: str, tmp_path: Path) -> None:
    env = make_desktop_env(xvfb, bare_bus, tmp_path / "desktop")
    assert not name_has_owner(bare_bus, "org.freedesktop.secrets")
    check_broken_keyring(env, "no usable OS keyring")


# -- a keyring that is there but locked, or has no collection -------------------------------------


def _bus_call(address: str, *args: str) -> str:
    result = subprocess.run(
        ["dbus-send", f"--bus={address}", "--print-reply", *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return result.stdout


LOGIN_COLLECTION = "/org/freedesktop/secrets/collection/login"


@pytest.fixture
def locked_keyring(tmp_path: Path) -> Iterator[str]:
    """gnome-keyring with its login collection locked over D-Bus; yields the bus address.

    Unlocking would need a prompt, and no prompter exists on this private bus: exactly a
    locked keyring with nobody there to type its password.
    """
    bus_dir, keyring_dir = tmp_path / "bus", tmp_path / "keyring"
    bus_dir.mkdir()
    keyring_dir.mkdir()
    with (
        running_session_bus(bus_dir) as address,
        running_secret_service(address, keyring_dir),
    ):
        _bus_call(
            address,
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            f"array:objpath:{LOGIN_COLLECTION}",
        )
        locked = _bus_call(
            address,
            "--dest=org.freedesktop.secrets",
            LOGIN_COLLECTION,
            "org.freedesktop.DBus.Properties.Get",
            "string:org.freedesktop.Secret.Collection",
            "string:Locked",
        )
        assert "boolean true" in locked, locked
        yield address


@pytest.fixture
def keyring_without_collection(tmp_path: Path) -> Iterator[str]:
    """gnome-keyring started without --unlock on a fresh profile: it has no collection, and
    creating one needs a prompt that cannot be shown."""
    require_tools("gnome-keyring-daemon")
    bus_dir, keyring_dir = tmp_path / "bus", tmp_path / "keyring"
    bus_dir.mkdir()
    keyring_dir.mkdir()
    with running_session_bus(bus_dir) as address:
        env = dict(os.environ)
        for name in ("DISPLAY", "WAYLAND_DISPLAY", "GNOME_KEYRING_CONTROL", "SSH_AUTH_SOCK"):
            env.pop(name, None)
        env.update(private_dirs(keyring_dir))
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        daemon = _Daemon(
            ["gnome-keyring-daemon", "--foreground", "--components=secrets"],
            keyring_dir / "gnome-keyring.log",
            env=env,
        )
        try:

            def owned() -> bool:
                daemon.check_alive()
                return name_has_owner(address, "org.freedesktop.secrets")

            wait_until(owned, what="gnome-keyring-daemon to own org.freedesktop.secrets")
            yield address
        finally:
            daemon.stop()


@pytest.mark.desktop
@pytest.mark.parametrize("kind", ["locked", "without a collection"])
def test_a_keyring_that_cannot_be_opened(
    xvfb: str, tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    fixture = "locked_keyring" if kind == "locked" else "keyring_without_collection"
    address: str = request.getfixturevalue(fixture)
    env = make_desktop_env(xvfb, address, tmp_path / "desktop")
    check_broken_keyring(env, "is it unlocked?")


# -- the secrets scan itself ----------------------------------------------------------------


def test_the_secret_scan_finds_every_form_and_never_hangs(tmp_path: Path) -> None:
    planted = "Pl4nted:sëcret-Жz"  # not registered: the session scan does not look for it
    key = "planted-key"
    secrets = {planted: {key}}
    root = tmp_path / "scan"
    root.mkdir()
    for name, data in secret_scan.forms(planted, [key]):
        (root / f"{name}.bin").write_bytes(b"\x00junk\xff" + data + b"\x00")
    # A leak split across the scanner's chunk boundary is still found.
    edge = secret_scan._CHUNK - 5
    (root / "edge.bin").write_bytes(b"a" * edge + planted.encode() + b"b")
    # Things it must not read: a FIFO, a link to an endless device, a link out of the tree.
    os.mkfifo(root / "fifo")
    (root / "zero").symlink_to("/dev/zero")
    (root / "outside").symlink_to(tmp_path)
    (root / "clean.txt").write_text("nothing to see")

    started = time.monotonic()
    findings = secret_scan.scan_tree(root, secrets)
    assert time.monotonic() - started < 10
    found = {Path(f.where).name for f in findings}
    expected = {f"{name}.bin" for name, _ in secret_scan.forms(planted, [key])} | {"edge.bin"}
    assert found == expected
    forms = {name for name, _ in secret_scan.forms(planted, [key])}
    assert {"UTF-8", "UTF-16-LE", "base64(key:secret)", "JSON escape"} <= forms
    assert base64.b64encode(f"{key}:{planted}".encode()).rstrip(b"=") in {
        data for _, data in secret_scan.forms(planted, [key])
    }
    assert json.dumps(planted)[1:-1].encode() in {d for _, d in secret_scan.forms(planted)}
    assert all(planted not in str(f) for f in findings), "a report must not repeat the secret"

    texts = [("agent", f"token {key}:{planted}"), ("quiet", "all good")]
    assert [f.where for f in secret_scan.scan_texts(texts, secrets)] == ["agent"]
    for path in root.iterdir():  # leave nothing behind that looks like a leak
        path.unlink()


def test_the_scan_records_the_real_agents_output() -> None:
    # conftest installs the recorder before any suite imports these helpers.
    assert getattr(agent_process.run_cli, "_secret_scan", False)
    assert run_cli is agent_process.run_cli
    # Registered secrets, and the constants of the other suites, paired with their keys.
    secrets = secret_scan.all_secrets()
    assert secrets[SECRET] == {KEY}
    assert secrets[agent_process.SECRET] >= {agent_process.KEY}
