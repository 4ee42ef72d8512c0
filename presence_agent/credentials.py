"""The API secret, kept only in the OS credential store (keyring).

There is deliberately no fallback: with no usable store, the agent says how
to get one instead of writing the secret to a file.
"""

from __future__ import annotations

from typing import Any

SERVICE = "presence-agent"
_FIX = (
    "install and start a Secret Service such as gnome-keyring or KWallet"
    " (on a desktop session it is usually there; `presence-agent doctor` checks it)"
)


class KeyringUnavailable(Exception):
    """No usable OS credential store, or it refused us. The text says how to fix it."""


def _username(server: str, api_key: str) -> str:
    return f"{api_key}@{server}"


def _is_insecure(backend: Any) -> bool:
    module = type(backend).__module__
    # keyring's fail/null backends store nothing; keyrings.alt's file
    # backends keep secrets in plain or weakly "encrypted" files.
    return module.startswith(("keyring.backends.fail", "keyring.backends.null", "keyrings.alt"))


class Credentials:
    """Stores and reads the API secret. Thread use: any thread, one call at a time."""

    def __init__(self, backend: Any | None = None) -> None:
        self._explicit = backend

    def backend(self) -> Any:
        """The keyring backend in use, or :class:`KeyringUnavailable` if none is usable."""
        if self._explicit is not None:
            backend = self._explicit
        else:
            import keyring
            from keyring.backends import chainer

            backend = keyring.get_keyring()
            if isinstance(backend, chainer.ChainerBackend):
                usable = [b for b in backend.backends if not _is_insecure(b)]
                if not usable:
                    raise KeyringUnavailable(f"no usable OS keyring was found: {_FIX}")
                return backend
        if _is_insecure(backend):
            name = type(backend).__module__
            raise KeyringUnavailable(f"no usable OS keyring ({name} keeps no secret safe): {_FIX}")
        return backend

    def describe(self) -> str:
        backend = self.backend()
        return f"{type(backend).__module__}.{type(backend).__name__}"

    def get(self, server: str, api_key: str) -> str | None:
        secret = self._do("read", lambda b: b.get_password(SERVICE, _username(server, api_key)))
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
        return result

    def _do(self, what: str, action: Any, secret: str | None = None) -> Any:
        from keyring.errors import KeyringError

        backend = self.backend()
        try:
            return action(backend)
        except KeyringError as exc:
            # Keyring messages name the service and user at most, never the
            # secret; keep only the class and the first line to be sure.
            text = str(exc).replace(secret, "<redacted>") if secret else str(exc)
            detail = text.splitlines()[0][:200] if text else type(exc).__name__
            raise KeyringUnavailable(
                f"the OS keyring could not {what} the secret ({detail}); is it unlocked? {_FIX}"
            ) from None
