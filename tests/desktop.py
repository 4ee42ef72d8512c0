"""Real desktop parts for tests: Xvfb, a private D-Bus session bus, gnome-keyring's Secret
Service, the trayer system tray, and xdotool input.

Nothing here is faked. Every fixture starts the real program, waits until it really answers
(not a sleep), and stops it (and every process it spawned) at teardown. Plain ``pytest`` is
enough: the fixtures make their own private X display and D-Bus bus, so no ``xvfb-run`` or
``dbus-run-session`` wrapper is needed, and nothing on a developer's real desktop (display,
session bus, login keyring) is touched.

Fixtures (``tests/conftest.py`` registers them):

- ``xvfb`` (session): the ``DISPLAY`` string, e.g. ``":91"``, of a 1280x800x24 Xvfb.
- ``session_bus`` (session): the address of a private session bus. Its config activates
  nothing from the host (no gnome-keyring with prompts, no at-spi); put ``.service`` files in
  :func:`bus_service_dir` to activate your own.
- ``secret_service`` (session): a :class:`SecretServiceInfo`; gnome-keyring-daemon with an
  unlocked default ("login") collection on ``session_bus``, proven by a real keyring round trip.
  It is shared by the whole session: use a service name unique to your test.
- ``desktop_env`` (function): an environment dict for subprocesses (see :func:`make_desktop_env`).
- ``trayer`` (function): a :class:`TrayHost`; trayer running and owning ``_NET_SYSTEM_TRAY_S0``.

Helpers: :func:`move_mouse`, :func:`mouse_jiggle`, :func:`mouse_location`, :func:`key`,
:func:`click`, :func:`screenshot`, :func:`tray_icons`, :func:`open_menus`,
:func:`popup_windows`, :func:`wait_until`.
The ``running_*`` context managers start extra, independent instances (a second bus, say).

A missing system tool skips the test with a reason naming ``scripts/bootstrap``; when the
environment variable ``CI`` is set it fails instead, so CI never silently skips a real test.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    import PIL.Image

__all__ = [
    "Locker",
    "SecretServiceInfo",
    "SoundServer",
    "TrayHost",
    "Window",
    "app_windows",
    "bus_service_dir",
    "click",
    "desktop_env",
    "find_colour",
    "key",
    "kill_xvfb",
    "make_desktop_env",
    "mouse_jiggle",
    "mouse_location",
    "move_mouse",
    "no_desktop_env",
    "open_menus",
    "popup_windows",
    "private_dirs",
    "require_module",
    "require_tools",
    "running_locker",
    "running_pulseaudio",
    "running_secret_service",
    "running_session_bus",
    "running_trayer",
    "running_xfce_panel",
    "running_xvfb",
    "screenshot",
    "secret_service",
    "session_bus",
    "tray_icons",
    "trayer",
    "wait_until",
    "xvfb",
]

SCREEN = (1280, 800)
#: The password that unlocks the test keyring. It guards nothing: the keyring lives in a
#: temporary directory and dies with the test session.
KEYRING_PASSWORD = "presence-agent-test"
#: How long a daemon may take to come up before the fixture gives up.
START_TIMEOUT = 20.0

# Which Debian package brings each tool, for the message when one is missing.
_PACKAGES = {
    "Xvfb": "xvfb",
    "xdpyinfo": "x11-utils",
    "xdotool": "xdotool",
    "dbus-daemon": "dbus-daemon",
    "dbus-send": "dbus-bin",
    "gnome-keyring-daemon": "gnome-keyring",
    "trayer": "trayer",
    "import": "imagemagick",
    "mate-screensaver": "mate-screensaver",
    "mate-screensaver-command": "mate-screensaver",
    "gnome-screensaver": "gnome-screensaver",
    "gnome-screensaver-command": "gnome-screensaver",
    "pulseaudio": "pulseaudio",
    "xfce4-panel": "xfce4-panel",
    "openbox": "openbox",
    "parecord": "pulseaudio-utils",
    "pactl": "pulseaudio-utils",
    "dunst": "dunst",
    "dunstctl": "dunst",
}

T = TypeVar("T")


# --------------------------------------------------------------------------- missing tools


def _missing(reason: str) -> None:
    """Skip (developer machine) or fail (CI) because a part of the environment is absent."""
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(
            f"{reason}. CI must run the real desktop tests: scripts/bootstrap installs it.",
            pytrace=False,
        )
    pytest.skip(f"{reason}; run scripts/bootstrap to install it")


def require_tools(*tools: str) -> None:
    """Skip/fail (see :func:`_missing`) unless every program is on PATH."""
    absent = [tool for tool in tools if shutil.which(tool) is None]
    if absent:
        packages = sorted({_PACKAGES.get(tool, tool) for tool in absent})
        _missing(f"missing {', '.join(absent)} (Debian: {' '.join(packages)})")


def require_module(name: str, hint: str) -> None:
    """Skip/fail unless the Python module imports in this interpreter."""
    try:
        __import__(name)
    except ImportError as error:
        _missing(f"cannot import {name} ({error}); {hint}")


# --------------------------------------------------------------------------- processes


def wait_until(
    predicate: Callable[[], T | None],
    *,
    timeout: float = START_TIMEOUT,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that.

    Raises ``TimeoutError`` naming ``what`` when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class _Daemon:
    """One started program, with its output in a log file and its own process group.

    ``stop()`` signals the whole group (so helpers it spawned go too) and reaps the child.
    """

    def __init__(
        self,
        argv: list[str],
        log: Path,
        env: Mapping[str, str] | None = None,
        stdin_data: bytes | None = None,
        pass_fds: tuple[int, ...] = (),
    ) -> None:
        self.argv = argv
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                pass_fds=pass_fds,
                start_new_session=True,
            )
        if stdin_data is not None:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write(stdin_data)
                self.proc.stdin.close()
            except OSError as error:  # it died before reading
                self.stop()
                message = f"{argv[0]} did not take its input:\n{self.log_tail()}"
                raise RuntimeError(message) from error

    def check_alive(self) -> None:
        """Raise with the program's own output if it has already exited."""
        code = self.proc.poll()
        if code is not None:
            raise RuntimeError(f"{self.argv[0]} exited with {code}:\n{self.log_tail()}")

    def log_tail(self, limit: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-limit:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                continue
            # The leader is gone; helpers still in its group are killed outright.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            return


def _run(
    argv: list[str], env: Mapping[str, str] | None = None, timeout: float = 10.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _display_env(display: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DISPLAY"] = display
    env.pop("WAYLAND_DISPLAY", None)
    env.pop("XAUTHORITY", None)
    return env


# --------------------------------------------------------------------------- Xvfb


def _read_line(fd: int, timeout: float) -> bytes:
    """Read from ``fd`` up to a newline; b"" on EOF or timeout.

    Xvfb writes its display number and the newline in two write() calls, and dies with
    "Cannot write display number" if the pipe is closed in between: read the whole line.
    """
    data = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            return b""
        chunk = os.read(fd, 64)
        if not chunk:
            return b""
        data += chunk
    return data


@contextlib.contextmanager
def running_xvfb(workdir: Path, size: tuple[int, int] = SCREEN) -> Iterator[str]:
    """Start Xvfb on a free display number; yield the ``DISPLAY`` string once it answers.

    Xvfb's own lock file decides which number is free (no race with another Xvfb): when a
    number is taken, Xvfb exits at once and the next one is tried. ``-displayfd`` tells when
    the server is ready; ``xdpyinfo`` then proves a client can really connect.
    """
    require_tools("Xvfb", "xdpyinfo")
    start = 90 + os.getpid() % 100
    for number in range(start, start + 60):
        ready_r, ready_w = os.pipe()
        try:
            daemon = _Daemon(
                [
                    "Xvfb",
                    f":{number}",
                    "-screen",
                    "0",
                    f"{size[0]}x{size[1]}x24",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                    "-displayfd",
                    str(ready_w),
                ],
                workdir / f"xvfb-{number}.log",
                pass_fds=(ready_w,),
            )
        finally:
            os.close(ready_w)
        try:
            announced = _read_line(ready_r, START_TIMEOUT)
        except BaseException:
            daemon.stop()
            raise
        finally:
            os.close(ready_r)
        if not announced.strip():
            daemon.stop()
            continue
        display = f":{number}"
        try:

            def answers(display: str = display, daemon: _Daemon = daemon) -> bool:
                daemon.check_alive()
                return _run(["xdpyinfo"], _display_env(display)).returncode == 0

            wait_until(answers, what=f"xdpyinfo to answer on {display}")
            yield display
        finally:
            daemon.stop()
        return
    raise RuntimeError(f"no free X display number in :{start}..:{start + 59}")


def kill_xvfb(display: str) -> None:
    """Kill the Xvfb serving ``display`` at once (SIGKILL: a crash, not a goodbye).

    Only for an Xvfb the test started itself (:func:`running_xvfb`), never the
    session's shared one.
    """
    pid = _xvfb_pid(display)
    os.kill(pid, signal.SIGKILL)

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A zombie until running_xvfb reaps it: dead all the same.
        status = Path(f"/proc/{pid}/status")
        return not status.exists() or "\tZ" in status.read_text()

    wait_until(gone, timeout=10, what=f"Xvfb {display} to die")


def _xvfb_pid(display: str) -> int:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if len(argv) > 1 and argv[0].endswith(b"Xvfb") and argv[1] == display.encode():
            return int(proc.name)
    raise LookupError(f"no Xvfb serves {display}")


@pytest.fixture(scope="session")
def xvfb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``DISPLAY`` of a private 1280x800x24 Xvfb shared by the test session."""
    with running_xvfb(tmp_path_factory.mktemp("xvfb")) as display:
        yield display


# --------------------------------------------------------------------------- D-Bus

_BUS_CONFIG = """\
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>{listen}</listen>
  <auth>EXTERNAL</auth>
  <!-- Only our own services: nothing of the host's is activated behind a test's back. -->
  <servicedir>{services}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def bus_service_dir(address: str) -> Path:
    """The directory whose ``.service`` files the private bus at ``address`` can activate."""
    path = address.removeprefix("unix:path=").split(",", 1)[0]
    return Path(path).parent / "services"


def _bus_call(address: str, method: str, *args: str) -> subprocess.CompletedProcess[str]:
    return _run(
        [
            "dbus-send",
            f"--bus={address}",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            f"org.freedesktop.DBus.{method}",
            *args,
        ]
    )


def name_has_owner(address: str, name: str) -> bool:
    """Whether ``name`` is owned on the bus at ``address`` right now."""
    reply = _bus_call(address, "NameHasOwner", f"string:{name}")
    return reply.returncode == 0 and "boolean true" in reply.stdout


@contextlib.contextmanager
def running_session_bus(workdir: Path) -> Iterator[str]:
    """Start a private session bus (``dbus-daemon --nofork``); yield its address."""
    require_tools("dbus-daemon", "dbus-send")
    socket_dir = workdir
    if len(str(workdir)) > 90:  # a unix socket path must fit in 108 bytes
        socket_dir = Path(tempfile.mkdtemp(prefix="pa-bus-"))
    address = f"unix:path={socket_dir / 'bus'}"
    (socket_dir / "services").mkdir(exist_ok=True)
    config = workdir / "session.conf"
    config.write_text(_BUS_CONFIG.format(listen=address, services=socket_dir / "services"))
    daemon = _Daemon(
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile"],
        workdir / "dbus-daemon.log",
    )
    try:

        def answers() -> bool:
            daemon.check_alive()
            return _bus_call(address, "GetId").returncode == 0

        wait_until(answers, what=f"dbus-daemon at {address}")
        yield address
    finally:
        daemon.stop()
        if socket_dir != workdir:
            shutil.rmtree(socket_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def session_bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Address of a private D-Bus session bus shared by the test session."""
    with running_session_bus(tmp_path_factory.mktemp("dbus")) as address:
        yield address


# --------------------------------------------------------------------------- Secret Service


@dataclass(frozen=True)
class SecretServiceInfo:
    """A running gnome-keyring-daemon: the bus it serves and the password of its keyring."""

    bus_address: str
    password: str
    data_home: Path


_KEYRING_PROBE = textwrap.dedent(
    """\
    import sys
    from keyring.backends.SecretService import Keyring
    backend = Keyring()
    backend.set_password("presence-agent-fixture", "probe", "ok")
    value = backend.get_password("presence-agent-fixture", "probe")
    backend.delete_password("presence-agent-fixture", "probe")
    sys.exit(0 if value == "ok" else 3)
    """
)


def private_dirs(root: Path) -> dict[str, str]:
    """HOME and the XDG base directories, all under ``root`` (created; runtime dir 0700)."""
    dirs = {
        "HOME": root / "home",
        "XDG_CONFIG_HOME": root / "config",
        "XDG_STATE_HOME": root / "state",
        "XDG_DATA_HOME": root / "data",
        "XDG_CACHE_HOME": root / "cache",
        "XDG_RUNTIME_DIR": root / "run",
        # The admin's presets: private too, so a preset on the host never leaks in.
        "XDG_CONFIG_DIRS": root / "etc-xdg",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    dirs["XDG_RUNTIME_DIR"].chmod(0o700)
    return {name: str(path) for name, path in dirs.items()}


def no_desktop_env(root: Path) -> dict[str, str]:
    """An environment like an ssh session or a cron job: no display, no bus, private dirs."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")
    }
    env.update(private_dirs(root))
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextlib.contextmanager
def running_secret_service(
    bus_address: str, workdir: Path, password: str = KEYRING_PASSWORD
) -> Iterator[SecretServiceInfo]:
    """Start ``gnome-keyring-daemon --unlock`` on the given bus with its own data dirs.

    ``--unlock`` reads the password from stdin and creates (or unlocks) the "login" keyring,
    which becomes the default collection: no prompt ever appears (a bare
    ``dbus-run-session`` without it fails with "Prompt dismissed"). Ready means
    ``org.freedesktop.secrets`` is owned *and* keyring's SecretService backend stores and
    reads back a secret in a subprocess.
    """
    require_tools("gnome-keyring-daemon", "dbus-send")
    env = dict(os.environ)
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "GNOME_KEYRING_CONTROL", "SSH_AUTH_SOCK"):
        env.pop(name, None)
    env.update(private_dirs(workdir))
    env["DBUS_SESSION_BUS_ADDRESS"] = bus_address
    daemon = _Daemon(
        [
            "gnome-keyring-daemon",
            "--foreground",
            "--unlock",
            "--components=secrets",
        ],
        workdir / "gnome-keyring.log",
        env=env,
        stdin_data=password.encode(),
    )
    try:

        def owned() -> bool:
            daemon.check_alive()
            return name_has_owner(bus_address, "org.freedesktop.secrets")

        wait_until(owned, what="gnome-keyring-daemon to own org.freedesktop.secrets")
        probe = _run([sys.executable, "-c", _KEYRING_PROBE], env, timeout=30)
        if probe.returncode != 0:
            raise RuntimeError(
                "keyring round trip through gnome-keyring failed:\n"
                f"{probe.stdout}{probe.stderr}\n--- daemon log ---\n{daemon.log_tail()}"
            )
        yield SecretServiceInfo(bus_address, password, Path(env["XDG_DATA_HOME"]))
    finally:
        daemon.stop()


@pytest.fixture(scope="session")
def secret_service(
    session_bus: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecretServiceInfo]:
    """gnome-keyring's Secret Service, unlocked, on ``session_bus`` (shared by the session)."""
    require_module("keyring", "scripts/bootstrap installs the project's dependencies")
    with running_secret_service(session_bus, tmp_path_factory.mktemp("keyring")) as info:
        yield info


# --------------------------------------------------------------------------- environment


def make_desktop_env(display: str, bus_address: str, root: Path) -> dict[str, str]:
    """An environment for a subprocess on the test desktop, its dirs all under ``root``.

    A copy of ``os.environ`` with DISPLAY and DBUS_SESSION_BUS_ADDRESS set to the private
    ones, HOME and every XDG base dir under ``root`` (so platformdirs puts the app's config,
    state, logs and cache there), PYTHONUNBUFFERED=1, and nothing that picks a keyring
    backend: keyring chooses as it would on a user's desktop. ``NO_AT_BRIDGE=1`` keeps GTK
    from starting an accessibility bus that would outlive the test.
    """
    env = dict(os.environ)
    for name in (
        "PYTHON_KEYRING_BACKEND",
        "WAYLAND_DISPLAY",
        "XAUTHORITY",
        "GNOME_KEYRING_CONTROL",
        "SSH_AUTH_SOCK",
        "PYSTRAY_BACKEND",
        "PYTEST_CURRENT_TEST",
    ):
        env.pop(name, None)
    env.update(private_dirs(root))
    env.update(
        {
            "DISPLAY": display,
            "DBUS_SESSION_BUS_ADDRESS": bus_address,
            "XDG_SESSION_TYPE": "x11",
            "GDK_BACKEND": "x11",
            "NO_AT_BRIDGE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@pytest.fixture
def desktop_env(xvfb: str, session_bus: str, tmp_path: Path) -> dict[str, str]:
    """Environment dict for subprocesses on the private desktop (see make_desktop_env)."""
    return make_desktop_env(xvfb, session_bus, tmp_path / "desktop")


# --------------------------------------------------------------------------- xdotool


def _xdotool(display: str, *args: str) -> str:
    require_tools("xdotool")
    result = _run(["xdotool", *args], _display_env(display))
    if result.returncode != 0:
        raise RuntimeError(f"xdotool {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def move_mouse(display: str, x: int, y: int) -> None:
    """Move the real pointer to (x, y), waiting until the X server has moved it."""
    if mouse_location(display) == (x, y):
        return  # --sync would wait forever for a move that changes nothing
    _xdotool(display, "mousemove", "--sync", str(x), str(y))


def mouse_location(display: str) -> tuple[int, int]:
    """The pointer's position, from ``xdotool getmouselocation``."""
    fields = dict(
        part.split(":", 1) for part in _xdotool(display, "getmouselocation").split() if ":" in part
    )
    return int(fields["x"]), int(fields["y"])


def mouse_jiggle(display: str, n: int) -> None:
    """Make ``n`` one-pixel pointer moves (n motion events), ending where it started."""
    x, y = mouse_location(display)
    other = x + 1 if x + 1 < SCREEN[0] else x - 1
    args: list[str] = []
    for i in range(n):
        args += ["mousemove", str(other if i % 2 == 0 else x), str(y)]
    if n % 2:
        args += ["mousemove", str(x), str(y)]
    if args:
        _xdotool(display, *args)


def key(display: str, *keysyms: str, delay_ms: int = 50) -> None:
    """Press and release each keysym in turn: ``key(display, "Down", "Return")``."""
    _xdotool(display, "key", "--delay", str(delay_ms), *keysyms)


def click(display: str, button: int = 1) -> None:
    """Click a pointer button where the pointer is (1 left, 2 middle, 3 right)."""
    _xdotool(display, "click", str(button))


def screenshot(display: str, path: Path) -> PIL.Image.Image:
    """Save the whole screen to ``path`` (PNG) with ImageMagick's ``import``; return it."""
    from PIL import Image

    require_tools("import")
    result = _run(["import", "-window", "root", str(path)], _display_env(display), timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"import -window root failed: {result.stderr.strip()}")
    with Image.open(path) as image:
        image.load()
        copy: PIL.Image.Image = image.copy()
    return copy


# --------------------------------------------------------------------------- X windows


@dataclass(frozen=True)
class Window:
    """A viewable window, with its position in root (screen) coordinates.

    ``types`` are its ``_NET_WM_WINDOW_TYPE`` names without the prefix (``"POPUP_MENU"``,
    ``"TOOLTIP"``, ``"DOCK"``...); GTK sets them even on override-redirect popups.
    """

    id: int
    name: str
    wm_class: tuple[str, ...]
    x: int
    y: int
    width: int
    height: int
    types: tuple[str, ...] = ()
    override_redirect: bool = False

    @property
    def on_screen(self) -> bool:
        """Whether any of it is inside the screen (GTK parks helper windows at -100,-100)."""
        return self.x + self.width > 0 and self.y + self.height > 0 and self.width > 1

    @property
    def centre(self) -> tuple[int, int]:
        return self.x + self.width // 2, self.y + self.height // 2


@contextlib.contextmanager
def _x_connection(display: str) -> Iterator[Any]:
    from Xlib import display as xdisplay

    connection = xdisplay.Display(display)
    try:
        yield connection
    finally:
        connection.close()


def _describe(connection: Any, window: Any) -> Window | None:
    """A Window for an Xlib window that is viewable, or None (also when it just vanished)."""
    from Xlib import X
    from Xlib.error import XError

    try:
        attributes = window.get_attributes()
        if attributes.map_state != X.IsViewable:
            return None
        geometry = window.get_geometry()
        root = connection.screen().root
        origin = root.translate_coords(window, 0, 0)
        # _NET_WM_NAME (UTF-8) first: GTK writes WM_NAME as COMPOUND_TEXT once a title holds
        # a character outside Latin-1, and python-xlib reads WM_NAME only as STRING.
        utf8 = window.get_full_property(
            connection.intern_atom("_NET_WM_NAME"), connection.intern_atom("UTF8_STRING")
        )
        name = utf8.value if utf8 is not None else window.get_wm_name() or ""
        wm_class = window.get_wm_class() or ()
        type_property = window.get_full_property(
            connection.intern_atom("_NET_WM_WINDOW_TYPE"), X.AnyPropertyType
        )
        types = tuple(
            connection.get_atom_name(atom).removeprefix("_NET_WM_WINDOW_TYPE_")
            for atom in (type_property.value if type_property else ())
        )
    except XError:
        return None
    return Window(
        window.id,
        name if isinstance(name, str) else name.decode(errors="replace"),
        tuple(wm_class),
        origin.x,
        origin.y,
        geometry.width,
        geometry.height,
        types,
        bool(attributes.override_redirect),
    )


def _toplevels(connection: Any) -> list[Any]:
    return list(connection.screen().root.query_tree().children)


def _trayer_panel(connection: Any) -> Any | None:
    for window in _toplevels(connection):
        described = _describe(connection, window)
        if described and described.wm_class == ("panel", "trayer"):
            return window
    return None


def tray_icons(display: str) -> list[Window]:
    """The icons embedded (XEmbed) in trayer's panel, with their screen positions.

    trayer's panel holds one socket window per icon; the icon's own window (the client's
    plug, e.g. a Gtk.StatusIcon) is the socket's child.
    """
    icons = []
    with _x_connection(display) as connection:
        panel = _trayer_panel(connection)
        if panel is None:
            return []
        for socket in panel.query_tree().children:
            for plug in socket.query_tree().children:
                described = _describe(connection, plug)
                if described and described.width > 1 and described.height > 1:
                    icons.append(described)
    return icons


def app_windows(display: str) -> list[Window]:
    """Viewable ordinary top-level windows on screen (dialogs, main windows), not popups."""
    with _x_connection(display) as connection:
        windows = [_describe(connection, window) for window in _toplevels(connection)]
    return [w for w in windows if w and not w.override_redirect and w.on_screen]


def popup_windows(display: str) -> list[Window]:
    """Viewable override-redirect top-level windows on screen: menus, tooltips..."""
    with _x_connection(display) as connection:
        windows = [_describe(connection, window) for window in _toplevels(connection)]
    return [w for w in windows if w and w.override_redirect and w.on_screen]


def open_menus(display: str) -> list[Window]:
    """The popup and drop-down menus open on the screen (not tooltips)."""
    return [
        window
        for window in popup_windows(display)
        if {"POPUP_MENU", "DROPDOWN_MENU"} & set(window.types)
    ]


def _tray_manager_owned(display: str) -> bool:
    with _x_connection(display) as connection:
        atom = connection.intern_atom("_NET_SYSTEM_TRAY_S0")
        return bool(connection.get_selection_owner(atom))


# --------------------------------------------------------------------------- trayer


@dataclass(frozen=True)
class TrayHost:
    """A running trayer: the display it serves and its panel window."""

    display: str
    panel: Window

    def icons(self) -> list[Window]:
        return tray_icons(self.display)


@contextlib.contextmanager
def running_trayer(display: str, env: Mapping[str, str], workdir: Path) -> Iterator[TrayHost]:
    """Start trayer (a stand-alone XEmbed system tray) at the top right of ``display``.

    Ready means its panel is mapped and it owns the ``_NET_SYSTEM_TRAY_S0`` selection, so
    a tray icon started afterwards docks at once.
    """
    require_tools("trayer")
    require_module("Xlib", "python-xlib comes with pynput: run scripts/bootstrap")
    trayer_env = dict(env)
    trayer_env["DISPLAY"] = display
    trayer_env.setdefault("NO_AT_BRIDGE", "1")
    daemon = _Daemon(
        [
            "trayer",
            "--edge",
            "top",
            "--align",
            "right",
            "--widthtype",
            "request",
            "--height",
            "32",
            "--iconspacing",
            "2",
            "--transparent",
            "false",
            "--tint",
            "0x303030",
            "--SetDockType",
            "true",
            "--SetPartialStrut",
            "false",
        ],
        workdir / "trayer.log",
        env=trayer_env,
    )
    try:

        def ready() -> Window | None:
            daemon.check_alive()
            if not _tray_manager_owned(display):
                return None
            with _x_connection(display) as connection:
                panel = _trayer_panel(connection)
                return _describe(connection, panel) if panel is not None else None

        panel = wait_until(ready, what="trayer to map its panel and own _NET_SYSTEM_TRAY_S0")
        yield TrayHost(display, panel)
    finally:
        daemon.stop()


@pytest.fixture
def trayer(desktop_env: dict[str, str], tmp_path: Path) -> Iterator[TrayHost]:
    """trayer running on the test display; stopped after the test."""
    with running_trayer(desktop_env["DISPLAY"], desktop_env, tmp_path) as host:
        yield host


# --------------------------------------------------------------------------- the person


class Input:
    """Real pointer input on the Xvfb display."""

    def __init__(self, display: str) -> None:
        self.display = display
        self._x = 100

    def touch(self) -> float:
        """Move the pointer; returns the monotonic time just before the move."""
        self._x = 100 if self._x > 500 else self._x + 37
        before = time.monotonic()
        move_mouse(self.display, self._x, 200)
        return before


# --------------------------------------------------------------------------- screen lockers


@dataclass(frozen=True)
class Locker:
    """A running screen locker: its bus name, and its own command-line tool."""

    name: str
    command: str
    env: Mapping[str, str]
    daemon: _Daemon

    def run(self, *args: str) -> str:
        """``mate-screensaver-command --lock`` and the like; returns its output."""
        result = _run([self.command, *args], self.env)
        if result.returncode != 0:
            raise RuntimeError(f"{self.command} {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def alive(self) -> bool:
        return self.daemon.proc.poll() is None


@contextlib.contextmanager
def running_locker(
    program: str, bus_name: str, display: str, bus_address: str, workdir: Path
) -> Iterator[Locker]:
    """Start ``program --no-daemon`` (mate-screensaver, gnome-screensaver) on our display and bus.

    It gets private HOME and XDG dirs and GSettings in memory, so it reads and
    writes nothing of the real user's. Ready means it owns ``bus_name``.
    """
    command = f"{program}-command"
    require_tools(program, command)
    env = _display_env(display)
    env.update(private_dirs(workdir / program))
    env.update(
        {
            "DBUS_SESSION_BUS_ADDRESS": bus_address,
            "GSETTINGS_BACKEND": "memory",
            "NO_AT_BRIDGE": "1",
        }
    )
    daemon = _Daemon([program, "--no-daemon"], workdir / f"{program}.log", env=env)
    try:

        def owned() -> bool:
            daemon.check_alive()
            return name_has_owner(bus_address, bus_name)

        wait_until(owned, what=f"{program} to own {bus_name}")
        yield Locker(bus_name, command, env, daemon)
    finally:
        daemon.stop()


# --------------------------------------------------------------------------- sound server


@dataclass(frozen=True)
class SoundServer:
    """A running PulseAudio with a null source ``fakemic`` (a microphone nobody speaks into)
    and a null sink ``speakers`` (whose ``speakers.monitor`` is not a microphone)."""

    env: Mapping[str, str]
    workdir: Path

    @contextlib.contextmanager
    def recording(self, device: str = "fakemic") -> Iterator[_Daemon]:
        """``parecord --device=DEVICE``: a real recording stream (to /dev/null), while inside."""
        require_tools("parecord")
        daemon = _Daemon(
            ["parecord", f"--device={device}", "/dev/null"],
            self.workdir / f"parecord-{device}.log",
            env=self.env,
        )
        try:
            yield daemon
        finally:
            daemon.stop()

    def source_outputs(self) -> int:
        result = _run(["pactl", "list", "short", "source-outputs"], self.env)
        return len([line for line in result.stdout.splitlines() if line.strip()])


@contextlib.contextmanager
def running_pulseaudio(env: Mapping[str, str], workdir: Path) -> Iterator[SoundServer]:
    """``pulseaudio -n`` with only the native protocol, a null source and a null sink.

    Its socket is ``$XDG_RUNTIME_DIR/pulse/native`` of ``env`` (the test's private runtime
    dir), so a client with the same ``env`` finds it, and nothing else does.
    """
    require_tools("pulseaudio", "pactl")
    pulse_env = dict(env)
    pulse_env.pop("PULSE_SERVER", None)
    daemon = _Daemon(
        [
            "pulseaudio",
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--disable-shm=yes",
            "-L",
            "module-native-protocol-unix",
            "-L",
            "module-null-source source_name=fakemic",
            "-L",
            "module-null-sink sink_name=speakers",
        ],
        workdir / "pulseaudio.log",
        env=pulse_env,
    )
    try:

        def answers() -> bool:
            daemon.check_alive()
            return _run(["pactl", "info"], pulse_env).returncode == 0

        wait_until(answers, what="pulseaudio to answer pactl info")
        yield SoundServer(pulse_env, workdir)
    finally:
        daemon.stop()


# --------------------------------------------------------------------------- xfce4-panel

XFCONFD = Path("/usr/lib/x86_64-linux-gnu/xfce4/xfconf/xfconfd")

#: A top panel, 32 px high, holding only the systray plugin (which hosts StatusNotifierItems).
XFCE_PANEL_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="32"/>
      <property name="plugin-ids" type="array">
        <value type="int" value="1"/>
      </property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="systray"/>
  </property>
</channel>
"""


@contextlib.contextmanager
def running_xfce_panel(env: Mapping[str, str], workdir: Path) -> Iterator[None]:
    """openbox and xfce4-panel 4.18 (its systray owns org.kde.StatusNotifierWatcher).

    ``env`` has the display, the bus and the private dirs. The panel's config is written
    into ``$XDG_CONFIG_HOME`` first, and xfconfd (which the bus would start on demand with
    the bus's environment, reading the real user's files) is started here with ``env``.
    """
    require_tools("xfce4-panel", "openbox")
    if not XFCONFD.exists():
        _missing(f"missing {XFCONFD} (Debian: xfconf)")
    channel = Path(env["XDG_CONFIG_HOME"]) / "xfce4" / "xfconf" / "xfce-perchannel-xml"
    channel.mkdir(parents=True, exist_ok=True)
    (channel / "xfce4-panel.xml").write_text(XFCE_PANEL_XML)
    panel_env = {**env, "GSETTINGS_BACKEND": "memory", "NO_AT_BRIDGE": "1"}
    bus = env["DBUS_SESSION_BUS_ADDRESS"]
    daemons = []
    try:
        daemons.append(_Daemon([str(XFCONFD)], workdir / "xfconfd.log", env=panel_env))
        wait_until(lambda: name_has_owner(bus, "org.xfce.Xfconf"), what="xfconfd on the bus")
        daemons.append(_Daemon(["openbox", "--sm-disable"], workdir / "openbox.log", env=panel_env))
        daemons.append(_Daemon(["xfce4-panel"], workdir / "xfce4-panel.log", env=panel_env))

        def ready() -> bool:
            for daemon in daemons:
                daemon.check_alive()
            return name_has_owner(bus, "org.kde.StatusNotifierWatcher")

        wait_until(ready, what="xfce4-panel's systray to own org.kde.StatusNotifierWatcher")
        yield
    finally:
        for daemon in reversed(daemons):
            daemon.stop()


def find_colour(
    display: str, workdir: Path, rgb: tuple[int, int, int], box: tuple[int, int, int, int]
) -> tuple[int, int] | None:
    """The centre of the pixels within ``box`` close to ``rgb`` (an icon's fill), if any."""
    shot = screenshot(display, workdir / "find.png").convert("RGB").crop(box)
    xs, ys = [], []
    pixels = shot.load()
    assert pixels is not None
    for y in range(shot.height):
        for x in range(shot.width):
            r, g, b = pixels[x, y]  # type: ignore[misc]
            if abs(r - rgb[0]) + abs(g - rgb[1]) + abs(b - rgb[2]) < 60:
                xs.append(x)
                ys.append(y)
    if len(xs) < 10:
        return None
    return box[0] + sum(xs) // len(xs), box[1] + sum(ys) // len(ys)


# --------------------------------------------------------------------------- SNI menus


@dataclass(frozen=True)
class MenuNode:
    """One item of a StatusNotifierItem's exported menu (com.canonical.dbusmenu)."""

    label: str
    selectable: bool  # visible, enabled and not a separator: keyboard navigation stops here
    children: tuple[MenuNode, ...]


def _menu_node(layout: tuple[int, dict[str, tuple[str, Any]], list[tuple[str, Any]]]) -> MenuNode:
    _ident, props, children = layout
    value = {name: variant[1] for name, variant in props.items()}
    return MenuNode(
        label=str(value.get("label", "")),
        selectable=bool(value.get("enabled", True))
        and bool(value.get("visible", True))
        and value.get("type", "standard") != "separator",
        children=tuple(_menu_node(child) for _signature, child in children),
    )


def sni_menu(bus_address: str) -> MenuNode | None:
    """The menu of the one StatusNotifierItem registered with the panel, read live over D-Bus.

    ``None`` until an item is registered and exports its menu.
    """
    from presence_agent.dbus import Bus, CallFailed, Interface

    with Bus(bus_address) as bus:
        watcher = Interface(
            "org.kde.StatusNotifierWatcher",
            "/StatusNotifierWatcher",
            "org.kde.StatusNotifierWatcher",
        )
        items = bus.get(watcher, "RegisteredStatusNotifierItems") or []
        if len(items) != 1:
            return None
        # "bus-name/object/path" (or a bare bus name: the path is the spec's default).
        name, _, path = str(items[0]).partition("/")
        item = Interface(
            name, "/" + path if path else "/StatusNotifierItem", "org.kde.StatusNotifierItem"
        )
        menu_path = bus.get(item, "Menu")
        if not menu_path:
            return None
        try:
            _revision, layout = bus.call(
                Interface(name, str(menu_path), "com.canonical.dbusmenu"),
                "GetLayout",
                "iias",
                (0, -1, []),
            )
        except CallFailed:
            return None
    root = _menu_node(layout)
    return root if root.children else None


def menu_keys(menu: MenuNode, *labels: str) -> list[str]:
    """The keys that choose the item at ``labels`` (a path of labels) in a GTK menu just opened.

    GTK's keyboard navigation stops only at selectable items: the first Down selects the
    first of them, Right opens a submenu with its first item selected, Return activates.
    Counting from the live menu, not by hand, keeps a test right when the menu grows.
    """
    keys: list[str] = []
    node = menu
    for depth, label in enumerate(labels):
        stops = [child for child in node.children if child.selectable]
        matches = [i for i, child in enumerate(stops) if child.label == label]
        if len(matches) != 1:
            raise LookupError(f"{label!r} is not one selectable item of {[c.label for c in stops]}")
        [index] = matches
        keys += (["Right"] + ["Down"] * index) if depth else ["Down"] * (index + 1)
        node = stops[index]
    if node.children:
        raise LookupError(f"{labels[-1]!r} opens a submenu: name one of its items too")
    return [*keys, "Return"]
