"""Start at login: every backend writes into temporary directories or a fake registry.

Nothing here touches the login items of the machine that runs the tests: each call
passes ``home`` and ``env`` (and a fake ``registry``) explicitly. The Linux entry is
also checked by the real ``desktop-file-validate``, parsed by GLib, and its command run.
"""

from __future__ import annotations

import io
import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

import presence_agent
from presence_agent import autostart
from presence_agent.autostart import _windows, _xdg
from presence_agent.autostart._launchagent import LABEL
from tests.desktop import TrayHost

# --------------------------------------------------------------------------- helpers


class FakeRegistry:
    """HKEY_CURRENT_USER as a dict, recording every change."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str | bytes] = {}
        self.calls: list[tuple[str, ...]] = []

    def read(self, key: str, name: str) -> str | bytes | None:
        return self.values.get((key, name))

    def write(self, key: str, name: str, value: str) -> None:
        self.calls.append(("write", key, name, value))
        self.values[key, name] = value

    def delete(self, key: str, name: str) -> None:
        self.calls.append(("delete", key, name))
        self.values.pop((key, name), None)


class Dirs:
    """A private XDG layout: ``home``, ``$XDG_CONFIG_HOME`` and one ``$XDG_CONFIG_DIRS`` dir."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.config = root / "config"
        self.system = root / "etc-xdg"
        self.home.mkdir()
        self.env = {"XDG_CONFIG_HOME": str(self.config), "XDG_CONFIG_DIRS": str(self.system)}

    @property
    def user_entry(self) -> Path:
        return self.config / "autostart" / "presence-agent.desktop"

    @property
    def system_entry(self) -> Path:
        return self.system / "autostart" / "presence-agent.desktop"

    def install_system_entry(self) -> None:
        self.system_entry.parent.mkdir(parents=True)
        self.system_entry.write_text(
            "[Desktop Entry]\nType=Application\nName=Presence Agent\n"
            "Exec=/usr/bin/presence-agent run\n"
        )

    def enable(self, command: list[str] | None = None) -> autostart.AutostartState:
        return autostart.enable(command, platform="xdg", home=self.home, env=self.env)

    def disable(self) -> autostart.AutostartState:
        return autostart.disable(platform="xdg", home=self.home, env=self.env)

    def status(self) -> autostart.AutostartState:
        return autostart.status(platform="xdg", home=self.home, env=self.env)


@pytest.fixture
def dirs(tmp_path: Path) -> Dirs:
    return Dirs(tmp_path)


def require_desktop_file_validate() -> str:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        reason = "desktop-file-validate is missing (Debian: desktop-file-utils)"
        if os.environ.get("CI") or sys.platform.startswith("linux"):
            pytest.fail(f"{reason}; scripts/bootstrap installs it", pytrace=False)
        pytest.skip(reason)
    return tool


def validate(path: Path) -> None:
    result = subprocess.run(
        [require_desktop_file_validate(), str(path)], capture_output=True, text=True, check=False
    )
    # It prints hints and warnings too; only a clean pass is good enough here.
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout, result.stdout


def exec_argv(entry: Path) -> list[str]:
    return _xdg.split_exec(_xdg.parse_entry(entry.read_text())["Exec"])


# --------------------------------------------------------------------------- choosing


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("linux", "XdgAutostart"),
        ("freebsd14", "XdgAutostart"),
        ("darwin", "LaunchAgent"),
        ("win32", "RunKey"),
        ("xdg", "XdgAutostart"),
        ("launchagent", "LaunchAgent"),
        ("windows", "RunKey"),
    ],
)
def test_the_platform_picks_the_backend(platform: str, expected: str, tmp_path: Path) -> None:
    state = autostart.status(platform=platform, home=tmp_path, env={}, registry=FakeRegistry())
    assert not state.enabled
    backend = autostart._backend(autostart._backend_name(platform, {}), tmp_path, {}, None)
    assert type(backend).__name__ == expected


def test_the_environment_overrides_the_platform(tmp_path: Path) -> None:
    env = {autostart.ENV_BACKEND: "launchagent"}
    state = autostart.enable(["/opt/pa", "run"], home=tmp_path, env=env)
    assert state.where == str(tmp_path / "Library" / "LaunchAgents" / f"{LABEL}.plist")


