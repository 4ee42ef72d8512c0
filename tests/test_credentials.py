"""The keyring wrapper, with an in-memory backend object (and keyring's own fail/null ones)."""

from __future__ import annotations

import os
import subprocess
import sys
import traceback

import pytest
from keyring.backends import fail, null
from keyring.errors import KeyringError, KeyringLocked, PasswordDeleteError, PasswordSetError

from presence_agent.credentials import (
    SERVICE,
    Credentials,
    KeyringHelper,
    KeyringUnavailable,
    helper_main,
)

SERVER = "https://desk.example.com"
KEY = "agent-key"
SECRET = "s3cr3t-Пароль"


class MemoryKeyring:
    """A keyring backend kept in a dict."""

    def __init__(self) -> None:
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.store[(service, username)]
        except KeyError:
            raise PasswordDeleteError("no such password") from None


class BrokenKeyring(MemoryKeyring):
    """Every call fails the way a locked or crashed Secret Service does."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def get_password(self, service: str, username: str) -> str | None:
        raise self.error

    def set_password(self, service: str, username: str, password: str) -> None:
        raise self.error

    def delete_password(self, service: str, username: str) -> None:
        raise self.error


class PlaintextKeyring(MemoryKeyring):
    """Looks like keyrings.alt's file backend."""


PlaintextKeyring.__module__ = "keyrings.alt.file"


def assert_no_secret(exc: BaseException) -> None:
    for text in (str(exc), repr(exc), "".join(traceback.format_exception(exc))):
        assert SECRET not in text


# -- storing and reading -----------------------------------------------------------------------


def test_set_get_delete():
    backend = MemoryKeyring()
    creds = Credentials(backend)
    assert creds.get(SERVER, KEY) is None
    creds.set(SERVER, KEY, SECRET)
    assert backend.store == {(SERVICE, f"{KEY}@{SERVER}"): SECRET}
    assert creds.get(SERVER, KEY) == SECRET
    assert creds.delete(SERVER, KEY) is True
    assert creds.get(SERVER, KEY) is None
    assert creds.delete(SERVER, KEY) is False


def test_secrets_are_per_server_and_key():
    creds = Credentials(MemoryKeyring())
    creds.set(SERVER, KEY, "one")
    creds.set("https://other.example.com", KEY, "two")
    creds.set(SERVER, "other-key", "three")
    assert creds.get(SERVER, KEY) == "one"
    assert creds.get("https://other.example.com", KEY) == "two"
    assert creds.get(SERVER, "other-key") == "three"


def test_set_replaces():
    creds = Credentials(MemoryKeyring())
    creds.set(SERVER, KEY, "old")
    creds.set(SERVER, KEY, SECRET)
    assert creds.get(SERVER, KEY) == SECRET


def test_a_non_string_from_the_backend_is_no_secret():
    backend = MemoryKeyring()
    backend.store[(SERVICE, f"{KEY}@{SERVER}")] = b"bytes"  # type: ignore[assignment]
    assert Credentials(backend).get(SERVER, KEY) is None


def test_describe_names_the_backend():
    assert Credentials(MemoryKeyring()).describe() == "a keyring plug-in (MemoryKeyring)"


# -- no unsafe stores --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "backend",
    [fail.Keyring(), null.Keyring(), PlaintextKeyring()],
    ids=["fail", "null", "keyrings.alt"],
)
def test_stores_that_keep_nothing_safe_are_refused(backend):
    creds = Credentials(backend)
    for action in (
        creds.backend,
        creds.describe,
        lambda: creds.get(SERVER, KEY),
        lambda: creds.set(SERVER, KEY, SECRET),
        lambda: creds.delete(SERVER, KEY),
    ):
        with pytest.raises(KeyringUnavailable) as info:
            action()
        message = str(info.value)
        assert "gnome-keyring" in message
        assert "KWallet" in message
        assert_no_secret(info.value)
    if isinstance(backend, PlaintextKeyring):
        assert backend.store == {}  # nothing was written to the "file"


