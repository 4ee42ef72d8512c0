"""The reporter: the one thread that talks HTTP to the server.

It holds at most one status request, the newest (never a backlog), retries
what may succeed later with exponential backoff and full jitter, honours
``Retry-After``, and stops cold on 401/403 until the credentials change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from presence_agent.backoff import Backoff
from presence_agent.client import (
    Agent,
    Forbidden,
    LibredeskClient,
    LibredeskError,
    RateLimited,
    ServerError,
    Unauthorized,
)
from presence_agent.policy import Desired
from presence_agent.vocab import Dialect, ServerStatus, Source, Status, UnsupportedStatusError

log = logging.getLogger(__name__)

#: The only status each idle change may start from.
_IDLE_FROM = {Status.AWAY: Status.AVAILABLE, Status.AVAILABLE: Status.AWAY}

#: While signed out (401/403, no secret, keyring locked), how often to look for new
#: credentials in the keyring: at first, and at most. ``login``, ``logout`` and the tray
#: tell the running agent at once; this is for a keyring unlocked or edited by other means,
#: and each look starts a keyring helper process, so it slows down the longer nothing changes.
CREDENTIAL_RECHECK = 30.0
CREDENTIAL_RECHECK_MAX = 240.0


# -- what the reporter tells the engine -------------------------------------------


@dataclass(frozen=True)
class Connected:
    """The server answered ``GET /agents/me``: who we are, its dialect and status."""

    agent: Agent
    dialect: Dialect
    server: ServerStatus


@dataclass(frozen=True)
class Answered:
    asked: Desired
    server: ServerStatus


@dataclass(frozen=True)
class Refreshed:
    server: ServerStatus


@dataclass(frozen=True)
class Failed:
    """A request was given up for good; ``message`` says why, for a person."""

    asked: Desired | None
    message: str


@dataclass(frozen=True)
class Trouble:
    """The server cannot be reached or is failing; we keep trying. ``None`` when it is over."""

    message: str | None


@dataclass(frozen=True)
class SignedOut:
    """401/403: the credentials are refused (or missing). Nothing is retried until they change."""

    message: str


ReporterEvent = Connected | Answered | Refreshed | Failed | Trouble | SignedOut

#: Builds a client from the current credentials, or raises LibredeskError /
#: KeyringUnavailable with a message for a person. ``key`` identifies the
#: credentials, so a new login can be told from the refused one without the
#: reporter ever holding the secret itself.
ClientFactory = Callable[[], tuple[LibredeskClient, str]]


class Reporter:
    """The HTTP worker.

    Thread use: ``submit``, ``refresh``, ``credentials_changed``, ``stop`` and
    ``finish`` may be called from any thread; everything else runs on the
    reporter's own thread, which also calls ``on_event`` (so it must only post).
    """

    def __init__(
        self,
        client_factory: ClientFactory,
        on_event: Callable[[ReporterEvent], None],
        *,
        dialect_override: Dialect | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        push_live: Callable[[], bool] = lambda: False,
    ) -> None:
        self._factory = client_factory
        self._push_live = push_live
        self._on_event = on_event
        self._dialect_override = dialect_override
        self._backoff = backoff or Backoff(base=1.0, cap=60.0)
        self._clock = clock
        self._cond = threading.Condition()
        self._slot: Desired | None = None
        self._want_refresh = False
        self._need_connect = True
        self._signed_out_key: str | None = None
        self._signed_out = False
        self._recheck = CREDENTIAL_RECHECK
        self._recheck_at = 0.0
        self._wake_early = False
        self._stopping = False
        self._final_deadline: float | None = None
        self._final_done = threading.Event()
        self._final_ok = False
        self._client: LibredeskClient | None = None
        self._client_key: str | None = None
        #: The stored credentials changed: the client built from the old ones must go.
        self._client_stale = False
        self._connected = False
        self._thread = threading.Thread(target=self._run, name="reporter", daemon=True)

    # -- any thread ----------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def set_push_channel(self, live: Callable[[], bool]) -> None:
        """Tell the reporter how to know that server pushes are arriving (before start)."""
        self._push_live = live

    def submit(self, desired: Desired) -> None:
        """Ask for ``desired``; replaces any request not yet sent."""
        with self._cond:
            self._slot = desired
            self._cond.notify_all()

    def refresh(self) -> None:
        """Re-read the server's status soon (coalesced)."""
        with self._cond:
            self._want_refresh = True
            self._cond.notify_all()

    def reconnect(self) -> None:
        """Re-learn who we are and the dialect (after a resume, say)."""
        with self._cond:
            self._need_connect = True
            self._wake_early = True
            self._cond.notify_all()

    def credentials_changed(self) -> None:
        """``login`` stored new credentials (or ``logout`` removed them): use them at once."""
        with self._cond:
            self._client_stale = True
            self._signed_out = False
            self._signed_out_key = None
            self._need_connect = True
            self._wake_early = True
            self._cond.notify_all()

    def finish(self, final: Desired | None, timeout: float) -> bool:
        """Send ``final`` (if connected) within ``timeout`` seconds, then stop.

        Returns whether ``final`` reached the server. Bounded however the
        server behaves: a hanging request is abandoned with the thread.
        """
        deadline = self._clock() + timeout
        with self._cond:
            send = final is not None and self._connected and not self._signed_out
            self._slot = final if send else None
            self._want_refresh = False
            self._final_deadline = deadline
            self._wake_early = True
            self._cond.notify_all()
        if not self._thread.is_alive():
            return False
        delivered = self._final_done.wait(max(0.0, deadline - self._clock())) and send
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        return bool(delivered) and self._final_ok

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- reporter thread ---------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                job = self._next_job()
                if job is None:
                    return
                job()
        finally:
            self._final_done.set()
            if self._client is not None:
                self._client.close()

    def _next_job(self) -> Callable[[], None] | None:
        with self._cond:
            while True:
                if self._stopping:
                    return None
                if self._final_deadline is not None:
                    if self._slot is None:
                        self._final_done.set()
                        return None
                    return self._do_final
                if self._signed_out:
                    # Other wake-ups (a request, a refresh) change nothing while
                    # signed out: only the recheck's own time does.
                    remaining = self._recheck_at - self._clock()
                    if remaining > 0:
                        self._cond.wait(remaining)
                        continue
                    return self._check_new_credentials
                if self._need_connect:
                    return self._do_connect
                if self._slot is not None:
                    return self._do_put
                if self._want_refresh:
                    self._want_refresh = False
                    return self._do_refresh
                self._cond.wait()

    def _ensure_client(self) -> LibredeskClient:
        with self._cond:
            stale, self._client_stale = self._client_stale, False
        if stale:
            self._drop_client()
        if self._client is None:
            self._client, self._client_key = self._factory()
        return self._client

    def _drop_client(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None

    def _do_connect(self) -> None:
        def connect() -> None:
            client = self._ensure_client()
            agent = client.me()
            if self._dialect_override is not None:
                client.dialect = self._dialect_override
            else:
                client.detect_dialect(agent)
            assert client.dialect is not None
            server = client.read_status(agent.status_word)
            with self._cond:
                self._need_connect = False
                self._connected = True
            self._emit(Connected(agent, client.dialect, server))

        self._attempt(connect, asked=None)

    def _do_put(self) -> None:
        with self._cond:
            asked = self._slot
        if asked is None:
            return

        def put() -> None:
            client = self._ensure_client()
            if asked.source is Source.IDLE and not self._push_live():
                # Without a live push channel (a documented server has none;
                # a real one's /ws may be reconnecting) a change made elsewhere,
                # or the offline sweep, may have gone unseen, and an idle PUT
                # would overwrite it; the documented server cannot even say
                # who set an away. So look before an idle change.
                held = client.read_status(client.me().status_word)
                if held.status is not _IDLE_FROM[asked.status]:
                    with self._cond:
                        if self._slot == asked:
                            self._slot = None
                    # Not an answer to `asked`: the request was never made.
                    self._emit(Failed(asked, f"skipped: the server holds {held.status.value}"))
                    self._emit(Refreshed(held))
                    return
            server = client.set_status(asked)
            with self._cond:
                if self._slot == asked:
                    self._slot = None
            self._emit(Answered(asked, server))

        self._attempt(put, asked=asked)

    def _do_refresh(self) -> None:
        def refresh() -> None:
            client = self._ensure_client()
            agent = client.me()
            self._emit(Refreshed(client.read_status(agent.status_word)))

        self._attempt(refresh, asked=None)

    def _do_final(self) -> None:
        with self._cond:
            asked, self._slot = self._slot, None
            deadline = self._final_deadline
        if asked is None or deadline is None:
            return
        try:
            remaining = max(0.1, deadline - self._clock())
            server = self._ensure_client().set_status(asked, timeout=remaining)
        except (LibredeskError, UnsupportedStatusError) as exc:
            log.warning("could not report %s on the way out: %s", asked.status.value, exc)
        else:
            self._final_ok = server.status is asked.status
            self._emit(Answered(asked, server))
        self._final_done.set()

    def _check_new_credentials(self) -> None:
        with self._cond:
            self._recheck = min(self._recheck * 2, CREDENTIAL_RECHECK_MAX)
            self._recheck_at = self._clock() + self._recheck
        try:
            client, key = self._factory()
        except Exception:  # noqa: BLE001 - still signed out; the factory's text was logged once
            return
        with self._cond:
            if key == self._signed_out_key:
                client.close()
                return
            log.info("new credentials found; reconnecting")
            self._client, self._client_key = client, key
            self._signed_out = False
            self._need_connect = True

    def _attempt(self, action: Callable[[], None], asked: Desired | None) -> None:
        """Run one request; sort its failure into retry, give up, or sign out."""
        try:
            action()
        except (Unauthorized, Forbidden) as exc:
            self._sign_out(str(exc), asked)
        except LibredeskError as exc:
            if not exc.retryable:
                log.warning("%s", exc)
                self._drop_slot(asked)
                self._emit(Failed(asked, str(exc)))
                with self._cond:
                    connecting = self._need_connect
                if connecting:
                    # The connect stays due, so without a wait it would be
                    # retried at once, forever (a status word we do not
                    # know, a 4xx): try again later, like any failure.
                    self._sleep(self._backoff.next_delay())
                return
            self._emit(Trouble(str(exc)))
            retry_after = exc.retry_after if isinstance(exc, (RateLimited, ServerError)) else None
            delay = self._backoff.next_delay(retry_after)
            log.info("%s; retrying in %.1f s", exc, delay)
            self._sleep(delay)
            return
        except UnsupportedStatusError as exc:
            self._drop_slot(asked)
            self._emit(Failed(asked, str(exc)))
            return
        except Exception as exc:
            # The factory's own errors (keyring, config) land here: they are
            # written for a person already. Treat them like a refusal: wait
            # for new credentials rather than spin.
            from presence_agent.config import ConfigError
            from presence_agent.credentials import KeyringUnavailable

            if isinstance(exc, (KeyringUnavailable, ConfigError, CredentialsMissing)):
                self._sign_out(str(exc), asked)
                return
            raise
        else:
            if self._backoff.attempt:
                self._emit(Trouble(None))
            self._backoff.reset()

    def _drop_slot(self, asked: Desired | None) -> None:
        with self._cond:
            if asked is not None and self._slot == asked:
                self._slot = None

    def _sign_out(self, message: str, asked: Desired | None) -> None:
        log.error("%s; waiting for `presence-agent login`", message)
        with self._cond:
            self._signed_out = True
            self._recheck = CREDENTIAL_RECHECK
            self._recheck_at = self._clock() + CREDENTIAL_RECHECK
            self._signed_out_key = self._client_key
            self._need_connect = True
            self._connected = False
            slot, self._slot = self._slot, None
            self._drop_client()
        self._emit(SignedOut(message))
        for dropped in {asked, slot} - {None}:
            self._emit(Failed(dropped, message))

    def _sleep(self, seconds: float) -> None:
        """Back off, but wake for shutdown or new credentials (never for new requests)."""
        deadline = self._clock() + seconds
        with self._cond:
            self._wake_early = False
            while not (self._stopping or self._wake_early or self._final_deadline is not None):
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)

    def _emit(self, event: ReporterEvent) -> None:
        try:
            self._on_event(event)
        except Exception:
            log.exception("event handler failed for %s", type(event).__name__)


class CredentialsMissing(Exception):
    """No server, key or secret is configured: ``presence-agent login`` first."""
