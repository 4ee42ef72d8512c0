"""The typed configuration, read from TOML: the admin's system-wide file, then the user's.

Bad values fail with an error that names the file and the key; a corrupt file
is never overwritten. The ``server`` URL is held to the same rules as at
``login`` (no plain ``http://`` to another machine unless ``allow_insecure_http``
is set, no credentials or query in it), so a hand-edited file cannot send the
secret where ``login`` would not.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, get_args

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from presence_agent.client import AuthScheme
from presence_agent.paths import Paths
from presence_agent.schedule import NO_SCHEDULE, ScheduleError, ScheduleSpec

DialectChoice = Literal["auto", "documented", "libredesk"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


@dataclass(frozen=True)
class Config:
    """Settings. Every field may be set in either config file."""

    #: Base URL of the Libredesk server, e.g. ``https://desk.example.com``.
    server: str | None = None
    api_key: str | None = None
    auth: AuthScheme = "token"
    #: Seconds without input before ``away``.
    away_after: float = 300.0
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
    log_level: LogLevel = "INFO"
    #: Working hours (``[schedule]``; see presence_agent/schedule.py). Merged key
    #: by key over the files, so an admin can preset the timezone and the end-of-shift
    #: action while each person sets their own hours.
    schedule: ScheduleSpec = NO_SCHEDULE

    def with_overrides(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


class ConfigError(Exception):
    """A config file is unreadable or holds a bad value. The text names the file and key."""


#: A config file holds a few short lines; anything this big is not one (and is not read).
MAX_FILE_SIZE = 1 << 20


_FIELDS = {f.name: f for f in fields(Config)}
_POSITIVE = {"away_after", "keepalive_interval"}
_CHOICES: dict[str, tuple[str, ...]] = {
    "auth": get_args(AuthScheme),
    "dialect": get_args(DialectChoice),
    "log_level": get_args(LogLevel),
}


def _check(path: Path, key: str, value: Any) -> Any:
    if key == "schedule":
        # Checked here, converted in load(): the raw table is what a rewrite keeps.
        _schedule_values(path, value)
        return value
    field = _FIELDS.get(key)
    if field is None:
        known = ", ".join(sorted(_FIELDS))
        shown = repr(key) if len(key) <= 60 else f"{key[:60]!r}..."
        raise ConfigError(f"{path}: unknown key {shown} (known keys: {known})")
    kind = field.type
    where = f"{path}: key {key!r}"
    if kind in ("str | None", "str"):
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number of seconds")
        if key in _POSITIVE and not 0 < value <= 86400 * 7:
            raise ConfigError(f"{where} must be between 0 and 604800 seconds, not {value}")
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false")
        return value
    choices = _CHOICES[key]
    if value not in choices:
        raise ConfigError(f"{where} must be one of {', '.join(map(repr, choices))}")
    return value


def _schedule_values(path: Path, table: Any) -> dict[str, Any]:
    from presence_agent import schedule

    try:
        return schedule.check_table(path, table)
    except ScheduleError as exc:
        raise ConfigError(str(exc)) from None


def read_file(path: Path) -> dict[str, Any]:
    """One file's checked values. A missing file is empty."""
    raw = _read_bytes(path)
    if raw is None:
        return {}
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    return {key: _check(path, key, value) for key, value in data.items()}


def _read_bytes(path: Path) -> bytes | None:
    """The file's bytes, ``None`` if missing; never blocks on a FIFO or reads a device."""
    try:
        # O_NONBLOCK: opening a FIFO would otherwise wait for a writer forever.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = "not a regular file"  # a directory, a FIFO, a device
    elif info.st_size > MAX_FILE_SIZE:
        problem = f"{info.st_size} bytes is too large for a config file"
    if problem is not None:
        os.close(fd)
        raise ConfigError(f"{path}: cannot read: {problem}")
    with os.fdopen(fd, "rb") as handle:
        try:
            raw = handle.read(MAX_FILE_SIZE + 1)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_FILE_SIZE:
        raise ConfigError(f"{path}: cannot read: too large for a config file")
    return raw


def load(paths: Paths) -> Config:
    """The admin's files (least important last in ``site_config_dirs``), then the user's."""
    from presence_agent.client import InsecureURL, normalize_server_url
    from presence_agent.schedule import spec_from

    values: dict[str, Any] = {}
    schedule: dict[str, Any] = {}
    server_from: Path | None = None
    for path in (*reversed(paths.site_config_files), paths.config_file):
        found = read_file(path)
        if "server" in found:
            server_from = path
        if "schedule" in found:
            schedule.update(_schedule_values(path, found.pop("schedule")))
        values.update(found)
    if schedule:
        values["schedule"] = spec_from(schedule)
    server = values.get("server")
    if server is not None and server_from is not None:
        try:
            normalize_server_url(
                server,
                allow_insecure_http=bool(values.get("allow_insecure_http", False)),
                opt_in="set allow_insecure_http = true in the config",
            )
        except InsecureURL as exc:
            raise ConfigError(f"{server_from}: key 'server': {exc}") from None
    return Config(**values)


def update_user_file(paths: Paths, changes: Mapping[str, Any]) -> None:
    """Set keys in the user's file, keeping every other key. Atomic; never on a corrupt file."""
    import tomli_w

    current = read_file(paths.config_file)  # raises on a corrupt file: we don't overwrite it
    for key, value in changes.items():
        if value is None:
            current.pop(key, None)
        else:
            current[key] = _check(paths.config_file, key, value)
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=paths.config_dir)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(b"# presence-agent settings. See `presence-agent doctor`.\n")
            tomli_w.dump(current, handle)
        os.replace(tmp, paths.config_file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