@pytest.mark.parametrize(
    "backend", ["keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"]
)
def test_the_systems_default_store_is_checked_too(backend):
    # keyring's own override, in a child so this process's keyring is untouched.
    code = (
        "from presence_agent.credentials import Credentials, KeyringUnavailable\n"
        "try:\n"
        "    Credentials().set('https://desk.example.com', 'k', 'v')\n"
        "except KeyringUnavailable as exc:\n"
        "    print('refused:', exc)\n"
        "else:\n"
        "    print('stored')\n"
    )
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": backend}
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refused: ")
    assert "gnome-keyring" in result.stdout
    assert "KWallet" in result.stdout


# -- backend failures --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        KeyringLocked("Prompt dismissed."),
        KeyringError("Failed to unlock the collection!"),
        PasswordSetError("Failed to store the password"),
        KeyringError(),
    ],
)
def test_keyring_errors_become_keyring_unavailable(error):
    creds = Credentials(BrokenKeyring(error))
    for what, action in (
        ("read", lambda: creds.get(SERVER, KEY)),
        ("store", lambda: creds.set(SERVER, KEY, SECRET)),
        ("remove", lambda: creds.delete(SERVER, KEY)),
    ):
        with pytest.raises(KeyringUnavailable) as info:
            action()
        message = str(info.value)
        assert message.startswith(f"the OS keyring could not {what} the secret (")
        assert (str(error).splitlines()[0] if str(error) else type(error).__name__) in message
        assert "unlocked" in message
        assert "gnome-keyring" in message
        assert info.value.__cause__ is None
        assert info.value.__suppress_context__ is True
        assert_no_secret(info.value)


def test_a_backend_error_quoting_the_secret_does_not_pass_it_on():
    # Whatever a backend puts in its message, the secret must not come out.
    creds = Credentials(BrokenKeyring(PasswordSetError(f"cannot store {SECRET!r} for you")))
    with pytest.raises(KeyringUnavailable) as info:
        creds.set(SERVER, KEY, SECRET)
    assert_no_secret(info.value)
    assert "cannot store" in str(info.value)


def test_multi_line_backend_errors_are_cut_to_the_first_line():
    creds = Credentials(BrokenKeyring(KeyringError("first line\nsecond line\n" + "x" * 500)))
    with pytest.raises(KeyringUnavailable) as info:
        creds.get(SERVER, KEY)
    assert "first line" in str(info.value)
    assert "second line" not in str(info.value)


def test_other_backend_errors_are_not_hidden():
    # Not a keyring failure: a bug, which must surface as itself.
    creds = Credentials(BrokenKeyring(RuntimeError("bug")))
    with pytest.raises(RuntimeError):
        creds.get(SERVER, KEY)


class HangingKeyring(MemoryKeyring):
    """A Secret Service that takes the call and never answers."""

    def __init__(self) -> None:
        super().__init__()
        import threading

        self.release = threading.Event()

    def get_password(self, service, username):
        self.release.wait(30)


def test_a_keyring_that_never_answers_is_an_error_not_a_hang():
    import time

    backend = HangingKeyring()
    credentials = Credentials(backend=backend)
    credentials.timeout = 0.3
    began = time.monotonic()
    try:
        with pytest.raises(KeyringUnavailable, match=r"did not answer within 0\.3 s"):
            credentials.get("https://desk.example.com", "key")
    finally:
        backend.release.set()
    assert time.monotonic() - began < 2


# -- the keyring helper: the running agent's way to the same store ------------------------------


def ask_helper(store: Credentials, line: str) -> tuple[int, dict]:
    import io
    import json

    out = io.StringIO()
    code = helper_main(io.StringIO(line), out, store)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, lines
    return code, json.loads(lines[0])


def request(op: str, server: str = SERVER, key: str = KEY) -> str:
    import json

    return json.dumps({"op": op, "server": server, "api_key": key}) + "\n"


def test_the_helper_reads_and_removes_from_the_store():
    backend = MemoryKeyring()
    store = Credentials(backend)
    store.set(SERVER, KEY, SECRET)
    assert ask_helper(store, request("get")) == (0, {"ok": True, "value": SECRET})
    assert ask_helper(store, request("get", key="other")) == (0, {"ok": True, "value": None})
    assert ask_helper(store, request("delete")) == (0, {"ok": True, "value": True})
    assert backend.store == {}
    assert ask_helper(store, request("delete")) == (0, {"ok": True, "value": False})


