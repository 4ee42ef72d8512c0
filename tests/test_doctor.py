"""``presence-agent doctor``: each check with fakes, then the real command on the test desktop."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from presence_agent import __version__, doctor
from presence_agent.doctor import Context, Line
from presence_agent.idle import Choice, IdleSourceError
from presence_agent.paths import Paths
from presence_agent.session.base import Signal
from tests.agent_process import login, run_cli
from tests.desktop import SecretServiceInfo
from tests.libredesk_server import LibredeskServer


class FakeSource:
    def __init__(self, name: str, what: str | None = None, hooks=(), start_error=None) -> None:
        self.name = name
        if what:
            self.what = what
        self._hooks = tuple(hooks)
        self._start_error = start_error
        self.started = self.stopped = 0

    def probe(self) -> None:
        return None

    def start(self, on_activity: Callable[[], None]) -> None:
        if self._start_error:
            raise IdleSourceError(self._start_error)
        self.started += 1

    def stop(self) -> None:
        self.stopped += 1

    def idle_seconds(self) -> float:
        return 0.0

    def arm(self) -> None:
        return None

    def disarm(self) -> None:
        return None

    def hooks(self) -> tuple[str, ...]:
        return self._hooks if self.started > self.stopped else ()


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(
        config_dir=tmp_path / "config",
        state_dir=tmp_path / "state",
        log_dir=tmp_path / "log",
        runtime_dir=tmp_path / "run",
    )


def context(paths: Paths, **kwargs) -> Context:
    kwargs.setdefault("environ", {"DISPLAY": ":5", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"})
    kwargs.setdefault("platform", "linux")
    return Context(paths, **kwargs)


def test_the_chosen_native_source_and_what_was_not_needed(paths: Paths) -> None:
    source = FakeSource("x11", what="XScreenSaver idle time")
    choice = Choice(source, "first choice for this X11 session", (), ("mutter", "pynput"))
    lines = doctor.check_idle(context(paths, choose_idle=lambda _p: choice))
    assert lines == [
        Line(
            "idle source",
            True,
            "x11 - XScreenSaver idle time, no input hook (polls every 50 ms only while away)"
            " (first choice for this X11 session); not needed: mutter, pynput",
        )
    ]
    assert (source.started, source.stopped) == (1, 1)


def test_skipped_sources_say_why(paths: Paths) -> None:
    source = FakeSource("pynput", hooks=("pynput mouse listener", "pynput keyboard listener"))
    skipped = (
        ("mutter", "org.gnome.Mutter.IdleMonitor is not on the session bus"),
        ("freedesktop", "org.freedesktop.ScreenSaver answered NotSupported"),
    )
    choice = Choice(source, "best that works in this Wayland session", skipped)
    [line] = doctor.check_idle(context(paths, choose_idle=lambda _p: choice))
    assert line.ok
    assert line.text == (
        "pynput - pynput mouse listener, pynput keyboard listener (best that works in this"
        " Wayland session); skipped mutter: org.gnome.Mutter.IdleMonitor is not on the session"
        " bus; freedesktop: org.freedesktop.ScreenSaver answered NotSupported"
    )


def test_pynput_without_permission_on_macos_says_where_to_allow_it(paths: Paths) -> None:
    source = FakeSource("pynput", start_error="the input listener failed to start")
    choice = Choice(source, "best that works in this macOS", (("macos", "no CoreGraphics"),))
    [line] = doctor.check_idle(context(paths, platform="darwin", choose_idle=lambda _p: choice))
    assert not line.ok
    assert line.needed
    assert line.text == (
        "pynput: the input listener failed to start; skipped macos: no CoreGraphics"
    )
    assert line.fix == doctor.INPUT_MONITORING_FIX


def test_no_source_at_all_on_wayland(paths: Paths) -> None:
    def fail(_preference: str) -> Choice:
        raise IdleSourceError("no idle source works here (mutter: ...; pynput: ...)")

    environ = {"WAYLAND_DISPLAY": "wayland-0"}
    [line] = doctor.check_idle(context(paths, environ=environ, choose_idle=fail))
    assert not line.ok
    assert "GNOME (Mutter's IdleMonitor) and KDE" in line.fix


def test_a_forced_source_that_fails_points_at_the_override(paths: Paths) -> None:
    def fail(_preference: str) -> Choice:
        raise IdleSourceError("idle source 'x11' (from PRESENCE_AGENT_IDLE_SOURCE=x11): no X")

    [line] = doctor.check_idle(context(paths, choose_idle=fail))
    assert line.fix == 'unset PRESENCE_AGENT_IDLE_SOURCE, or set idle_source = "auto" in the config'


def test_session_signals_one_line_each_and_never_needed(paths: Paths) -> None:
    signals = [
        Signal("lock", True, "ActiveChanged of org.freedesktop.ScreenSaver"),
        Signal("suspend", False, "no D-Bus system bus: no PrepareForSleep"),
        Signal("lock", False, "no D-Bus system bus: no logind Lock/Unlock"),
        Signal("inhibit", True, "GNOME session manager"),
        Signal("call", True, "microphone: recording streams on the Pulse server at /run/x"),
        Signal("call", False, "camera unseen: cannot watch /dev"),
    ]
    lines = doctor.check_session(context(paths, probe_session=lambda: signals))
    assert [(line.part, line.ok, line.needed) for line in lines] == [
        ("screen lock", True, False),
        ("sleep", False, False),
        ("idle inhibitors", True, False),
        ("calls", True, False),
    ]
    assert lines[3].text == "microphone: recording streams on the Pulse server at /run/x"
    assert lines[0].text == "ActiveChanged of org.freedesktop.ScreenSaver"
    assert lines[1].text == (
        "no D-Bus system bus: no PrepareForSleep - a sleep is seen from the clock jump on wake"
        " (no away before it)"
    )


def test_a_failing_probe_is_reported_not_raised(paths: Paths) -> None:
    def boom() -> list[Signal]:
        raise RuntimeError("bus exploded")

    lines = doctor.check_session(context(paths, probe_session=boom))
    assert all(not line.ok and not line.needed for line in lines)
    assert "bus exploded" in lines[0].text
    assert "RuntimeError" not in lines[0].text  # words for a person, no class names


def test_an_unknown_idle_source_in_the_config_is_invalid(paths: Paths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text('idle_source = "xscreensaver"\n')
    [line] = doctor.check_config(context(paths))
    assert not line.ok
    assert "idle_source 'xscreensaver' is not a source" in line.text
    assert "x11, ext-idle-notify, mutter, freedesktop, windows, macos, pynput" in line.fix


def test_a_missing_secret_service_says_how_to_start_one(paths: Paths) -> None:
    from presence_agent.credentials import KeyringUnavailable

    class NoKeyring:
        def describe(self) -> str:
            raise KeyringUnavailable("no usable OS keyring was found")

    desktop = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus"}
    [line] = doctor.check_keyring(context(paths, credentials=NoKeyring(), environ=desktop))
    assert not line.ok
    assert "sudo apt install gnome-keyring" in line.fix
    assert "doctor" not in line.text + line.fix  # no "doctor checks it" inside doctor
    # Over ssh or su: no bus at all. The fix is something to do, not a diagnosis.
    [line] = doctor.check_keyring(context(paths, credentials=NoKeyring(), environ={}))
    assert line.fix.startswith("run it in a terminal inside your desktop session")
    assert "D-Bus" not in line.fix


def test_exit_code_only_for_needed_failures(paths: Paths) -> None:
    def warn_only(_ctx: Context) -> list[Line]:
        return [Line("tray", False, "no tray", needed=False), Line("config", True, "valid")]

    def broken(_ctx: Context) -> list[Line]:
        return [Line("server", False, "refused", "check the URL")]

    out = io.StringIO()
    assert doctor.run(paths, out, [warn_only], context=context(paths)) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"presence-agent {__version__} (Python ")
    assert lines[1:3] == ["warn tray: no tray", "ok   config: valid"]
    out = io.StringIO()
    assert doctor.run(paths, out, [warn_only, broken], context=context(paths)) == 1
    assert "FAIL server: refused\n     fix: check the URL\n" in out.getvalue()


# -- the real command ---------------------------------------------------------------------

KEY = "doctor-key"
SECRET = "doctor-secret"


@pytest.fixture
def server() -> Iterator[LibredeskServer]:
    with LibredeskServer(dialect="libredesk", api_key=KEY, api_secret=SECRET) as srv:
        yield srv


@pytest.mark.desktop
def test_doctor_names_the_x11_source_under_xvfb(
    desktop_env: dict[str, str], secret_service: SecretServiceInfo, server: LibredeskServer
) -> None:
    env = dict(desktop_env)
    env.pop("PRESENCE_AGENT_IDLE_SOURCE", None)
    result = login(env, server.url, KEY, SECRET)
    assert result.returncode == 0, result.stderr
    result = run_cli(["doctor"], env, timeout=60)
    lines = result.stdout.splitlines()
    idle_line = next(line for line in lines if "idle source:" in line)
    assert idle_line.startswith("ok   idle source: x11 - XScreenSaver idle time, no input hook")
    assert "not needed: mutter, freedesktop, pynput" in idle_line
    assert any(line.startswith("ok   screen lock: ActiveChanged") for line in lines)
    assert any(line.startswith("warn sleep: ") for line in lines)  # no system bus here
    assert "ok   keyring: " in result.stdout
    assert "ok   config: valid" in result.stdout
    assert f"ok   server: {server.url} reachable, libredesk dialect" in result.stdout
    assert "ok   credentials: valid" in result.stdout
    # The server holds offline and no agent runs: only the handshake is checked.
    assert "ok   /ws: keepalive handshake accepted (direct); no ping sent: " in result.stdout
    assert server.ws_pings == 0
    assert result.returncode == 0, result.stdout


@pytest.mark.desktop
def test_doctor_fails_with_wrong_credentials(
    desktop_env: dict[str, str], secret_service: SecretServiceInfo, server: LibredeskServer
) -> None:
    env = dict(desktop_env)
    assert login(env, server.url, KEY, SECRET).returncode == 0
    server.set_credentials(KEY, "rotated")
    result = run_cli(["doctor"], env, timeout=60)
    assert result.returncode == 1
    assert "FAIL server: " in result.stdout
    assert "fix: check the server address and your API key and secret, then sign in again:" in (
        result.stdout
    )
    assert "presence-agent login --api-key KEY" in result.stdout


# -- doctor never changes presence ---------------------------------------------------------


def ws_line(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if " /ws: " in line)


@pytest.mark.desktop
def test_doctor_never_pings_an_agent_the_server_holds_offline(
    desktop_env: dict[str, str], secret_service: SecretServiceInfo
) -> None:
    with LibredeskServer(
        dialect="libredesk", api_key=KEY, api_secret=SECRET, initial_status="offline"
    ) as offline:
        assert login(desktop_env, offline.url, KEY, SECRET).returncode == 0
        result = run_cli(["doctor"], desktop_env, timeout=60)
        assert result.returncode == 0, result.stdout
        assert ws_line(result.stdout) == (
            "ok   /ws: keepalive handshake accepted (direct); no ping sent: the server holds"
            " you offline, and a ping would bring you online unseen"
        )
        assert offline.ws_connections == 1
        assert offline.ws_pings == 0
        assert offline.status == "offline"
        assert offline.history == []
        # Online, but no agent runs: a ping would hold off the sweep that is due.
        offline.set_status("online")
        result = run_cli(["doctor"], desktop_env, timeout=60)
        assert ws_line(result.stdout).endswith(
            "no ping sent: the agent is not running, and a ping would hold off the offline sweep"
        )
        assert offline.ws_pings == 0


@pytest.mark.desktop
def test_doctor_pings_only_while_the_running_agent_does_and_never_after_set_offline(
    desktop_env: dict[str, str], secret_service: SecretServiceInfo, server: LibredeskServer
) -> None:
    from tests.agent_process import AgentProcess

    assert login(desktop_env, server.url, KEY, SECRET).returncode == 0
    with AgentProcess(["run", "--no-tray", "--keepalive-interval", "30"], desktop_env) as agent:
        assert server.wait_for_put("online", "user", timeout=15), agent.output()
        assert server.wait_for(lambda: server.ws_pings >= 1, timeout=10), agent.output()
        pings = server.ws_pings
        result = run_cli(["doctor"], desktop_env, timeout=60)
        assert ws_line(result.stdout) == "ok   /ws: keepalive accepted ('pong' to ping, direct)"
        assert server.ws_pings == pings + 1

        assert run_cli(["set", "offline"], desktop_env).returncode == 0
        assert server.wait_for(lambda: server.status == "offline", timeout=10)
        pings = server.ws_pings
        result = run_cli(["doctor"], desktop_env, timeout=60)
        assert "no ping sent: the server holds you offline" in ws_line(result.stdout)
        assert server.ws_pings == pings
        assert server.status == "offline"
        assert server.history[-1][1:] == ("offline", "user")


@pytest.mark.desktop
def test_doctor_names_a_refused_websocket_origin(
    desktop_env: dict[str, str], secret_service: SecretServiceInfo, server: LibredeskServer
) -> None:
    assert login(desktop_env, server.url, KEY, SECRET).returncode == 0
    server.rewrite_host("libredesk-backend:9000")
    result = run_cli(["doctor"], desktop_env, timeout=60)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    index = lines.index(
        "FAIL /ws: the server refused the WebSocket origin; a reverse proxy that rewrites Host"
        " breaks it"
    )
    assert "proxy_set_header Host $host" in lines[index + 1]
    assert server.ws_refused_origins == 1


# -- the idle plan (presence_agent/routing.py) ----------------------------------------------


def test_doctor_prints_the_idle_plan_in_words_and_in_json(paths: Paths) -> None:
    import json

    out = io.StringIO()
    doctor.run(paths, out, [doctor.check_config], context=context(paths))
    assert (
        "ok   idle plan: away after 5 min, no new conversations after 15 min, reassign never"
        in out.getvalue()
    )
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(
        "away_after = 120\nstop_assignments_after = 0\nreassign_after = 3600\n"
    )
    out = io.StringIO()
    doctor.run(paths, out, [doctor.check_config], context=context(paths), as_json=True)
    report = json.loads(out.getvalue())
    assert report["plan"] == {
        "away_after": 120.0,
        "stop_assignments_after": None,
        "reassign_after": 3600.0,
        "text": "away after 2 min, no new conversations never, reassign after 1 h",
    }
    assert {"part": "idle plan", "ok": True}.items() <= next(
        c for c in report["checks"] if c["part"] == "idle plan"
    ).items()


def test_doctor_names_the_steps_out_of_order_with_file_and_key(paths: Paths) -> None:
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text("away_after = 600\nstop_assignments_after = 300\n")
    lines = doctor.check_config(context(paths))
    assert lines[0].ok is False
    assert lines[0].text.startswith(f"{paths.config_file}: key 'stop_assignments_after' must be")


@pytest.mark.desktop
def test_doctor_says_the_later_steps_apply_to_libredesk_servers_only(
    desktop_env: dict[str, str], secret_service: SecretServiceInfo
) -> None:
    with LibredeskServer(dialect="documented", api_key=KEY, api_secret=SECRET) as documented:
        assert login(desktop_env, documented.url, KEY, SECRET).returncode == 0
        result = run_cli(["doctor"], desktop_env, timeout=60)
    assert (
        "ok   idle plan: no new conversations and reassign apply to Libredesk servers only;"
        " this server has away only"
    ) in result.stdout, result.stdout
