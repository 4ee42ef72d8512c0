"""The session-wide secrets scan: no API secret the tests used may end up in any file a test
left behind, or in anything the agent printed.

How it is wired (see tests/conftest.py):

- Suites register the secrets they hand to the agent with :func:`register_secret` (and the
  API key they paired it with, so the Basic form ``base64(key:secret)`` is looked for too).
  Constants named ``SECRET`` (or ending in ``_SECRET``) in every loaded ``tests.test_*``
  module are taken as well, so the existing suites (``tests.test_e2e_headless.SECRET``...)
  are covered without a change.
- :func:`install_output_recorder` wraps ``tests.agent_process.run_cli`` and
  ``AgentProcess`` (without changing what they do) so every captured stdout/stderr of the
  real executable is kept for the scan.
- After the whole session (every test and every fixture teardown done, so the agents' last
  log lines are written), :func:`session_findings` walks pytest's basetemp, where every
  test's HOME, XDG dirs, logs, keyring data and bus logs live, and the recorded outputs.
  conftest's ``pytest_sessionfinish`` turns any finding into a failed session (exit status
  1) and prints where each secret was found. A hook is used rather than a test that runs
  last because it cannot be deselected or reordered away (``-k``, a single file, ``-x``),
  and it runs after the session fixtures' teardown.

The scan is binary-safe and looks for each secret as UTF-8, UTF-16 (LE and BE), Latin-1
mojibake of its UTF-8 bytes, a JSON ``\\uXXXX`` escape, a Python bytes escape, both URL
encodings, and the base64 forms of ``key:secret`` and of the secret alone. Suites against a
hostile server also record what they read from the control channel and the streams they
capture themselves (:func:`record_output`). It never follows symlinks and reads
only regular files (a test may leave a FIFO or a link to ``/dev/zero`` behind on purpose).
"""

from __future__ import annotations

import base64
import functools
import json
import os
import stat
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = [
    "Finding",
    "forms",
    "install_output_recorder",
    "record_output",
    "register_secret",
    "scan_texts",
    "scan_tree",
    "session_findings",
]

#: Shorter "secrets" would be found by chance (and are not worth registering).
MIN_LENGTH = 8
#: A file is read in chunks this big, overlapping by the longest form.
_CHUNK = 4 << 20


@dataclass(frozen=True)
class Finding:
    """A secret (shown only by its first characters) found in ``where`` as ``form``."""

    where: str
    form: str
    hint: str

    def __str__(self) -> str:
        return f"{self.where}: secret {self.hint}... found ({self.form})"