def test_an_unknown_platform_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no autostart support for 'plan9'"):
        autostart.status(platform="plan9", home=tmp_path, env={})


def test_an_empty_command_is_refused(dirs: Dirs) -> None:
    with pytest.raises(ValueError, match="empty"):
        dirs.enable([])
    assert not dirs.user_entry.exists()


# --------------------------------------------------------------------------- launch_command


def test_a_frozen_build_runs_itself(tmp_path: Path) -> None:
    exe = str(tmp_path / "presence-agent")
    assert autostart.launch_command(executable=exe, frozen=True, platform="linux") == [exe, "run"]


def test_a_venv_runs_its_console_script(tmp_path: Path) -> None:
    (tmp_path / "python").touch()
    (tmp_path / "presence-agent").touch()
    command = autostart.launch_command(
        executable=str(tmp_path / "python"), frozen=False, platform="linux"
    )
    assert command == [str(tmp_path / "presence-agent"), "run"]


def test_without_a_console_script_python_runs_the_module(tmp_path: Path) -> None:
    python = str(tmp_path / "python3")
    command = autostart.launch_command(executable=python, frozen=False, platform="darwin")
    assert command == [python, "-m", "presence_agent", "run"]


def test_windows_prefers_pythonw_so_no_console_window_opens(tmp_path: Path) -> None:
    for name in ("python.exe", "pythonw.exe", "presence-agent.exe"):
        (tmp_path / name).touch()
    python = str(tmp_path / "python.exe")
    command = autostart.launch_command(executable=python, frozen=False, platform="win32")
    assert command == [str(tmp_path / "pythonw.exe"), "-m", "presence_agent", "run"]
    (tmp_path / "pythonw.exe").unlink()
    command = autostart.launch_command(executable=python, frozen=False, platform="win32")
    assert command == [str(tmp_path / "presence-agent.exe"), "run"]


def test_the_venv_is_not_resolved_away(tmp_path: Path) -> None:
    # A venv's python is a symlink to the base interpreter; following it loses the venv.
    base = tmp_path / "base"
    venv = tmp_path / "venv" / "bin"
    base.mkdir()
    venv.mkdir(parents=True)
    (base / "python3").touch()
    (venv / "python").symlink_to(base / "python3")
    (venv / "presence-agent").touch()
    command = autostart.launch_command(executable=str(venv / "python"), frozen=False)
    assert command[0] == str(venv / "presence-agent")


def test_the_default_command_is_absolute() -> None:
    command = autostart.launch_command()
    assert os.path.isabs(command[0])
    assert command[-1] == "run"


# --------------------------------------------------------------------------- Linux (XDG)


def test_xdg_enable_writes_a_valid_entry(dirs: Dirs) -> None:
    state = dirs.enable()
    assert state == dirs.status()
    assert state.enabled
    assert state.where == str(dirs.user_entry)
    validate(dirs.user_entry)
    keys = _xdg.parse_entry(dirs.user_entry.read_text())
    assert keys["Type"] == "Application"
    assert keys["X-GNOME-Autostart-enabled"] == "true"
    assert int(keys["X-GNOME-Autostart-Delay"]) > 0
    assert keys["Icon"]
    assert "Hidden" not in keys
    argv = exec_argv(dirs.user_entry)
    assert argv == [*autostart.launch_command(), "--start-delay", "20"]
    assert os.path.isabs(argv[0])
    assert state.command == tuple(argv)


def test_xdg_icon_is_a_file_that_exists_when_not_frozen(dirs: Dirs) -> None:
    dirs.enable()
    icon = _xdg.parse_entry(dirs.user_entry.read_text())["Icon"]
    assert Path(icon).is_absolute()
    assert Path(icon).is_file()


