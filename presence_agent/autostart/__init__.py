"""Start at login: one login item per OS, behind three calls.

* Linux and other XDG desktops: ``$XDG_CONFIG_HOME/autostart/presence-agent.desktop``.
* macOS: ``~/Library/LaunchAgents/io.github.presence-agent.plist``.
* Windows: the ``presence-agent`` value under
  ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``.

Every call takes where to look (``home``, ``env``, ``registry``) as parameters
that default to the real ones, so tests never touch the machine's login items.
The backend follows ``sys.platform`` unless ``platform`` or the environment
variable ``PRESENCE_AGENT_AUTOSTART`` (``xdg``, ``launchagent``, ``windows``) names one.

Which thread: all of this is plain blocking file or registry I/O of a few
hundred bytes; the CLI calls it directly and the tray may call it from a menu
callback.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from presence_agent.autostart._state import AutostartState
from presence_agent.autostart._windows import Registry
from presence_agent.i18n import ENGLISH, N_, Translator

if TYPE_CHECKING:
    from presence_agent.autostart._launchagent import LaunchAgent
    from presence_agent.autostart._windows import RunKey
    from presence_agent.autostart._xdg import XdgAutostart

__all__ = [
    "ENV_BACKEND",
    "START_DELAY_SECONDS",
    "AutostartState",
    "Registry",
    "cli",
    "disable",
    "enable",
    "entry_problem",
    "launch_command",
    "source_tree",
    "start_delay",
    "status",
    "tray_host_present",
]

ENV_BACKEND = "PRESENCE_AGENT_AUTOSTART"

#: How long ``run --start-delay`` in the Linux entry waits at most for a tray host.
#: It returns as soon as one exists, so this only costs time on a desktop with no
#: tray at all (plain GNOME without the AppIndicator extension).
START_DELAY_SECONDS = 20

_BACKENDS = ("xdg", "launchagent", "windows")
_POLL_SECONDS = 0.5


class _Backend(Protocol):
    def status(self) -> AutostartState: ...
    def enable(self, command: Sequence[str]) -> AutostartState: ...
    def disable(self) -> AutostartState: ...


def enable(
    command: Sequence[str] | None = None,
    *,
    platform: str | None = None,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    registry: Registry | None = None,
) -> AutostartState:
    """Create (or rewrite) the login item so it runs ``command``; by default, this install.

    Rewriting also clears a "switched off" mark left by the desktop or by
    :func:`disable` (``Hidden=true``, Task Manager's flag), so afterwards
    :func:`status` says enabled.
    """
    name = _backend_name(platform, env)
    if command is None:
        command = _default_command(name)
    if not command:
        raise ValueError("the autostart command is empty")
    return _backend(name, home, env, registry).enable(command)


def disable(
    *,
    platform: str | None = None,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    registry: Registry | None = None,
) -> AutostartState:
    """Remove the login item (on Linux, hide a system-wide one with ``Hidden=true``)."""
    name = _backend_name(platform, env)
    return _backend(name, home, env, registry).disable()


def status(
    *,
    platform: str | None = None,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    registry: Registry | None = None,
) -> AutostartState:
    """Whether the app will start at the next login, and which login item decides that."""
    name = _backend_name(platform, env)
    return _backend(name, home, env, registry).status()


def cli(
    action: str,
    out: TextIO,
    *,
    err: TextIO | None = None,
    platform: str | None = None,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    registry: Registry | None = None,
    tr: Translator = ENGLISH,
) -> int:
    """``presence-agent autostart enable|disable|status``: one line on ``out``, an exit code.

    0 when the action worked (``status`` answers 0 for both enabled and
    disabled); 1 when the login item could not be read or written; 2 for an
    unknown action. Problems go to ``err`` (standard error by default).
    """
    err = sys.stderr if err is None else err
    actions: dict[str, Callable[[], AutostartState]] = {
        "enable": lambda: enable(platform=platform, home=home, env=env, registry=registry),
        "disable": lambda: disable(platform=platform, home=home, env=env, registry=registry),
        "status": lambda: status(platform=platform, home=home, env=env, registry=registry),
    }
    if action not in actions:
        words = tr._("unknown autostart action {action}; use enable, disable or status")
        print(words.format(action=repr(action)), file=err)
        return 2
    try:
        state = actions[action]()
    except (OSError, ValueError) as exc:
        words = tr._("autostart {action} failed: {problem}")
        print(words.format(action=action, problem=exc), file=err)
        return 1
    print(state.describe(tr), file=out)
    problem = entry_problem(state, tr)
    if problem is not None:
        # A moved app or a deleted venv leaves an entry that fails silently at
        # every login; say so here rather than let the person wonder.
        words = tr._("warning: start at login {problem}; {hint}")
        print(words.format(problem=problem, hint=tr._(REINSTALL_HINT)), file=err)
    return 0


#: How to get a login item that lasts, in words and commands a person can follow.
REINSTALL_HINT = N_(
    "for a login item that lasts, install the app (pipx install presence-agent, or the"
    " .deb) and run `presence-agent autostart enable` from the installed app"
)


def entry_problem(state: AutostartState, tr: Translator = ENGLISH) -> str | None:
    """Why this login item will not (or may not) start the agent later, or ``None``."""
    if not state.enabled or not state.command:
        return None
    program = state.command[0]
    # Only absolute paths can be checked; a bare name is looked up on PATH at login.
    if not os.path.isabs(program):
        return None
    if not os.path.exists(program):
        return tr._("runs {program}, which no longer exists").format(program=program)
    tree = source_tree(program)
    if tree is not None:
        return tr._(
            "runs {program}, inside the source tree {tree}: deleting or moving that"
            " folder breaks it"
        ).format(program=program, tree=tree)
    return None


def source_tree(program: str) -> Path | None:
    """The presence-agent source checkout that ``program`` lives in (its dev venv), if any."""
    here = Path(os.path.abspath(program)).parent
    for directory in (here, *here.parents):
        if (directory / "pyproject.toml").is_file() and (
            directory / "presence_agent" / "__init__.py"
        ).is_file():
            return directory
    return None


def launch_command(
    *,
    executable: str | None = None,
    frozen: bool | None = None,
    platform: str | None = None,
    search_path: str | None = None,
) -> list[str]:
    """The absolute argv that starts the tray app as it is installed right now.

    * A PyInstaller build: ``[<the executable>, "run"]``.
    * Windows, from a venv or pipx: ``pythonw.exe -m presence_agent run``, because
      the ``presence-agent.exe`` launcher is a console program and would open a
      console window at every login (and closing it would quit the app).
    * A venv or pipx install: the ``presence-agent`` console script beside the
      interpreter.
    * Anything else (``pip install --user``, a source checkout):
      ``[<python>, "-m", "presence_agent", "run"]``, which needs nothing on PATH.

    Where a launcher on ``PATH`` (``search_path``, default ``$PATH``) is a link
    to that same program, the link is used instead: the .deb's
    ``/usr/bin/presence-agent`` (not the folder behind it, which an upgrade may
    move) and pipx's shim in ``~/.local/bin`` (which ``pipx reinstall`` keeps).

    ``sys.executable`` is used as it is, not resolved: in a venv it is a symlink
    to the base interpreter, and resolving it would lose the venv.
    """
    exe = sys.executable if executable is None else executable
    is_frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    plat = sys.platform if platform is None else platform
    windows = plat in ("win32", "cygwin", "windows")
    if is_frozen:
        return [_stable_launcher(os.path.abspath(exe), search_path), "run"]
    bin_dir = Path(os.path.abspath(exe)).parent
    if windows:
        pythonw = bin_dir / "pythonw.exe"
        if pythonw.is_file():
            return [str(pythonw), "-m", "presence_agent", "run"]
    script = bin_dir / ("presence-agent.exe" if windows else "presence-agent")
    if script.is_file():
        return [_stable_launcher(str(script), search_path), "run"]
    return [os.path.abspath(exe), "-m", "presence_agent", "run"]


def _stable_launcher(program: str, search_path: str | None) -> str:
    """A link on PATH to ``program`` (``/usr/bin/presence-agent``, pipx's shim), else itself."""
    name = os.path.basename(program)
    target = os.path.realpath(program)
    path = os.environ.get("PATH", "") if search_path is None else search_path
    for directory in path.split(os.pathsep):
        if not os.path.isabs(directory):
            continue  # a relative PATH entry means nothing at login
        candidate = os.path.join(directory, name)
        if (
            candidate != program
            and os.path.islink(candidate)
            and os.path.realpath(candidate) == target
        ):
            return candidate
    return program


def start_delay(
    seconds: float,
    *,
    ready: Callable[[], bool] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    env: Mapping[str, str] | None = None,
) -> bool:
    """Wait at most ``seconds`` for the desktop's tray host; ``True`` once it is there.

    This backs ``presence-agent run --start-delay SECONDS``, which the Linux
    autostart entry passes: desktops other than GNOME ignore
    ``X-GNOME-Autostart-Delay``, and a tray icon created before the panel exists
    can end up nowhere. ``ready`` defaults to a probe for a StatusNotifierWatcher
    or an X11 system tray on Linux, and to "ready at once" elsewhere.
    """
    if ready is None:
        ready = _default_ready(os.environ if env is None else env)
    deadline = clock() + seconds
    while not ready():
        remaining = deadline - clock()
        if remaining <= 0:
            return False
        sleep(min(_POLL_SECONDS, remaining))
    return True


def tray_host_present(env: Mapping[str, str] | None = None) -> bool:
    """Whether an X11/Wayland session has a tray host yet (Linux and other XDG desktops).

    A StatusNotifierWatcher on the session bus (AppIndicator) or an X11 system
    tray (XEmbed). Best effort: any failure to ask counts as "no".
    """
    from presence_agent.autostart._xdg import tray_host_present as probe

    return probe(os.environ if env is None else env)


def _default_ready(env: Mapping[str, str], platform: str = sys.platform) -> Callable[[], bool]:
    if platform in ("win32", "cygwin", "darwin"):
        return lambda: True
    return lambda: tray_host_present(env)


def _backend_name(platform: str | None, env: Mapping[str, str] | None) -> str:
    environ = os.environ if env is None else env
    name = platform or environ.get(ENV_BACKEND) or sys.platform
    if name in _BACKENDS:
        return name
    if name == "darwin":
        return "launchagent"
    if name in ("win32", "cygwin"):
        return "windows"
    if name.startswith(("linux", "freebsd", "openbsd", "netbsd", "dragonfly", "sunos")):
        return "xdg"
    raise ValueError(f"no autostart support for {name!r}; use one of {', '.join(_BACKENDS)}")


def _default_command(name: str) -> list[str]:
    command = launch_command(platform="windows" if name == "windows" else None)
    if name == "xdg":
        command += ["--start-delay", str(START_DELAY_SECONDS)]
    return command


def _backend(
    name: str,
    home: Path | None,
    env: Mapping[str, str] | None,
    registry: Registry | None,
) -> _Backend:
    home = Path.home() if home is None else home
    if name == "xdg":
        return _xdg_backend(home, os.environ if env is None else env)
    if name == "launchagent":
        return _launchagent_backend(home)
    return _windows_backend(registry)


def _xdg_backend(home: Path, env: Mapping[str, str]) -> XdgAutostart:
    from presence_agent.autostart._xdg import XdgAutostart

    return XdgAutostart.from_env(env, home, icon=_icon())


def _launchagent_backend(home: Path) -> LaunchAgent:
    from presence_agent.autostart._launchagent import LaunchAgent

    return LaunchAgent(home / "Library" / "LaunchAgents")


def _windows_backend(registry: Registry | None) -> RunKey:
    from presence_agent.autostart._windows import RunKey, WinRegistry

    return RunKey(WinRegistry() if registry is None else registry)


def _icon() -> str:
    """An icon file that outlives this process, else the icon-theme name.

    A wheel carries ``presence_agent/assets``; a source checkout has ``assets/``
    beside the package. A PyInstaller one-file build unpacks its files to a
    temporary directory that is gone once it exits, so it uses the theme name,
    which the .deb installs into the hicolor theme.
    """
    if not getattr(sys, "frozen", False):
        package = Path(__file__).resolve().parent.parent
        for assets in (package / "assets", package.parent / "assets"):
            icon = assets / "presence-agent.png"
            if icon.is_file():
                return str(icon)
    return "presence-agent"
