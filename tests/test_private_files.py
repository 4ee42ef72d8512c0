"""The person's files are theirs alone: state and log dirs 0700, log files 0600 (issue 16).

Real files in a temporary directory; what another local user could do with them is in
tests/test_local_users.py.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from presence_agent.logs import Redactor, VersionedFileHandler, setup
from presence_agent.paths import Paths, UnsafeDirectory, private_dir
from presence_agent.statefile import write_json

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger as logs.setup leaves it, restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_private_dir_creates_every_missing_parent_0700(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c"
    assert private_dir(target) == target
    for path in (tmp_path / "a", tmp_path / "a" / "b", target):
        assert mode(path) == 0o700, path
    assert (tmp_path / "a").is_dir()


def test_private_dir_tightens_an_existing_loose_dir(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o777)
    private_dir(loose)
    assert mode(loose) == 0o700


def test_private_dir_refuses_a_symlink_and_a_file(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    link = tmp_path / "link"
    link.symlink_to(elsewhere)
    with pytest.raises(UnsafeDirectory, match="symbolic link"):
        private_dir(link)
    assert mode(elsewhere) == 0o755  # never followed
    plain = tmp_path / "file"
    plain.write_text("")
    with pytest.raises(UnsafeDirectory, match="not a directory"):
        private_dir(plain)


def test_the_log_is_0600_in_0700_dirs(tmp_path: Path, root_logger: logging.Logger) -> None:
    paths = paths_in(tmp_path)
    setup(paths.log_file, "INFO", stderr=False, redactor=Redactor())
    logging.getLogger("presence_agent.test").warning("a line")
    assert mode(paths.log_file) == 0o600
    assert mode(paths.log_dir) == 0o700
    assert mode(paths.state_dir) == 0o700  # created by us, as the log dir's parent
    assert "a line" in paths.log_file.read_text()


def test_an_older_looser_log_and_its_rotations_are_tightened(
    tmp_path: Path, root_logger: logging.Logger
) -> None:
    paths = paths_in(tmp_path)
    paths.log_dir.mkdir(parents=True, mode=0o755)
    paths.log_dir.chmod(0o755)
    for name in ("presence-agent.log", "presence-agent.log.1", "presence-agent.log.3"):
        (paths.log_dir / name).write_text("old\n")
        (paths.log_dir / name).chmod(0o644)
    setup(paths.log_file, "INFO", stderr=False, redactor=Redactor())
    assert mode(paths.log_dir) == 0o700
    for name in ("presence-agent.log", "presence-agent.log.1", "presence-agent.log.3"):
        assert mode(paths.log_dir / name) == 0o600, name


def test_rotated_logs_stay_0600(tmp_path: Path) -> None:
    log_file = tmp_path / "x.log"
    handler = VersionedFileHandler(log_file, maxBytes=200, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    try:
        for number in range(40):
            handler.emit(logging.makeLogRecord({"msg": f"line {number} " + "x" * 30}))
    finally:
        handler.close()
    rotated = sorted(tmp_path.glob("x.log*"))
    assert [p.name for p in rotated] == ["x.log", "x.log.1", "x.log.2", "x.log.3"]
    assert {p.name: mode(p) for p in rotated} == dict.fromkeys((p.name for p in rotated), 0o600)


def test_a_symlink_planted_as_the_log_is_not_followed(
    tmp_path: Path, root_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = paths_in(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    victim.chmod(0o644)
    paths.log_dir.mkdir(parents=True)
    paths.log_file.symlink_to(victim)
    setup(paths.log_file, "INFO", stderr=False, redactor=Redactor())
    assert victim.read_text() == "keep\n"
    assert mode(victim) == 0o644
    err = capsys.readouterr().err
    assert f"cannot write the log {paths.log_file}" in err
    assert "Traceback" not in err


def test_state_files_are_written_in_a_private_dir(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    paths.state_dir.mkdir(parents=True)
    paths.state_dir.chmod(0o755)
    write_json(paths.state_dir / "timer.json", {"a": 1})
    assert mode(paths.state_dir) == 0o700
    assert mode(paths.state_dir / "timer.json") == 0o600


def paths_in(root: Path) -> Paths:
    state = root / "state" / "presence-agent"
    return Paths(
        config_dir=root / "config" / "presence-agent",
        state_dir=state,
        log_dir=state / "log",
        runtime_dir=root / "run" / "presence-agent",
    )


# -- the runtime dir ---------------------------------------------------------------------------


def test_a_runtime_dir_that_is_a_symlink_falls_back_to_the_state_dir(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = paths_in(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    paths.runtime_dir.parent.mkdir(parents=True)
    paths.runtime_dir.symlink_to(elsewhere)
    with caplog.at_level(logging.DEBUG, logger="presence_agent.paths"):
        chosen = paths.private_runtime_dir()
    assert chosen == paths.state_dir / "run"
    assert mode(chosen) == 0o700
    assert mode(elsewhere) == 0o755
    assert list(elsewhere.iterdir()) == []
    said = [r for r in caplog.records if "runtime dir: using" in r.getMessage()]
    assert [r.levelno for r in said] == [logging.DEBUG]
    assert "symbolic link" in said[0].getMessage()
    # A client never looks in the planted one.
    assert paths.usable_runtime_dirs() == (chosen,)


def test_clients_trust_no_loose_runtime_dir(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    assert paths.usable_runtime_dirs() == ()  # none yet: nothing running
    paths.runtime_dir.mkdir(parents=True)
    paths.runtime_dir.chmod(0o777)
    assert paths.usable_runtime_dirs() == ()
    assert paths.private_runtime_dir() == paths.runtime_dir  # ours: tightened and used
    assert paths.usable_runtime_dirs() == (paths.runtime_dir,)


def test_the_fallback_when_platformdirs_refuses(tmp_path: Path) -> None:
    paths = Paths(
        config_dir=tmp_path / "c",
        state_dir=tmp_path / "s",
        log_dir=tmp_path / "s" / "log",
        runtime_dir=tmp_path / "s" / "run",
        runtime_problem="runtime directory /tmp/runtime-0 is not a directory",
    )
    assert paths.runtime_dirs() == (tmp_path / "s" / "run",)
    assert paths.private_runtime_dir() == tmp_path / "s" / "run"


def test_a_log_dir_the_person_moved_by_a_symlink_is_followed_and_kept_private(
    tmp_path: Path, root_logger: logging.Logger
) -> None:
    paths = paths_in(tmp_path)
    elsewhere = tmp_path / "other-disk" / "logs"
    elsewhere.mkdir(parents=True)
    elsewhere.chmod(0o755)
    paths.state_dir.mkdir(parents=True)
    paths.log_dir.symlink_to(elsewhere)
    setup(paths.log_file, "INFO", stderr=False, redactor=Redactor())
    logging.getLogger("presence_agent.test").warning("moved")
    assert "moved" in (elsewhere / "presence-agent.log").read_text()
    assert mode(elsewhere) == 0o700
    assert mode(elsewhere / "presence-agent.log") == 0o600


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
def test_a_symlink_to_someone_elses_dir_is_refused_even_when_ours(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    theirs.chmod(0o777)
    os.chown(theirs, 54321, 54321)
    link = tmp_path / "log"
    link.symlink_to(theirs)
    with pytest.raises(UnsafeDirectory, match="another user"):
        private_dir(link, own_link=True)
    assert mode(theirs) == 0o777