def test_the_entry_command_really_starts_the_agent(dirs: Dirs) -> None:
    """Run the Exec line as written, with --version in place of ``run ...``."""
    dirs.enable()
    argv = exec_argv(dirs.user_entry)
    program = argv[: argv.index("run")]
    # As at login: no venv activated, and nothing of ours on PATH.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(dirs.home), "LANG": "C.UTF-8"}
    result = subprocess.run(
        [*program, "--version"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert presence_agent.__version__ in result.stdout


def test_xdg_disable_removes_the_entry(dirs: Dirs) -> None:
    dirs.enable()
    state = dirs.disable()
    assert not dirs.user_entry.exists()
    assert state == autostart.AutostartState(False, str(dirs.user_entry), note="no entry")
    assert state == dirs.status()


def test_xdg_disable_without_an_entry_is_fine(dirs: Dirs) -> None:
    assert not dirs.disable().enabled
    assert not dirs.user_entry.parent.exists()


def test_xdg_status_without_an_entry(dirs: Dirs) -> None:
    state = dirs.status()
    assert not state.enabled
    assert state.where == str(dirs.user_entry)


def test_a_system_wide_entry_counts_as_enabled(dirs: Dirs) -> None:
    dirs.install_system_entry()
    state = dirs.status()
    assert state.enabled
    assert state.where == str(dirs.system_entry)
    assert state.command == ("/usr/bin/presence-agent", "run")


def test_disable_hides_a_system_wide_entry_instead_of_deleting(dirs: Dirs) -> None:
    dirs.install_system_entry()
    dirs.enable()
    state = dirs.disable()
    assert dirs.system_entry.exists()
    assert dirs.user_entry.exists()
    validate(dirs.user_entry)
    assert _xdg.parse_entry(dirs.user_entry.read_text())["Hidden"] == "true"
    assert not state.enabled
    assert state.where == str(dirs.user_entry)
    assert "Hidden=true" in state.note
    assert str(dirs.system_entry) in state.note
    assert state == dirs.status()


def test_enable_clears_a_hidden_override(dirs: Dirs) -> None:
    dirs.install_system_entry()
    dirs.disable()
    state = dirs.enable()
    assert state.enabled
    assert state.where == str(dirs.user_entry)
    assert "Hidden" not in _xdg.parse_entry(dirs.user_entry.read_text())


def test_a_user_entry_with_hidden_true_is_disabled(dirs: Dirs) -> None:
    dirs.enable()
    text = dirs.user_entry.read_text().replace("Terminal=false", "Hidden=true\nTerminal=false")
    dirs.user_entry.write_text(text)
    state = dirs.status()
    assert not state.enabled
    assert state.note == "Hidden=true"
    assert dirs.enable().enabled


def test_gnome_autostart_enabled_false_is_disabled(dirs: Dirs) -> None:
    dirs.enable()
    text = dirs.user_entry.read_text()
    dirs.user_entry.write_text(text.replace("Autostart-enabled=true", "Autostart-enabled=false"))
    assert not dirs.status().enabled
    assert dirs.enable().enabled


def test_only_the_desktop_entry_group_and_unlocalised_keys_count(dirs: Dirs) -> None:
    dirs.user_entry.parent.mkdir(parents=True)
    dirs.user_entry.write_text(
        "# a comment\n[Desktop Entry]\nType=Application\nName=P\nName[de]=Q\n"
        "Hidden[de]=true\nExec = /opt/pa run\n\n[Desktop Action x]\nHidden=true\n"
    )
    state = dirs.status()
    assert state.enabled
    assert state.command == ("/opt/pa", "run")


def test_xdg_config_home_defaults_to_dot_config(tmp_path: Path) -> None:
    for env in ({}, {"XDG_CONFIG_HOME": ""}, {"XDG_CONFIG_HOME": "relative/is/invalid"}):
        state = autostart.enable(["/opt/pa", "run"], platform="xdg", home=tmp_path, env=env)
        assert state.where == str(tmp_path / ".config" / "autostart" / "presence-agent.desktop")


def test_xdg_config_dirs_default_and_order(tmp_path: Path) -> None:
    backend = _xdg.XdgAutostart.from_env({}, tmp_path, icon="x")
    assert backend.system_dirs == (Path("/etc/xdg/autostart"),)
    env = {"XDG_CONFIG_DIRS": f"{tmp_path}/a:relative:{tmp_path}/b"}
    backend = _xdg.XdgAutostart.from_env(env, tmp_path, icon="x")
    assert backend.system_dirs == (tmp_path / "a" / "autostart", tmp_path / "b" / "autostart")
    # The first directory that has the entry wins.
    for name in ("b", "a"):
        entry = tmp_path / name / "autostart" / "presence-agent.desktop"
        entry.parent.mkdir(parents=True)
        entry.write_text(f"[Desktop Entry]\nType=Application\nName=P\nExec=/opt/{name}\n")
    state = autostart.status(platform="xdg", home=tmp_path, env=env)
    assert state.command == ("/opt/a",)


def test_enable_replaces_the_file_atomically(dirs: Dirs) -> None:
    dirs.enable(["/old", "run"])
    dirs.enable(["/new", "run"])
    assert dirs.status().command == ("/new", "run")
    assert sorted(p.name for p in dirs.user_entry.parent.iterdir()) == ["presence-agent.desktop"]
    assert dirs.user_entry.stat().st_mode & 0o777 == 0o644


AWKWARD_ARGV = [
    '/tmp/my dir/$x\\y"z',
    "100%",
    "it's",
    "",
    "a\tb",
    "~",
    "#x",
    "ünïcödé",
    "back\\slash",
    "semi;colon",
    "%U",
]


def test_awkward_arguments_survive_validation(dirs: Dirs) -> None:
    dirs.enable(AWKWARD_ARGV)
    validate(dirs.user_entry)
    assert list(dirs.status().command or ()) == AWKWARD_ARGV


def test_glib_reads_the_exec_line_as_written(dirs: Dirs, tmp_path: Path) -> None:
    """GLib is what GNOME (and systemd's xdg-autostart-generator's peers) use to run it."""
    gi = pytest.importorskip("gi")
    gi.require_version("Gio", "2.0")
    from gi.repository import Gio

    program = tmp_path / "odd dir $1" / "show 'args'"
    program.parent.mkdir()
    out = tmp_path / "argv.txt"
    program.write_text(
        f"#!{sys.executable}\nimport sys\n"
        f"open({str(out)!r}, 'w', encoding='utf-8').write(repr(sys.argv[1:]))\n"
    )
    program.chmod(0o755)
    dirs.enable([str(program), *AWKWARD_ARGV])
    info = Gio.DesktopAppInfo.new_from_filename(str(dirs.user_entry))
    assert info is not None
    info.launch([], None)
    from tests.desktop import wait_until

    wait_until(lambda: out.exists() and out.read_text(), what="the launched program")
    assert out.read_text() == repr(AWKWARD_ARGV)


_args = st.lists(
    st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(" \t\"'\\$`%")),
    max_size=5,
)


@given(program=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1), args=_args)
def test_xdg_exec_round_trips(program: str, args: list[str]) -> None:
    argv = [program, *args]
    text = _xdg.render_entry(argv, icon="presence-agent")
    assert _xdg.split_exec(_xdg.parse_entry(text)["Exec"]) == argv


