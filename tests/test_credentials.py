"""The keyring wrapper, with an in-memory backend object (and keyring's own fail/null ones)."""

from __future__ import annotations

import os
import subprocess
import sys
import traceback

import pytest
from keyring.backends import fail, null
from keyring.errors import KeyringError, KeyringLocked, PasswordDeleteError, PasswordSetError

from presence_agent.credentials import SERVICE, Credentials, KeyringUnavailable

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
    assert Credentials(MemoryKeyring()).describe() == f"{__name__}.MemoryKeyring"


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
