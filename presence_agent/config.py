"""The typed configuration, read from TOML: the admin's system-wide file, then the user's.

Bad values fail with an error that names the file and the key; a corrupt file
is never overwritten. The ``server`` URL is held to the same rules as at
``login`` (no plain ``http://`` to another machine unless ``allow_insecure_http``
is set, no credentials or query in it), so a hand-edited file cannot send the
secret where ``login`` would not.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, get_args

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from presence_agent.i18n import ENGLISH, M_, Message, Translator, verbatim
from presence_agent.paths import Paths
from presence_agent.routing import (
    DEFAULT_REASSIGN_AFTER,
    DEFAULT_STOP_ASSIGNMENTS_AFTER,
    IdlePlan,
    PlanError,
)
from presence_agent.schedule import NO_SCHEDULE, ScheduleError, ScheduleSpec
from presence_agent.vocab import AuthScheme

DialectChoice = Literal["auto", "documented", "libredesk"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
TrayTheme = Literal["auto", "light", "dark"]


@dataclass(frozen=True)
class Config:
    """Settings. Every field may be set in either config file."""

    #: Base URL of the Libredesk server, e.g. ``https://desk.example.com``.
    server: str | None = None
    api_key: str | None = None
    auth: AuthScheme = "token"
    #: Seconds without input before ``away``.
    away_after: float = 300.0
    #: Seconds without input before ``away_manual`` (no new conversations; real Libredesk
    #: only, docs/libredesk.md); 0 = never.
    stop_assignments_after: float = DEFAULT_STOP_ASSIGNMENTS_AFTER
    #: Seconds without input before ``away_and_reassigning`` (replies go back to the team);
    #: 0 = never.
    reassign_after: float = DEFAULT_REASSIGN_AFTER
    #: Seconds between ``/ws`` pings (real Libredesk only).
    keepalive_interval: float = 30.0
    #: Send ``offline`` when the agent quits (set false to keep the status).
    offline_on_quit: bool = True
    #: A PEM file of CA certificates to trust instead of the system store.
    ca_bundle: str | None = None
    #: Allow plain ``http://`` to a non-loopback server (the secret travels in clear).
    allow_insecure_http: bool = False
    dialect: DialectChoice = "auto"
    #: ``auto`` or a source name (see ``presence-agent doctor``).
    idle_source: str = "auto"
    #: Desktop notifications on idle changes.
    notifications: bool = True
    #: Follow screen lock (away while locked).
    lock_means_away: bool = True
    #: While the microphone or camera is in use (a call), hold idle detection off.
    hold_in_call: bool = True
    #: The tray icon's artwork: for a ``light`` or a ``dark`` panel, or ``auto`` (the desktop's
    #: setting; see presence_agent/tray/_theme.py).
    tray_theme: TrayTheme = "auto"
    #: The language of every word shown (``de``, ``pt_BR``...), or ``auto``: the desktop's
    #: (presence_agent/i18n.py). Logs stay English either way.
    language: str = "auto"
    log_level: LogLevel = "INFO"
    #: Working hours (``[schedule]``; see presence_agent/schedule.py). Merged key
    #: by key over the files, so an admin can preset the timezone and the end-of-shift
    #: action while each person sets their own hours.
    schedule: ScheduleSpec = NO_SCHEDULE

    def with_overrides(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


class ConfigError(Exception):
    """A config file is unreadable or holds a bad value. The text names the file and key.

    ``message`` is the words for a person (:meth:`render` in their language); ``str()`` is
    English, for logs.
    """

    def __init__(self, message: Message | str) -> None:
        self.message = message if isinstance(message, Message) else verbatim(message)
        super().__init__(str(self.message))

    def render(self, tr: Translator = ENGLISH) -> str:
        """The error in ``tr``'s language."""
        return self.message.render(tr)


#: A config file holds a few short lines; anything this big is not one (and is not read).
MAX_FILE_SIZE = 1 << 20


_FIELDS = {f.name: f for f in fields(Config)}
#: The longest duration a seconds key may hold (a week: anything longer is a typo).
MAX_SECONDS = 7 * 86400

#: Where a value was set: ``<file>: key 'name'`` (a :class:`Message`) or a flag (``--away-after``).
Where = Message | str
Validator = Callable[[Where, Any], Any]