def test_split_exec_drops_field_codes() -> None:
    assert _xdg.split_exec("foo %U --x=%% %i") == ["foo", "--x=%"]


# --------------------------------------------------------------------------- macOS


def agents(tmp_path: Path) -> Path:
    return tmp_path / "Library" / "LaunchAgents"


def test_launchagent_enable_writes_a_plist(tmp_path: Path) -> None:
    state = autostart.enable(
        ["/opt/pa/bin/presence-agent", "run"], platform="darwin", home=tmp_path
    )
    path = agents(tmp_path) / f"{LABEL}.plist"
    assert state == autostart.AutostartState(True, str(path), ("/opt/pa/bin/presence-agent", "run"))
    plist = plistlib.loads(path.read_bytes())
    assert plist["Label"] == LABEL
    assert plist["ProgramArguments"] == ["/opt/pa/bin/presence-agent", "run"]
    assert plist["RunAtLoad"] is True
    # KeepAlive would restart the app each time the person quits it.
    assert "KeepAlive" not in plist
    assert "AssociatedBundleIdentifiers" not in plist
    assert path.read_bytes().startswith(b"<?xml")


def test_launchagent_for_an_app_bundle_names_the_bundle(tmp_path: Path) -> None:
    exe = "/Applications/Presence Agent.app/Contents/MacOS/presence-agent"
    autostart.enable([exe, "run"], platform="darwin", home=tmp_path)
    plist = plistlib.loads((agents(tmp_path) / f"{LABEL}.plist").read_bytes())
    assert plist["AssociatedBundleIdentifiers"] == [LABEL]


