"""The Redactor: the last net that keeps a registered secret out of every log line."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from presence_agent.logs import Redactor, setup

SECRET = "s3cr3t-Пароль-42"
OTHER = "another-secret-value"


class Captured:
    def __init__(self, logger: logging.Logger, stream: io.StringIO) -> None:
        self.logger = logger
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def redactor() -> Redactor:
    r = Redactor()
    r.add(SECRET)
    return r


@pytest.fixture
def log(request: pytest.FixtureRequest, redactor: Redactor) -> Iterator[Captured]:
    logger = logging.getLogger(f"test-logs.{request.node.name}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(redactor)
    logger.addHandler(handler)
    yield Captured(logger, stream)
    logger.removeHandler(handler)
    handler.close()


def test_secret_in_the_message(log):
    log.logger.warning(f"the secret is {SECRET}!")
    assert log.text == "WARNING the secret is <redacted>!\n"


def test_secret_in_the_arguments(log):
    log.logger.info("key %s secret %s", "agent-key", SECRET)
    log.logger.info("as repr %r", SECRET)
    log.logger.info("mapping %(s)s", {"s": SECRET})
    log.logger.info("nested %s", {"auth": f"token agent-key:{SECRET}"})
    assert SECRET not in log.text
    assert log.text.splitlines() == [
        "INFO key agent-key secret <redacted>",
        "INFO as repr '<redacted>'",
        "INFO mapping <redacted>",
        "INFO nested {'auth': 'token agent-key:<redacted>'}",
    ]


def test_secret_in_an_exception_traceback(log):
    def fail() -> None:
        raise ValueError(f"server said: bad secret {SECRET}")

    try:
        try:
            fail()
        except ValueError as inner:
            raise RuntimeError(f"wrapped {SECRET}") from inner
    except RuntimeError:
        log.logger.exception("request failed")
    text = log.text
    assert SECRET not in text
    assert text.startswith("ERROR request failed\nTraceback (most recent call last):")
    assert "ValueError: server said: bad secret <redacted>" in text
    assert "RuntimeError: wrapped <redacted>" in text
    assert "in fail" in text  # the traceback itself is kept


def test_exc_info_given_explicitly(log):
    error = OSError(f"cannot open {SECRET}")
    log.logger.error("no", exc_info=(OSError, error, None))
    assert SECRET not in log.text
    assert "OSError: cannot open <redacted>" in log.text


def test_traceback_already_formatted_by_another_handler(redactor):
    # An unfiltered handler first caches the traceback text on the record;
    # the redacting handler after it must not reuse that cache.
    logger = logging.getLogger("test-logs.cached")
    logger.propagate = False
    plain, redacted = io.StringIO(), io.StringIO()
    first, second = logging.StreamHandler(plain), logging.StreamHandler(redacted)
    second.addFilter(redactor)
    logger.addHandler(first)
    logger.addHandler(second)
    try:
        try:
            raise KeyError(SECRET)
        except KeyError:
            logger.exception("lookup")
    finally:
        for handler in (first, second):
            logger.removeHandler(handler)
            handler.close()
    assert SECRET in plain.getvalue()
    assert SECRET not in redacted.getvalue()
    assert "KeyError: '<redacted>'" in redacted.getvalue()


def test_every_registered_secret(log, redactor):
    redactor.add(OTHER)
    log.logger.info("%s and %s", SECRET, OTHER)
    assert log.text == "INFO <redacted> and <redacted>\n"


def test_empty_secret_is_ignored(log, redactor):
    redactor.add("")
    log.logger.info("nothing %s here", "secret-free")
    assert log.text == "INFO nothing secret-free here\n"


def test_records_without_secrets_are_left_as_they_are(redactor):
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "a %s b", ("c",), None)
    assert redactor.filter(record) is True
    assert (record.msg, record.args) == ("a %s b", ("c",))


def test_no_secret_registered_passes_everything():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "a %s", (SECRET,), None)
    assert Redactor().filter(record) is True
    assert record.getMessage() == f"a {SECRET}"


def test_setup_puts_the_redactor_on_the_log_file(tmp_path: Path, redactor, capsys):
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "websockets")}
    log_file = tmp_path / "logs" / "presence-agent.log"
    try:
        setup(log_file, "INFO", stderr=True, redactor=redactor)
        logger = logging.getLogger("presence_agent.test")
        logger.info("connected with %s", SECRET)
        logger.warning("refused %s", SECRET)
        logger.warning("already printed", extra={"shown": True})
        logging.getLogger("httpx").info("GET https://desk.example.com %s", SECRET)
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
        for name, old_level in quiet.items():
            logging.getLogger(name).setLevel(old_level)
    text = log_file.read_text(encoding="utf-8")
    assert SECRET not in text
    assert "connected with <redacted>" in text
    assert "refused <redacted>" in text
    assert "already printed" in text
    assert "GET https://desk.example.com" not in text  # httpx is quiet below WARNING
    err = capsys.readouterr().err
    assert SECRET not in err
    assert "presence-agent: refused <redacted>" in err
    assert "connected with" not in err  # the console shows warnings and up
    assert "already printed" not in err


def test_every_log_file_starts_with_the_version(tmp_path: Path) -> None:
    import logging

    from presence_agent import __version__
    from presence_agent.logs import VersionedFileHandler, header_line

    path = tmp_path / "log" / "presence-agent.log"
    path.parent.mkdir()
    handler = VersionedFileHandler(path, maxBytes=300, backupCount=2, encoding="utf-8")
    log = logging.getLogger("test-versioned")
    log.addHandler(handler)
    log.propagate = False
    try:
        for i in range(20):
            log.warning("line %d %s", i, "x" * 40)
    finally:
        log.removeHandler(handler)
        handler.close()
    files = [path, path.with_name(path.name + ".1"), path.with_name(path.name + ".2")]
    for file in files:
        first = file.read_text().splitlines()[0]
        assert first == header_line()
        assert first.startswith(f"presence-agent {__version__} (Python ")
    # Reopening an existing log does not add the line again.
    VersionedFileHandler(path, encoding="utf-8").close()
    assert path.read_text().count(header_line()) == 1


def test_warnings_before_the_log_existed_reach_it_at_debug(tmp_path: Path) -> None:
    import logging
    import warnings

    from presence_agent import quiet
    from presence_agent.logs import Redactor, setup

    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_show = warnings.showwarning
    root.handlers = []
    try:
        quiet.install()
        warnings.showwarning(UserWarning("XDG_RUNTIME_DIR is not set"), UserWarning, "x.py", 3)
        log_file = tmp_path / "log" / "presence-agent.log"
        setup(log_file, "DEBUG", stderr=False, redactor=Redactor())
        for handler in root.handlers:
            handler.flush()
        text = log_file.read_text()
        assert "(before the log started) UserWarning: XDG_RUNTIME_DIR is not set" in text
        assert " DEBUG presence_agent.warnings: " in text
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers, root.level = saved_handlers, saved_level
        warnings.showwarning = saved_show