def key_in(path: Path | str, key: str) -> Message:
    """``<file>: key 'name'``: where a config error points."""
    return M_("{file}: key {key}", file=str(path), key=repr(key))


def _string(where: Where, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(M_("{where} must be a string", where=where))
    return value


def _api_key(where: Where, value: Any) -> str:
    """One word of printable characters without ``:``, as ``login`` asks: it is sent in the
    ``Authorization`` header, where a control character or a line break would make the
    HTTP library refuse every request (and ``key:secret`` splits at the first colon)."""
    key = _string(where, value)
    if not key or len(key) > 256 or ":" in key:
        raise ConfigError(
            M_("{where} must be one word of at most 256 characters without ':'", where=where)
        )
    if any(ch.isspace() or not ch.isprintable() for ch in key):
        raise ConfigError(
            M_("{where} must be one word without spaces or control characters", where=where)
        )
    return key


def _flag(where: Where, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(M_("{where} must be true or false", where=where))
    return value


def _seconds(where: Where, value: Any) -> float:
    # bool is an int to Python, not to a person writing `away_after = true`.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(M_("{where} must be a number of seconds", where=where))
    if not 0 < value <= MAX_SECONDS:  # False for nan too
        raise ConfigError(
            M_(
                "{where} must be between 0 and {most} seconds, not {value}",
                where=where,
                most=MAX_SECONDS,
                value=str(value),
            )
        )
    return float(value)


def _language(where: Where, value: Any) -> str:
    from presence_agent.i18n import LANGUAGES, valid_language

    if not isinstance(value, str) or not valid_language(value):
        raise ConfigError(
            M_(
                '{where} must be "auto" or a language such as {languages}',
                where=where,
                languages=", ".join(LANGUAGES),
            )
        )
    return value


def _seconds_or_never(where: Where, value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        return 0.0
    try:
        return _seconds(where, value)
    except ConfigError:
        raise ConfigError(
            M_(
                "{where} must be a number of seconds (0 for never), at most {most}",
                where=where,
                most=MAX_SECONDS,
            )
        ) from None


def _one_of(choices: tuple[str, ...]) -> Validator:
    def check(where: Where, value: Any) -> str:
        if value not in choices:
            raise ConfigError(
                M_(
                    "{where} must be one of {choices}",
                    where=where,
                    choices=", ".join(map(repr, choices)),
                )
            )
        return str(value)

    return check


#: Every key's check, by name: what a value must be, and what it becomes. ``schedule`` is
#: a table with its own checks (presence_agent/schedule.py); see :func:`_check`.
_VALIDATORS: dict[str, Validator] = {
    "server": _string,
    "api_key": _api_key,
    "auth": _one_of(get_args(AuthScheme)),
    "away_after": _seconds,
    "stop_assignments_after": _seconds_or_never,
    "reassign_after": _seconds_or_never,
    "keepalive_interval": _seconds,
    "offline_on_quit": _flag,
    "ca_bundle": _string,
    "allow_insecure_http": _flag,
    "dialect": _one_of(get_args(DialectChoice)),
    "idle_source": _string,
    "notifications": _flag,
    "lock_means_away": _flag,
    "hold_in_call": _flag,
    "log_level": _one_of(get_args(LogLevel)),
    "tray_theme": _one_of(get_args(TrayTheme)),
    "language": _language,
}
if set(_VALIDATORS) | {"schedule"} != set(_FIELDS):  # pragma: no cover - any import fails
    raise AssertionError("every Config field needs exactly one validator in _VALIDATORS")


def _check(path: Path, key: str, value: Any) -> Any:
    if key == "schedule":
        # Checked here, converted in load(): the raw table is what a rewrite keeps.
        _schedule_values(path, value)
        return value
    validate = _VALIDATORS.get(key)
    if validate is None:
        known = ", ".join(sorted(_FIELDS))
        shown = repr(key) if len(key) <= 60 else f"{key[:60]!r}..."
        raise ConfigError(
            M_(
                "{file}: unknown key {key} (known keys: {known})",
                file=str(path),
                key=shown,
                known=known,
            )
        )
    return validate(key_in(path, key), value)


def _schedule_values(path: Path, table: Any) -> dict[str, Any]:
    from presence_agent import schedule

    try:
        return schedule.check_table(path, table)
    except ScheduleError as exc:
        raise ConfigError(str(exc)) from None


def read_file(path: Path, *, allow_locks: bool = False) -> dict[str, Any]:
    """One file's checked values. A missing file is empty.

    ``allow_locks``: a system-wide file, which may hold ``locked`` (checked by
    :func:`load_layers`); in the user's own file that key is an error.
    """
    raw = _read_bytes(path)
    if raw is None:
        return {}
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(M_("{file}: not UTF-8 text", file=str(path))) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            M_("{file}: not valid TOML: {problem}", file=str(path), problem=str(exc))
        ) from None
    except RecursionError:
        raise ConfigError(M_("{file}: not valid TOML: nested too deeply", file=str(path))) from None
    if LOCKED_KEY in data and not allow_locks:
        raise ConfigError(
            M_(
                "{where} belongs in a system-wide file only"
                " (an administrator's preset); remove it from this file",
                where=key_in(path, LOCKED_KEY),
            )
        )
    return {
        key: value if key == LOCKED_KEY else _check(path, key, value) for key, value in data.items()
    }


def _unreadable(path: Path, exc: OSError) -> Message:
    # The OS's own words (strerror) stay as the OS gave them.
    return M_("{file}: cannot read: {problem}", file=str(path), problem=str(exc.strerror or exc))


def _read_bytes(path: Path) -> bytes | None:
    """The file's bytes, ``None`` if missing; never blocks on a FIFO or reads a device."""
    try:
        # O_NONBLOCK: opening a FIFO would otherwise wait for a writer forever.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(_unreadable(path, exc)) from None
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = M_("not a regular file")  # a directory, a FIFO, a device
    elif info.st_size > MAX_FILE_SIZE:
        problem = M_("{size} bytes is too large for a config file", size=info.st_size)
    if problem is not None:
        os.close(fd)
        raise ConfigError(M_("{file}: cannot read: {problem}", file=str(path), problem=problem))
    with os.fdopen(fd, "rb") as handle:
        try:
            raw = handle.read(MAX_FILE_SIZE + 1)
        except OSError as exc:
            raise ConfigError(_unreadable(path, exc)) from None
    if len(raw) > MAX_FILE_SIZE:
        raise ConfigError(
            M_(
                "{file}: cannot read: {problem}",
                file=str(path),
                problem=M_("too large for a config file"),
            )
        )
    return raw


#: The key of a system-wide file that names the keys a user's file may not change.
LOCKED_KEY = "locked"


@dataclass(frozen=True)
class Layers:
    """The effective config and where each value came from.

    ``sources`` maps every key that some file set to that file (a key not in
    it has its default). ``locked`` maps each locked key to the system-wide
    file that locked it; ``refused`` lists the user's attempts to override one
    (the key and the user's file), which :func:`load` ignored.
    """

    config: Config
    sources: Mapping[str, Path]
    locked: Mapping[str, Path]
    refused: tuple[str, ...]
    user_file: Path
    #: The system-wide files that exist, most important first.
    site_files: tuple[Path, ...]
    #: System-wide files not read because another user could have written them, each with
    #: the warning that says so (see :func:`untrusted`).
    ignored: tuple[tuple[Path, Message], ...] = ()

    def source_of(self, key: str) -> Path | None:
        return self.sources.get(key)

    def refusal(self, key: str) -> Message:
        """The message for a user's file (or ``login``) that tries to change a locked key."""
        return M_(
            "{where} is set by your administrator in {preset} and locked there;"
            " the value in your file is ignored",
            where=key_in(self.user_file, key),
            preset=str(self.locked[key]),
        )


def _read_locks(path: Path, found: dict[str, Any]) -> tuple[str, ...]:
    raw = found.pop(LOCKED_KEY, None)
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(k, str) for k in raw):
        raise ConfigError(
            M_(
                '{where} must be a list of key names, e.g. ["server"]',
                where=key_in(path, LOCKED_KEY),
            )
        )
    unknown = [k for k in raw if k not in _FIELDS]
    if unknown:
        known = ", ".join(sorted(_FIELDS))
        raise ConfigError(
            M_(
                "{where} names unknown keys {unknown} (known keys: {known})",
                where=key_in(path, LOCKED_KEY),
                unknown=repr(unknown[:5]),
                known=known,
            )
        )
    return tuple(raw)


def load_layers(paths: Paths, *, user: bool = True) -> Layers:
    """The admin's files (least important last in ``site_config_dirs``), then the user's.

    A system-wide file may hold ``locked = ["server", ...]``: the user's file
    then cannot change those keys (its values are ignored and listed in
    ``refused``). ``user=False`` leaves the user's file out: what login compares
    against, so that it never copies a preset into the user's file.
    """
    from presence_agent.schedule import spec_from
    from presence_agent.urls import InsecureURL, normalize_server_url

    values: dict[str, Any] = {}
    schedule: dict[str, Any] = {}
    sources: dict[str, Path] = {}
    locked: dict[str, Path] = {}
    site_files: list[Path] = []

    def take(path: Path, found: dict[str, Any]) -> None:
        if "schedule" in found:
            # Merged key by key over the files (see Config.schedule).
            schedule.update(_schedule_values(path, found.pop("schedule")))
            sources["schedule"] = path
        values.update(found)
        sources.update(dict.fromkeys(found, path))

    ignored: list[tuple[Path, Message]] = []
    for path in reversed(paths.site_config_files):
        why = untrusted(path)
        if why is not None:
            warning = M_(
                "{file}: ignored: {why}; only root may be able to change it",
                file=str(path),
                why=why,
            )
            ignored.insert(0, (path, warning))
            continue
        found = read_file(path, allow_locks=True)
        if not found and not path.exists():
            continue
        site_files.insert(0, path)
        for key in _read_locks(path, found):
            locked.setdefault(key, path)
        take(path, found)
    refused: list[str] = []
    if user:
        found = read_file(paths.config_file)
        for key in [k for k in found if k in locked]:
            value = found.pop(key)
            if key == "schedule" or values.get(key, getattr(_DEFAULTS, key)) != value:
                refused.append(key)
        take(paths.config_file, found)
    if schedule:
        values["schedule"] = spec_from(schedule)
    server = values.get("server")
    if server is not None:
        try:
            values["server"] = normalize_server_url(
                server,
                allow_insecure_http=bool(values.get("allow_insecure_http", False)),
                opt_in="set allow_insecure_http = true in the config",
            )
        except InsecureURL as exc:
            raise ConfigError(
                M_(
                    "{where}: {problem}",
                    where=key_in(sources["server"], "server"),
                    problem=str(exc),
                )
            ) from None
    effective = plan_defaults(Config(**values), set(values))
    where: dict[str, Where] = {key: key_in(path, key) for key, path in sources.items()}
    check_plan(effective, where)
    bundle = values.get("ca_bundle")
    if bundle:
        from presence_agent.urls import ca_bundle_problem

        problem = ca_bundle_problem(bundle)
        if problem is not None:
            raise ConfigError(
                M_(
                    "{where}: {problem}",
                    where=key_in(sources["ca_bundle"], "ca_bundle"),
                    problem=problem,
                )
            )
    return Layers(
        config=effective,
        sources=sources,
        locked=locked,
        refused=tuple(refused),
        user_file=paths.config_file,
        site_files=tuple(site_files),
        ignored=tuple(ignored),
    )


def plan_defaults(cfg: Config, set_keys: Collection[str]) -> Config:
    """``cfg`` with the no-new-conversations step left out when nobody set it and its
    default would come before an ``away_after`` somebody set: no error over a key nobody
    wrote (``doctor`` prints the plan that results)."""
    if (
        "stop_assignments_after" not in set_keys
        and cfg.stop_assignments_after
        and cfg.stop_assignments_after <= cfg.away_after
    ):
        return dataclasses.replace(cfg, stop_assignments_after=0.0)
    return cfg


#: The keys of the idle plan (presence_agent/routing.py), in order.
PLAN_KEYS = ("away_after", "stop_assignments_after", "reassign_after")


def check_plan(cfg: Config, where: Mapping[str, Where]) -> IdlePlan:
    """The idle plan (presence_agent/routing.py), or :class:`ConfigError` naming where the key
    out of order was set: ``where`` maps a key to its file and key, or to its flag."""
    try:
        return IdlePlan.from_settings(
            cfg.away_after, cfg.stop_assignments_after, cfg.reassign_after
        )
    except PlanError as exc:
        place = where.get(exc.key) or M_("key {key} (its default)", key=repr(exc.key))
        text = str(exc).removeprefix(f"{exc.key}: ")
        raise ConfigError(M_("{where} {problem}", where=place, problem=text)) from None


def idle_plan(cfg: Config) -> IdlePlan:
    """The plan of a config that :func:`load` checked."""
    return check_plan(cfg, {})


def untrusted(path: Path) -> Message | None:
    """Why a system-wide config file must not be believed, or ``None``.

    It presets the server every user's secret goes to, so it counts only if no user
    but root (and the one running the agent) can change it: the file and every
    directory above it owned by root or by this user, and not writable by a group
    with other members or by everyone (a world-writable directory only if sticky,
    like /tmp, and then its entries are still checked). A missing file is no
    warning. Windows: its ACLs are not modes, so this check does not apply there.
    """
    if os.name != "posix":
        return None
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return M_("cannot be checked ({problem})", problem=str(exc.strerror))
    me = os.geteuid()
    entry, chain = path, [(path, info)]
    while entry.parent != entry:
        entry = entry.parent
        try:
            chain.append((entry, os.lstat(entry)))
        except OSError as exc:
            return M_(
                "{file} cannot be checked ({problem})", file=str(entry), problem=str(exc.strerror)
            )
    for where, st in chain:
        is_dir = stat.S_ISDIR(st.st_mode)
        if st.st_uid not in (0, me):
            return M_(
                "{file} belongs to another user ({user})",
                file=str(where),
                user=_user_name(st.st_uid),
            )
        if st.st_mode & stat.S_IWOTH and not (is_dir and st.st_mode & stat.S_ISVTX):
            return M_("{file} is writable by every user", file=str(where))
        if st.st_mode & stat.S_IWGRP and not (is_dir and st.st_mode & stat.S_ISVTX):
            others = _other_members(st.st_gid, me)
            if others:
                return M_(
                    "{file} is writable by group {group} ({members})",
                    file=str(where),
                    group=_group_name(st.st_gid),
                    members=", ".join(others),
                )
    return None


def _other_members(gid: int, me: int) -> list[str]:
    """The users other than root and ``me`` in group ``gid`` (as a supplementary or a
    primary group), a few at most."""
    import grp
    import pwd

    names: set[str] = set()
    with contextlib.suppress(KeyError):
        names.update(grp.getgrgid(gid).gr_mem)
    own: set[str] = set()
    for entry in pwd.getpwall():
        if entry.pw_gid == gid:
            names.add(entry.pw_name)
        if entry.pw_uid in (0, me):
            own.add(entry.pw_name)
    return sorted(names - own)[:3]


def _user_name(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _group_name(gid: int) -> str:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"


def load(paths: Paths) -> Config:
    """The effective config (see :func:`load_layers`)."""
    return load_layers(paths).config


_DEFAULTS = Config()


def update_user_file(paths: Paths, changes: Mapping[str, Any]) -> None:
    """Set keys in the user's file, keeping every other key. Atomic; never on a corrupt file."""
    update_file(paths.config_file, changes)


def update_file(path: Path, changes: Mapping[str, Any], *, system: bool = False) -> None:
    """Set keys in one config file, keeping every other key. Atomic; never on a corrupt file.

    ``system``: an administrator's preset file, which may also hold ``locked``
    (a list of key names; ``presence-agent preset --lock`` writes it).
    """
    import tomli_w

    current = read_file(path, allow_locks=system)  # raises on a corrupt file: not overwritten
    for key, value in changes.items():
        if value is None:
            current.pop(key, None)
        elif key == LOCKED_KEY and system:
            current[key] = list(_read_locks(path, {LOCKED_KEY: list(value)}))
        else:
            current[key] = _check(path, key, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            header = "presets for every user" if system else "settings"
            handle.write(f"# presence-agent {header}. See `presence-agent doctor`.\n".encode())
            tomli_w.dump(current, handle)
        if system:
            os.chmod(tmp, 0o644)  # every user reads the presets; mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