def test_launchagent_disable_removes_the_plist(tmp_path: Path) -> None:
    autostart.enable(["/opt/pa", "run"], platform="darwin", home=tmp_path)
    state = autostart.disable(platform="darwin", home=tmp_path)
    assert not state.enabled
    assert list(agents(tmp_path).iterdir()) == []
    assert not autostart.status(platform="darwin", home=tmp_path).enabled


@pytest.mark.parametrize(
    ("content", "note"),
    [
        (b"not a plist", "unreadable plist"),
        (plistlib.dumps({"Label": LABEL, "RunAtLoad": True, "Disabled": True}), "Disabled=true"),
        (plistlib.dumps({"Label": LABEL, "ProgramArguments": ["/x"]}), "RunAtLoad is not true"),
    ],
)
def test_launchagent_that_launchd_would_skip_is_disabled(
    tmp_path: Path, content: bytes, note: str
) -> None:
    agents(tmp_path).mkdir(parents=True)
    (agents(tmp_path) / f"{LABEL}.plist").write_bytes(content)
    state = autostart.status(platform="darwin", home=tmp_path)
    assert not state.enabled
    assert note in state.note
    assert autostart.enable(["/opt/pa", "run"], platform="darwin", home=tmp_path).enabled


# --------------------------------------------------------------------------- Windows


def test_run_key_enable_writes_a_quoted_value() -> None:
    registry = FakeRegistry()
    exe = r"C:\Users\Ann Lee\AppData\Local\Programs\presence-agent\presence-agent.exe"
    state = autostart.enable([exe, "run"], platform="win32", registry=registry)
    assert registry.calls == [
        ("write", _windows.RUN_KEY, "presence-agent", f'"{exe}" run'),
        ("delete", _windows.APPROVED_KEY, "presence-agent"),
    ]
    assert state == autostart.AutostartState(
        True, r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run\presence-agent", (exe, "run")
    )


def test_run_key_quotes_the_program_even_without_spaces() -> None:
    registry = FakeRegistry()
    autostart.enable([r"C:\pa\pa.exe", "run", "--x", "a b"], platform="win32", registry=registry)
    assert registry.values[_windows.RUN_KEY, "presence-agent"] == '"C:\\pa\\pa.exe" run --x "a b"'


def test_run_key_disable_deletes_the_value() -> None:
    registry = FakeRegistry()
    autostart.enable([r"C:\pa.exe", "run"], platform="win32", registry=registry)
    state = autostart.disable(platform="win32", registry=registry)
    assert not state.enabled
    assert registry.values == {}
    assert state.note == "no entry"


def test_task_manager_switch_off_counts_as_disabled_and_enable_clears_it() -> None:
    registry = FakeRegistry()
    autostart.enable([r"C:\pa.exe", "run"], platform="win32", registry=registry)
    registry.values[_windows.APPROVED_KEY, "presence-agent"] = bytes([3]) + bytes(11)
    state = autostart.status(platform="win32", registry=registry)
    assert not state.enabled
    assert "Task Manager" in state.note
    registry.values[_windows.APPROVED_KEY, "presence-agent"] = bytes([2]) + bytes(11)
    assert autostart.status(platform="win32", registry=registry).enabled
    registry.values[_windows.APPROVED_KEY, "presence-agent"] = bytes([3]) + bytes(11)
    assert autostart.enable([r"C:\pa.exe", "run"], platform="win32", registry=registry).enabled
    assert (_windows.APPROVED_KEY, "presence-agent") not in registry.values


def test_the_real_registry_is_only_on_windows() -> None:
    if sys.platform == "win32":
        pytest.skip("this checks the error elsewhere")
    with pytest.raises(OSError, match="only on Windows"):
        _windows.WinRegistry().read(_windows.RUN_KEY, "presence-agent")


