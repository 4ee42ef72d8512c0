"""Where the app keeps its files. platformdirs decides; tests pass their own.

Everything the app creates for itself (state, logs, the runtime dir) is private
to the person: directories 0700, so another local user reads neither the
away/available timeline in the log nor the control socket's address. A
directory the app finds looser is tightened; one owned by someone else, or a
symlink or a file where a directory should be, is refused (see
:func:`private_dir`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "presence-agent"

log = logging.getLogger(__name__)

#: The mode of every directory the app keeps for itself.
PRIVATE_DIR_MODE = 0o700


class UnsafeDirectory(OSError):
    """A directory the app needs is someone else's: another user's, a symlink, or a file."""


def private_dir(path: Path, *, own_link: bool = False) -> Path:
    """``path`` as a directory only this user can enter: created 0700 where missing
    (the parents it creates too), tightened to 0700 where looser.

    Raises :class:`UnsafeDirectory` when ``path`` is a symlink, not a directory,
    or owned by another user (checked with ``lstat`` after creating, and the mode
    changed through a descriptor opened with ``O_NOFOLLOW``, so a symlink swapped
    in meanwhile is refused rather than followed). Other ``OSError``s as ``mkdir``
    raises them. On Windows the profile's ACLs already keep the directory private:
    it is only created.

    ``own_link``: a symlink this user made is followed (the log or state dir moved
    to another disk, inside the person's home where nobody else can plant one),
    and its target held to the same rules. Never for the runtime dir, which may
    sit in /tmp.
    """
    missing: list[Path] = []
    probe = path
    while not os.path.lexists(probe) and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        # Made meanwhile (another of our processes): checked below like any.
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=PRIVATE_DIR_MODE)
    if os.name != "posix":
        path.mkdir(parents=True, exist_ok=True)
        return path
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        if not own_link or info.st_uid != os.geteuid():
            raise UnsafeDirectory(f"{path} is a symbolic link, not a directory of yours")
        target = path.resolve(strict=True)
        if os.path.islink(target):  # pragma: no cover - resolve follows every link
            raise UnsafeDirectory(f"{path} leads to a symbolic link")
        return private_dir(target)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeDirectory(f"{path} is not a directory")
    if info.st_uid != os.geteuid():
        raise UnsafeDirectory(f"{path} belongs to another user (uid {info.st_uid})")
    if stat.S_IMODE(info.st_mode) != PRIVATE_DIR_MODE:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            opened = os.fstat(fd)
            if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
                raise UnsafeDirectory(f"{path} was replaced while being made private")
            os.fchmod(fd, PRIVATE_DIR_MODE)
        finally:
            os.close(fd)
    return path


def _user_runtime_dir(dirs: object) -> tuple[Path | None, str]:
    """platformdirs' runtime dir, or ``None`` and why not.

    With ``XDG_RUNTIME_DIR`` unset, platformdirs falls back to ``/run/user/UID``
    and then to ``runtime-UID`` in the temporary directory, a name any local user
    can create first; it then raises ``PermissionError`` (rightly refusing it).
    That must not stop any command: the caller uses the state dir instead.
    """
    try:
        return Path(dirs.user_runtime_dir), ""  # type: ignore[attr-defined]
    except (OSError, RuntimeError) as exc:
        return None, str(exc)


@dataclass(frozen=True)
class Paths:
    """The app's directories. Nothing is created until something is written."""

    config_dir: Path
    state_dir: Path
    log_dir: Path
    runtime_dir: Path
    #: System-wide config dirs an admin presets, most important first
    #: (on Linux ``$XDG_CONFIG_DIRS``, by default ``/etc/xdg``).
    site_config_dirs: tuple[Path, ...] = ()
    #: Why the platform's runtime dir cannot be used (then ``runtime_dir`` is the
    #: fallback under the state dir), or empty.
    runtime_problem: str = ""

    @classmethod
    def default(cls, *, runtime_dir: bool = True) -> Paths:
        """The platform's directories. ``runtime_dir`` false: do not ask for the runtime dir
        (what only reads the config needs none, and asking may warn about it)."""
        import platformdirs

        dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False, multipath=True)
        state = Path(dirs.user_state_dir)
        runtime, problem = _user_runtime_dir(dirs) if runtime_dir else (None, "")
        site = tuple(Path(p) for p in dirs.site_config_dir.split(os.pathsep) if p)
        return cls(
            config_dir=Path(dirs.user_config_dir),
            state_dir=state,
            log_dir=Path(dirs.user_log_dir),
            runtime_dir=runtime or state / "run",
            site_config_dirs=site,
            runtime_problem=problem,
        )

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def site_config_files(self) -> tuple[Path, ...]:
        return tuple(d / "config.toml" for d in self.site_config_dirs)

    @property
    def log_file(self) -> Path:
        return self.log_dir / "presence-agent.log"

    @property
    def fallback_runtime_dir(self) -> Path:
        """Where the control socket and lock go when the runtime dir cannot be had."""
        return self.state_dir / "run"

    def runtime_dirs(self) -> tuple[Path, ...]:
        """Where a running agent's control channel may be, in the order the agent tries them
        (:meth:`private_runtime_dir`); clients look in each that is safely ours."""
        if self.runtime_dir == self.fallback_runtime_dir:
            return (self.runtime_dir,)
        return (self.runtime_dir, self.fallback_runtime_dir)

    def private_runtime_dir(self) -> Path:
        """The runtime dir, created private (0700): the control socket and lock live here.

        When it cannot be had (another local user made it first, a symlink or a file
        sits there, it cannot be created), the private fallback under the state dir,
        said once at debug level. Raises ``OSError`` only when neither can be had.
        """
        problems = [self.runtime_problem] if self.runtime_problem else []
        for candidate in self.runtime_dirs():
            try:
                private_dir(candidate)
            except OSError as exc:
                problems.append(str(exc))
                continue
            if problems:
                log.debug("runtime dir: using %s (%s)", candidate, "; ".join(problems))
            return candidate
        raise OSError(f"cannot create a private runtime directory: {'; '.join(problems)}")

    def usable_runtime_dirs(self) -> tuple[Path, ...]:
        """The runtime dirs a client may trust: existing, ours, private (never one
        planted by another user, who could put their own control socket there)."""
        return tuple(d for d in self.runtime_dirs() if _is_private_dir(d))


def _is_private_dir(path: Path) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if os.name != "posix":
        return stat.S_ISDIR(info.st_mode)
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and not stat.S_IMODE(info.st_mode) & 0o077
    )
