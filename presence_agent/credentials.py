"""The API secret, kept only in the OS credential store (keyring).

There is deliberately no fallback: with no usable store, the agent says how
to get one instead of writing the secret to a file.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Protocol, TextIO

SERVICE = "presence-agent"


def keyring_fix(platform: str = sys.platform, environ: Any = None) -> str:
    """What a person can do about a missing or failing keyring here, as written."""
    env = os.environ if environ is None else environ
    if platform == "darwin":
        return "open Keychain Access and unlock your login keychain, then try again"
    if platform in ("win32", "cygwin"):
        return "sign in to Windows as yourself (Credential Manager needs your own session)"
    if not env.get("DBUS_SESSION_BUS_ADDRESS") and not env.get("XDG_RUNTIME_DIR"):
        return (
            "run it in a terminal inside your desktop session, where your keyring runs"
            " (GNOME Keyring, package gnome-keyring, or KWallet); over ssh, su or cron"
            " there is none"
        )
    return (
        "start your desktop's keyring and unlock it: GNOME Keyring (Debian/Ubuntu:"
        " sudo apt install gnome-keyring, then log out and in) or KWallet with its"
        " Secret Service turned on; then try again"
    )


#: keyring's backend modules, in words a person knows.
_BACKEND_NAMES = {
    "keyring.backends.SecretService": "Secret Service (GNOME Keyring, KWallet or another)",
    "keyring.backends.libsecret": "Secret Service (through libsecret)",
    "keyring.backends.kwallet": "KWallet",
    "keyring.backends.macOS": "macOS Keychain",
    "keyring.backends.Windows": "Windows Credential Manager",
    "keyring.backends.chainer": "the OS keyrings, tried in turn",
}


def backend_label(backend: Any) -> str:
    """The keyring in use, as a person would call it (never a library class name)."""
    module = type(backend).__module__
    return _BACKEND_NAMES.get(module, f"a keyring plug-in ({type(backend).__name__})")


class KeyringUnavailable(Exception):
    """No usable OS credential store, or it refused us. The text says how to fix it."""


class SecretStore(Protocol):
    """What the running agent needs of the credential store."""

    def get(self, server: str, api_key: str) -> str | None: ...

    def delete(self, server: str, api_key: str) -> bool: ...


def _username(server: str, api_key: str) -> str:
    return f"{api_key}@{server}"


def _is_insecure(backend: Any) -> bool:
    module = type(backend).__module__
    # keyring's fail/null backends store nothing; keyrings.alt's file
    # backends keep secrets in plain or weakly "encrypted" files.
    return module.startswith(("keyring.backends.fail", "keyring.backends.null", "keyrings.alt"))


class Credentials:
    """Stores and reads the API secret. Thread use: any thread, one call at a time."""

    #: A Secret Service that takes calls but never answers must not hang the
    #: CLI or the reporter (the D-Bus library under keyring has no timeout).
    timeout = 15.0

    def __init__(self, backend: Any | None = None) -> None:
        self._explicit = backend
        self._direct: Any | None = None  # the Secret Service backend, once it answered

    def backend(self) -> Any:
        """The keyring backend in use, or :class:`KeyringUnavailable` if none is usable."""
        if self._explicit is None:
            direct = self._secret_service()
            if direct is not None:
                return direct
        return self._chosen()

    def _secret_service(self) -> Any | None:
        """keyring's Secret Service backend, where keyring's own choice would begin with it.

        keyring chooses by importing every backend it knows and comparing their
        priorities. On Linux that imports PyGObject and GLib for its libsecret
        backend (and the macOS and Windows shims): about 10 MB of RSS and 70 ms
        of start-up in every process that reads the keyring (``login``,
        ``doctor``, the agent's :class:`KeyringHelper`), only to end up with
        Secret Service anyway, which outranks libsecret (and is
        outranked by KWallet only on KDE). So where nothing else could win, go
        to it directly. With a keyring configured (``PYTHON_KEYRING_BACKEND``,
        ``keyringrc.cfg``), on KDE, or when no Secret Service answers, keyring
        chooses exactly as before.
        """
        if self._direct is not None:
            return self._direct
        if sys.platform in ("win32", "darwin", "cygwin") or os.environ.get(
            "PYTHON_KEYRING_BACKEND"
        ):
            return None
        if "KDE" in os.environ.get("XDG_CURRENT_DESKTOP", "").split(":"):
            return None
        from keyring.util import platform_

        if (Path(platform_.config_root()) / "keyringrc.cfg").exists():
            return None
        try:
            from keyring.backends import SecretService

            kind: Any = SecretService.Keyring
            if kind.priority <= 0:  # raises when no Secret Service answers
                return None
        except Exception:  # noqa: BLE001 - not usable here; keyring's own choice says why
            return None
        self._direct = kind()
        return self._direct

    def _chosen(self) -> Any:
        """The backend keyring itself chooses (or the one given to the constructor)."""
        if self._explicit is not None:
            backend = self._explicit
        else:
            import keyring
            from keyring.backends import chainer

            backend = keyring.get_keyring()
            if isinstance(backend, chainer.ChainerBackend):
                usable = [b for b in backend.backends if not _is_insecure(b)]
                if not usable:
                    raise KeyringUnavailable(f"no usable OS keyring was found: {keyring_fix()}")
                return backend
        if _is_insecure(backend):
            raise KeyringUnavailable(
                f"no usable OS keyring (the one configured keeps no secret safe): {keyring_fix()}"
            )
        return backend

    def describe(self) -> str:
        """The keyring in use, in words (see :func:`backend_label`)."""
        return backend_label(self.backend())

    def get(self, server: str, api_key: str) -> str | None:
        def read(backend: Any) -> Any:
            return backend.get_password(SERVICE, _username(server, api_key))

        secret = self._do("read", read)
        if secret is None and self._direct is not None:
            # keyring's own chain would look in its other backends too (KWallet, libsecret).
            secret = self._do("read", read, backend=self._chosen())
        return secret if isinstance(secret, str) else None

    def set(self, server: str, api_key: str, secret: str) -> None:
        self._do(
            "store",
            lambda b: b.set_password(SERVICE, _username(server, api_key), secret),
            secret=secret,
        )

    def delete(self, server: str, api_key: str) -> bool:
        """Remove the secret; ``False`` if there was none."""
        from keyring.errors import PasswordDeleteError

        def delete(backend: Any) -> bool:
            try:
                backend.delete_password(SERVICE, _username(server, api_key))
            except PasswordDeleteError:
                return False
            return True

        result: bool = self._do("remove", delete)
        if not result and self._direct is not None:
            result = self._do("remove", delete, backend=self._chosen())
        return result

    def _do(
        self, what: str, action: Any, secret: str | None = None, backend: Any | None = None
    ) -> Any:
        from keyring.errors import KeyringError

        backend = backend if backend is not None else self.backend()
        try:
            return _bounded(lambda: action(backend), self.timeout, what)
        except KeyringError as exc:
            # Keyring messages name the service and user at most, never the
            # secret; keep only the class and the first line to be sure.
            text = str(exc).replace(secret, "<redacted>") if secret else str(exc)
            detail = text.splitlines()[0][:200] if text else type(exc).__name__
            raise KeyringUnavailable(
                f"the OS keyring could not {what} the secret ({detail}); is it unlocked?"
                f" {keyring_fix()}"
            ) from None


def _bounded(call: Any, timeout: float, what: str) -> Any:
    """Run ``call`` on a helper thread and give up after ``timeout`` seconds."""
    import threading

    result: list[Any] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            error.append(exc)

    worker = threading.Thread(target=run, name="keyring", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise _no_answer(timeout, what)
    if error:
        raise error[0]
    return result[0] if result else None


def _no_answer(timeout: float, what: str) -> KeyringUnavailable:
    return KeyringUnavailable(
        f"the OS keyring did not answer within {timeout:g} s when asked to {what} the secret;"
        f" is a keyring prompt waiting, or is the service stuck? {keyring_fix()}"
    )


# -- the keyring helper: the same store, one short-lived child process away ------------------

#: The hidden ``presence-agent`` command that runs :func:`helper_main`.
HELPER_COMMAND = "_keyring-helper"
#: A request or an answer is a few hundred bytes; anything longer is not the other side talking.
_HELPER_MAX_LINE = 64 * 1024


class KeyringHelper:
    """The store of :class:`Credentials`, reached through a child process for each call.

    Why: keyring's Secret Service stack (secretstorage, cryptography, entry-point
    metadata) is about 9 MiB of resident memory that the agent would carry for
    its whole life only to read one secret when it connects. The child runs the
    ordinary :class:`Credentials` and answers over a pipe, so the secret is never
    in an argument, a file or the environment; and a keyring that never answers
    is ended with the child rather than leaving a blocked thread behind.

    Thread use: any thread, one call at a time.
    """

    def __init__(self, argv: list[str] | None = None, timeout: float | None = None) -> None:
        from presence_agent import selfexec

        self._argv = argv if argv is not None else selfexec.cli_argv(HELPER_COMMAND)
        #: The child bounds the keyring call itself (:attr:`Credentials.timeout`), with
        #: the clearer message; this also covers a child that cannot even start.
        self.timeout = timeout if timeout is not None else Credentials.timeout + 10

    def get(self, server: str, api_key: str) -> str | None:
        value = self._call("get", server, api_key)
        return value if isinstance(value, str) else None

    def delete(self, server: str, api_key: str) -> bool:
        return self._call("delete", server, api_key) is True

    def _call(self, op: str, server: str, api_key: str) -> Any:
        import subprocess

        from presence_agent import selfexec

        request = json.dumps({"op": op, "server": server, "api_key": api_key})
        try:
            done = subprocess.run(
                self._argv,
                input=request + "\n",
                capture_output=True,
                text=True,
                encoding="utf-8",
                timeout=self.timeout,
                check=False,
                **selfexec.child_options(),
            )
        except subprocess.TimeoutExpired:
            raise _no_answer(self.timeout, "read" if op == "get" else "remove") from None
        except OSError as exc:
            raise KeyringUnavailable(
                f"cannot start the keyring helper ({exc.strerror or type(exc).__name__})"
            ) from None
        # Its stderr is not passed on: the helper says everything worth saying in
        # its answer, and a crash's traceback is no message for a person.
        try:
            answer = json.loads(done.stdout[-_HELPER_MAX_LINE:].strip().splitlines()[-1])
            ok = answer["ok"]
        except (ValueError, IndexError, KeyError, TypeError):
            raise KeyringUnavailable(
                f"the keyring helper failed (exit {done.returncode}) without an answer;"
                " run `presence-agent doctor` to check the keyring"
            ) from None
        if ok is not True:
            raise KeyringUnavailable(str(answer.get("error", "the keyring helper failed"))[:500])
        return answer.get("value")


def helper_main(stdin: TextIO, stdout: TextIO, store: Credentials | None = None) -> int:
    """The child's side of :class:`KeyringHelper`: one request on stdin, one answer on stdout."""

    def answer(**fields: Any) -> None:
        stdout.write(json.dumps(fields) + "\n")
        stdout.flush()

    try:
        request = json.loads(stdin.readline(_HELPER_MAX_LINE))
        op, server, api_key = request["op"], request["server"], request["api_key"]
        if op not in ("get", "delete") or not all(isinstance(v, str) for v in (server, api_key)):
            raise TypeError(op)
    except (ValueError, KeyError, TypeError):
        answer(ok=False, error="the keyring helper got a request it does not understand")
        return 2
    store = store if store is not None else Credentials()
    try:
        value: Any = store.get(server, api_key) if op == "get" else store.delete(server, api_key)
    except KeyringUnavailable as exc:
        answer(ok=False, error=str(exc))
        return 0
    except Exception:  # noqa: BLE001 - the parent gets a line, never a traceback
        answer(ok=False, error=f"the OS keyring failed: {keyring_fix()}")
        return 0
    answer(ok=True, value=value)
    return 0