class _Registry:
    """What the session registered. Thread use: any thread (the agent readers record)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.secrets: dict[str, set[str]] = {}
        self.outputs: list[tuple[str, str]] = []
        self.processes: list[Any] = []


_REGISTRY = _Registry()


def register_secret(secret: str, api_key: str | None = None) -> str:
    """Have the end-of-session scan look for ``secret`` (returned, for use in a constant)."""
    if len(secret) < MIN_LENGTH:
        raise ValueError(f"a registered secret needs at least {MIN_LENGTH} characters")
    with _REGISTRY.lock:
        keys = _REGISTRY.secrets.setdefault(secret, set())
        if api_key:
            keys.add(api_key)
    return secret


def record_output(where: str, text: str) -> None:
    """Keep something the agent printed, for the scan."""
    if text:
        with _REGISTRY.lock:
            _REGISTRY.outputs.append((where, text))


# -- forms of a secret -------------------------------------------------------------------------


def forms(secret: str, api_keys: Iterable[str] = ()) -> list[tuple[str, bytes]]:
    """Every byte string that would give ``secret`` away, named."""
    utf8 = secret.encode("utf-8")
    found: dict[bytes, str] = {}

    def add(name: str, data: bytes) -> None:
        if len(data) >= MIN_LENGTH:
            found.setdefault(data, name)

    add("UTF-8", utf8)
    add("UTF-16-LE", secret.encode("utf-16-le"))
    add("UTF-16-BE", secret.encode("utf-16-be"))
    add("Latin-1 mojibake", utf8.decode("latin-1").encode("utf-8"))
    add("JSON escape", json.dumps(secret)[1:-1].encode("ascii"))
    add("bytes escape", repr(utf8)[2:-1].encode("ascii"))
    add("base64(secret)", base64.b64encode(utf8).rstrip(b"="))
    # What a proxy's password or a query-encoded echo looks like (tests/test_e2e_hostile.py).
    add("URL-encoded", quote(secret, safe="").encode("ascii"))
    add("URL-encoded (form)", quote_plus(secret).encode("ascii"))
    for key in api_keys:
        pair = f"{key}:{secret}".encode()
        add("base64(key:secret)", base64.b64encode(pair).rstrip(b"="))
        add("urlsafe base64(key:secret)", base64.urlsafe_b64encode(pair).rstrip(b"="))
    return [(name, data) for data, name in found.items()]


def _hint(secret: str) -> str:
    return repr(secret[:3])


# -- scanning ----------------------------------------------------------------------------------


def _regular_files(root: Path) -> Iterator[Path]:
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*filenames, *dirnames]:
            path = Path(directory) / name
            try:
                info = path.lstat()
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                yield path


def _file_contains(path: Path, needles: list[bytes]) -> set[bytes]:
    longest = max(len(n) for n in needles)
    hits: set[bytes] = set()
    try:
        # O_NONBLOCK in case the file was swapped for a FIFO since it was listed.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return hits
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return hits
        tail = b""
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                return hits
            window = tail + chunk
            hits.update(n for n in needles if n not in hits and n in window)
            tail = window[-(longest - 1) :] if longest > 1 else b""


def scan_tree(root: Path, secrets: dict[str, set[str]]) -> list[Finding]:
    """Every regular file under ``root`` (links not followed) that holds any form of a secret."""
    table = [(s, name, data) for s, keys in secrets.items() for name, data in forms(s, keys)]
    if not table or not root.exists():
        return []
    needles = [data for _, _, data in table]
    findings = []
    for path in _regular_files(root):
        hits = _file_contains(path, needles)
        for secret, name, data in table:
            if data in hits:
                findings.append(Finding(str(path), name, _hint(secret)))
    return findings


def scan_texts(texts: Iterable[tuple[str, str]], secrets: dict[str, set[str]]) -> list[Finding]:
    """Captured outputs (``(where, text)``) that hold any form of a secret."""
    table = [(s, name, data) for s, keys in secrets.items() for name, data in forms(s, keys)]
    findings = []
    for where, text in texts:
        data = text.encode("utf-8", "surrogateescape")
        for secret, name, needle in table:
            if needle in data:
                findings.append(Finding(where, name, _hint(secret)))
    return findings


# -- what the session used ---------------------------------------------------------------------


def _constants() -> dict[str, set[str]]:
    """``SECRET``-named string constants of the loaded test modules, with their ``KEY``s."""
    found: dict[str, set[str]] = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("tests.test_") or module is None:
            continue
        values = vars(module)
        keys = {
            v
            for k, v in values.items()
            if (k == "KEY" or k.endswith("_KEY")) and isinstance(v, str) and v
        }
        for attr, value in values.items():
            named = attr == "SECRET" or attr.endswith("_SECRET")
            if named and isinstance(value, str) and len(value) >= MIN_LENGTH:
                found.setdefault(value, set()).update(keys)
    return found


def all_secrets() -> dict[str, set[str]]:
    secrets = _constants()
    with _REGISTRY.lock:
        for secret, keys in _REGISTRY.secrets.items():
            secrets.setdefault(secret, set()).update(keys)
    return secrets


def _outputs() -> list[tuple[str, str]]:
    with _REGISTRY.lock:
        outputs = list(_REGISTRY.outputs)
        processes = list(_REGISTRY.processes)
    for process in processes:
        where = getattr(process, "_secret_scan_where", "agent")
        outputs.append(
            (f"output of `presence-agent {' '.join(process.args)}` ({where})", process.output())
        )
    return outputs


def session_findings(basetemp: Path | None) -> list[Finding]:
    """Everything the session leaked: files under ``basetemp`` and the recorded outputs."""
    secrets = all_secrets()
    findings = scan_texts(_outputs(), secrets)
    if basetemp is not None:
        findings += scan_tree(basetemp, secrets)
    return findings


# -- recording the real agent's output ---------------------------------------------------------


def install_output_recorder() -> None:
    """Record what ``tests.agent_process`` captures from the real executable.

    ``run_cli`` is replaced by a wrapper in its module (so ``login``, and every suite that
    imports it after conftest has run, records its result), and each ``AgentProcess`` is
    remembered, to read its output at the end. Behaviour is unchanged.
    """
    from tests import agent_process

    if getattr(agent_process.run_cli, "_secret_scan", False):
        return
    original_run_cli = agent_process.run_cli

    @functools.wraps(original_run_cli)
    def run_cli(*args: Any, **kwargs: Any) -> Any:
        result = original_run_cli(*args, **kwargs)
        argv = " ".join(str(a) for a in (args[0] if args else kwargs.get("args", ())))
        where = f"output of `presence-agent {argv}` ({os.environ.get('PYTEST_CURRENT_TEST')})"
        record_output(where, f"{result.stdout or ''}\n{result.stderr or ''}")
        return result

    run_cli._secret_scan = True  # type: ignore[attr-defined]
    agent_process.run_cli = run_cli

    original_init = agent_process.AgentProcess.__init__

    @functools.wraps(original_init)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        with _REGISTRY.lock:
            self._secret_scan_where = os.environ.get("PYTEST_CURRENT_TEST", "agent")
            _REGISTRY.processes.append(self)

    agent_process.AgentProcess.__init__ = init  # type: ignore[method-assign]