@pytest.mark.parametrize(
    ("line", "argv"),
    [
        (r'"C:\Program Files\pa.exe" run', [r"C:\Program Files\pa.exe", "run"]),
        (r"C:\pa.exe run  --x", [r"C:\pa.exe", "run", "--x"]),
        (r'"C:\a\b\" x', ["C:\\a\\b\\", "x"]),  # the program name has no escapes
        (r'p "a b" c\\"d e"', ["p", "a b", "c\\d e"]),
        (r'p a\\\"b "x""y"', ["p", 'a\\"b', 'x"y']),
        (r"p a\\b", ["p", "a\\\\b"]),
    ],
)
def test_split_command_line_follows_windows(line: str, argv: list[str]) -> None:
    assert _windows.split_command_line(line) == argv


#: Lone surrogates cannot be written to a file at all.
SURROGATES: tuple[Literal["Cs"]] = ("Cs",)


@given(
    program=st.text(st.characters(blacklist_categories=SURROGATES, blacklist_characters='"\0'))
    .map(str.strip)
    .filter(bool),
    args=st.lists(
        st.text(st.characters(blacklist_categories=SURROGATES, blacklist_characters="\0"))
    ),
)
def test_windows_command_line_round_trips(program: str, args: list[str]) -> None:
    argv = [program, *args]
    assert _windows.split_command_line(_windows.join_command_line(argv)) == argv


# --------------------------------------------------------------------------- cli


def run_cli(action: str, dirs: Dirs) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = autostart.cli(action, out, err=err, platform="xdg", home=dirs.home, env=dirs.env)
    return code, out.getvalue(), err.getvalue()


def test_cli_enable_status_disable(dirs: Dirs) -> None:
    assert run_cli("status", dirs) == (0, f"disabled: {dirs.user_entry} (no entry)\n", "")
    # Run from a source checkout's venv (as here, usually), enable says it will not last.
    tree = autostart.source_tree(autostart.launch_command()[0])
    code, out, err = run_cli("enable", dirs)
    assert (code, out) == (0, f"enabled: {dirs.user_entry}\n")
    if tree is None:
        assert err == ""
    else:
        assert f"inside the source tree {tree}: deleting or moving that folder breaks it" in err
        assert "pipx install presence-agent" in err
    assert dirs.user_entry.exists()
    assert run_cli("status", dirs)[:2] == (0, f"enabled: {dirs.user_entry}\n")
    assert run_cli("disable", dirs) == (0, f"disabled: {dirs.user_entry} (no entry)\n", "")
    assert not dirs.user_entry.exists()


def test_cli_unknown_action(dirs: Dirs) -> None:
    code, out, err = run_cli("toggle", dirs)
    assert (code, out) == (2, "")
    assert "enable, disable or status" in err


def test_cli_reports_a_file_system_error(dirs: Dirs) -> None:
    dirs.config.write_text("a file where a directory should be")
    code, out, err = run_cli("enable", dirs)
    assert (code, out) == (1, "")
    assert err.startswith("autostart enable failed: ")


def test_cli_warns_when_the_entry_points_at_a_missing_program(dirs: Dirs, tmp_path: Path) -> None:
    gone = tmp_path / "deleted-venv" / "bin" / "presence-agent"
    dirs.enable([str(gone), "run"])
    code, out, err = run_cli("status", dirs)
    assert (code, out) == (0, f"enabled: {dirs.user_entry}\n")
    assert f"warning: start at login runs {gone}, which no longer exists" in err
    assert "`presence-agent autostart enable` from the installed app" in err


def test_an_installed_app_is_not_a_source_tree(tmp_path: Path) -> None:
    venv_script = tmp_path / "pipx" / "venvs" / "presence-agent" / "bin" / "presence-agent"
    venv_script.parent.mkdir(parents=True)
    venv_script.touch()
    assert autostart.source_tree(str(venv_script)) is None
    checkout = tmp_path / "clone"
    (checkout / "presence_agent").mkdir(parents=True)
    (checkout / "presence_agent" / "__init__.py").touch()
    (checkout / "pyproject.toml").touch()
    (checkout / ".venv" / "bin").mkdir(parents=True)
    assert autostart.source_tree(str(checkout / ".venv" / "bin" / "presence-agent")) == checkout