@pytest.mark.parametrize(
    "line",
    [
        "",
        "not json\n",
        '{"op": "set", "server": "s", "api_key": "k"}\n',  # storing is login's, in its own process
        '{"op": "get", "server": 1, "api_key": "k"}\n',
        '{"op": "get", "server": "s"}\n',
        "[]\n",
    ],
)
def test_the_helper_refuses_requests_it_does_not_understand(line):
    code, answer = ask_helper(Credentials(MemoryKeyring()), line)
    assert code == 2
    assert answer["ok"] is False
    assert "does not understand" in answer["error"]


def test_the_helper_passes_keyring_errors_on_as_text():
    store = Credentials(BrokenKeyring(KeyringLocked("collection is locked")))
    code, answer = ask_helper(store, request("get"))
    assert code == 0
    assert answer["ok"] is False
    assert "collection is locked" in answer["error"]
    assert "is it unlocked?" in answer["error"]


def test_the_helper_turns_other_failures_into_a_line_without_their_text():
    store = Credentials(BrokenKeyring(RuntimeError(f"bug near {SECRET}")))
    _, answer = ask_helper(store, request("get"))
    assert answer["ok"] is False
    assert answer["error"].startswith("the OS keyring failed: ")
    assert "RuntimeError" not in answer["error"]  # no class names for people
    assert SECRET not in answer["error"]


def child(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_helper_that_never_answers_is_ended(tmp_path):
    import time

    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid()))"
    helper = KeyringHelper(child(code + "; time.sleep(60)"), timeout=1.0)
    began = time.monotonic()
    with pytest.raises(KeyringUnavailable, match=r"did not answer within 1 s") as caught:
        helper.get(SERVER, KEY)
    assert time.monotonic() - began < 5
    assert_no_secret(caught.value)
    pid = int(pid_file.read_text())
    # Killed and reaped, not left behind like a blocked thread.
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize(
    "code",
    [
        "import sys; sys.exit(1)",
        "print('Traceback (most recent call last):')",
        'print(\'{"value": "x"}\')',
        "print('[1, 2]')",
    ],
    ids=["silent crash", "not json", "no ok", "not an object"],
)
def test_a_helper_without_an_answer_is_a_clear_error(code):
    with pytest.raises(KeyringUnavailable, match=r"keyring helper failed .*doctor"):
        KeyringHelper(child(code)).get(SERVER, KEY)


def test_a_helper_that_cannot_start_is_a_clear_error(tmp_path):
    with pytest.raises(KeyringUnavailable, match=r"cannot start the keyring helper"):
        KeyringHelper([str(tmp_path / "missing")]).get(SERVER, KEY)


def test_the_helper_request_travels_on_stdin_not_in_argv(tmp_path):
    seen = tmp_path / "seen"
    code = (
        "import json, sys; line = sys.stdin.readline(); "
        f"open({str(seen)!r}, 'w').write(json.dumps([sys.argv, json.loads(line)])); "
        "print(json.dumps({'ok': True, 'value': 'from-the-helper'}))"
    )
    assert KeyringHelper(child(code)).get(SERVER, KEY) == "from-the-helper"
    import json

    argv, got = json.loads(seen.read_text())
    assert argv == ["-c"]
    assert got == {"op": "get", "server": SERVER, "api_key": KEY}


@pytest.mark.desktop
def test_the_helper_reads_the_real_keyring_from_a_hostile_directory(env, tmp_path, monkeypatch):
    """The running agent's path, for real: ``presence-agent _keyring-helper`` against
    gnome-keyring, started from a directory holding a ``keyring.py`` that must not be run."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    trap = tmp_path / "cwd"
    trap.mkdir()
    ran = tmp_path / "the-trap-ran"
    (trap / "keyring.py").write_text(f"open({str(ran)!r}, 'w').close()\nraise SystemExit(9)\n")
    monkeypatch.chdir(trap)

    Credentials().set(SERVER, KEY, SECRET)
    helper = KeyringHelper()
    assert helper.get(SERVER, KEY) == SECRET
    assert helper.get(SERVER, "another-key") is None
    assert helper.delete(SERVER, KEY) is True
    assert helper.get(SERVER, KEY) is None
    assert helper.delete(SERVER, KEY) is False
    assert not ran.exists()