def test_a_link_on_path_is_the_stable_launcher(tmp_path: Path) -> None:
    # The .deb: /usr/bin/presence-agent -> ../lib/presence-agent/presence-agent (frozen).
    lib = tmp_path / "usr" / "lib" / "presence-agent"
    usr_bin = tmp_path / "usr" / "bin"
    lib.mkdir(parents=True)
    usr_bin.mkdir(parents=True)
    (lib / "presence-agent").touch()
    (usr_bin / "presence-agent").symlink_to("../lib/presence-agent/presence-agent")
    command = autostart.launch_command(
        executable=str(lib / "presence-agent"),
        frozen=True,
        platform="linux",
        search_path=f"relative/bin{os.pathsep}{tmp_path / 'nothing'}{os.pathsep}{usr_bin}",
    )
    assert command == [str(usr_bin / "presence-agent"), "run"]


def test_pipx_shim_is_the_stable_launcher(tmp_path: Path) -> None:
    venv_bin = tmp_path / "pipx" / "venvs" / "presence-agent" / "bin"
    local_bin = tmp_path / ".local" / "bin"
    venv_bin.mkdir(parents=True)
    local_bin.mkdir(parents=True)
    (venv_bin / "python").touch()
    (venv_bin / "presence-agent").touch()
    (local_bin / "presence-agent").symlink_to(venv_bin / "presence-agent")
    command = autostart.launch_command(
        executable=str(venv_bin / "python"),
        frozen=False,
        platform="linux",
        search_path=str(local_bin),
    )
    assert command == [str(local_bin / "presence-agent"), "run"]
    # Another program of the same name on PATH is not ours.
    (local_bin / "presence-agent").unlink()
    (local_bin / "presence-agent").symlink_to(tmp_path / "elsewhere")
    command = autostart.launch_command(
        executable=str(venv_bin / "python"),
        frozen=False,
        platform="linux",
        search_path=str(local_bin),
    )
    assert command == [str(venv_bin / "presence-agent"), "run"]


def test_cli_disabled_with_a_note(dirs: Dirs) -> None:
    dirs.install_system_entry()
    code, out, _ = run_cli("disable", dirs)
    assert code == 0
    assert out == (f"disabled: {dirs.user_entry} (Hidden=true; it hides {dirs.system_entry})\n")


# --------------------------------------------------------------------------- start delay


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_start_delay_returns_at_once_when_the_tray_is_there() -> None:
    clock = FakeClock()
    assert autostart.start_delay(20, ready=lambda: True, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == []


def test_start_delay_returns_when_the_tray_appears() -> None:
    clock = FakeClock()
    answers: Iterator[bool] = iter([False, False, False, True])
    assert autostart.start_delay(20, ready=lambda: next(answers), sleep=clock.sleep, clock=clock)
    assert clock.sleeps == [0.5, 0.5, 0.5]


def test_start_delay_gives_up_at_the_deadline() -> None:
    clock = FakeClock()
    assert not autostart.start_delay(1.2, ready=lambda: False, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == pytest.approx([0.5, 0.5, 0.2])


def test_start_delay_of_zero_does_not_wait() -> None:
    clock = FakeClock()
    assert not autostart.start_delay(0, ready=lambda: False, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == []


def test_tray_probe_without_a_session_says_no() -> None:
    assert not _xdg.tray_host_present({})
    assert not _xdg.tray_host_present({"DISPLAY": ":9999", "DBUS_SESSION_BUS_ADDRESS": "x"})


@pytest.mark.desktop
def test_tray_probe_sees_a_status_notifier_watcher(xvfb: str, session_bus: str) -> None:
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    env = {"DISPLAY": xvfb, "DBUS_SESSION_BUS_ADDRESS": session_bus}
    assert not _xdg.tray_host_present(env)
    with open_dbus_connection(bus=session_bus) as conn:
        watcher = "org.kde.StatusNotifierWatcher"
        assert conn.send_and_get_reply(message_bus.RequestName(watcher)).body == (1,)
        assert autostart.tray_host_present(env)
        assert autostart.start_delay(5, env=env)


@pytest.mark.desktop
@pytest.mark.tray
def test_tray_probe_sees_an_xembed_tray(trayer: TrayHost, session_bus: str) -> None:
    env = {"DISPLAY": trayer.display, "DBUS_SESSION_BUS_ADDRESS": session_bus}
    assert _xdg.tray_host_present(env)
