"""The reporter: the one thread that talks HTTP to the server.

Two parts, as h11 splits HTTP:

* :class:`ReporterMachine` decides, and does no I/O. It holds at most one
  status request, the newest (never a backlog), and keeps it through every
  retry, reconnect and re-read until the server has answered it. It retries
  what may succeed later with exponential backoff and full jitter, honours
  ``Retry-After``, and on 401/403 stops cold and looks for new credentials
  after 30, 60 and 120 s, then every 240 s (``login`` and the tray say so at
  once). Feed it events with the time (:meth:`ReporterMachine.handle`), ask it
  what to do (:meth:`ReporterMachine.poll`).
* :class:`Reporter` is its driver: one thread that performs what the machine
  asks with a :class:`~presence_agent.client.LibredeskClient` and feeds the
  results back, and passes the machine's news to the engine.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from presence_agent.backoff import Backoff
from presence_agent.client import (
    Forbidden,
    LibredeskClient,
    LibredeskError,
    RateLimited,
    ServerError,
    Unauthorized,
)
from presence_agent.events import (
    Answered,
    Connected,
    CredentialsRead,
    Desired,
    EngineInput,
    Failed,
    FailureKind,
    Finish,
    ForgetClient,
    Halt,
    LoadCredentials,
    MeRead,
    PutAnswered,
    ReadMe,
    Reconnect,
    Refresh,
    Refreshed,
    ReloadCredentials,
    ReporterAction,
    ReporterEvent,
    ReporterInput,
    ReporterRequest,
    ReporterResult,
    RequestFailed,
    Restarted,
    SendPut,
    SignedOut,
    Submit,
    Trouble,
    Wait,
)
from presence_agent.vocab import Dialect, ServerStatus, Status, UnsupportedStatusError
from presence_agent.worker import MachineDriver

log = logging.getLogger(__name__)

#: The only status each idle change may start from.
_IDLE_FROM = {Status.AWAY: Status.AVAILABLE, Status.AVAILABLE: Status.AWAY}


def _idle_may_change(desired: Desired, server: ServerStatus) -> bool:
    """Whether an idle change may still go out over what a look found the server holding.

    The plain away and return: from Available and from an away. On a real server also the
    later idle steps from idleness's own ``away`` or from an ``offline`` (the agent's own
    on quit, put back after a restart; an offline stops no routing there: docs/libredesk.md),
    and the return from an ``offline`` nobody chose here (the recovery: the policy never
    asks it otherwise).
    """
    if desired.no_assignments or desired.status is Status.REASSIGNING:
        if server.status is Status.OFFLINE:
            return True
        return server.status is Status.AWAY and server.by_idle is not False
    if desired.status is Status.AVAILABLE and server.status is Status.OFFLINE:
        return True
    return server.status is _IDLE_FROM.get(desired.status)


#: While signed out (401/403, no secret, keyring locked), when to look for new credentials:
#: after each of these in turn, then every last one. ``login``, ``logout`` and the tray tell
#: the running agent at once; this is for a keyring unlocked or edited by other means, and
#: each look starts a keyring helper process, so it slows down the longer nothing changes.
CREDENTIAL_RECHECKS = (30.0, 60.0, 120.0, 240.0)


class CredentialsMissing(Exception):
    """No server, key or secret is configured: ``presence-agent login`` first."""


class ReporterMachine:
    """The reporter's rules, with no I/O and no clock: stepped by its driver or by tests.

    One request is in flight at a time: :meth:`poll` hands out the next one
    and :meth:`handle` must get its result before :meth:`poll` is asked again.
    """

    def __init__(
        self,
        *,
        dialect_override: Dialect | None = None,
        backoff: Backoff | None = None,
        rechecks: tuple[float, ...] = CREDENTIAL_RECHECKS,
    ) -> None:
        self._dialect_override = dialect_override
        self.backoff = backoff or Backoff(base=1.0, cap=60.0)
        self._rechecks = rechecks
        #: The newest request not yet answered, and whether to look before sending it.
        self._desired: Desired | None = None
        self._look_first = False
        #: The request in ``_desired`` was looked at and may go out.
        self._looked: Desired | None = None
        #: The request a look in flight is for (a newer one may have come meanwhile).
        self._looking: Desired | None = None
        self._want_read = False
        self._need_client = True
        self._forget = False
        self._need_connect = True
        self._connected = False
        self._retry_at: float | None = None
        self._in_flight: ReporterRequest | None = None
        self._key: str | None = None
        self._signed_out = False
        self._refused_key: str | None = None
        self._recheck_step = 0
        self._recheck_at = 0.0
        self._finish: Finish | None = None
        self._final: Desired | None = None
        self._final_sent = False
        self._delivered = False

    # -- reading (tests, the driver) ---------------------------------------------------

    @property
    def desired(self) -> Desired | None:
        """The newest request not yet answered."""
        return self._desired

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def signed_out(self) -> bool:
        return self._signed_out

    # -- the machine -------------------------------------------------------------------

    def poll(self, now: float) -> ReporterAction:
        """What to do now: a request to perform, a :class:`Wait`, or :class:`Halt`."""
        if self._in_flight is not None:
            raise RuntimeError(f"{self._in_flight!r} is still in flight: handle its result first")
        action = self._next(now)
        if isinstance(action, (LoadCredentials, ReadMe, SendPut)):
            self._in_flight = action
        return action

    def _next(self, now: float) -> ReporterAction:
        if self._forget:
            self._forget = False
            return ForgetClient()
        if self._finish is not None:
            if self._final is not None and not self._final_sent and not self._need_client:
                remaining = self._finish.deadline - now
                if remaining > 0:
                    self._final_sent = True
                    return SendPut(self._final, timeout=max(0.1, remaining))
            return Halt(self._delivered)
        if self._signed_out:
            if now >= self._recheck_at:
                return LoadCredentials()
            return Wait(self._recheck_at)
        if self._retry_at is not None:
            if now < self._retry_at:
                return Wait(self._retry_at)
            self._retry_at = None
        if self._need_client:
            return LoadCredentials()
        if self._need_connect:
            return ReadMe("connect", self._dialect_override)
        if self._desired is not None:
            if self._look_first and self._looked != self._desired:
                self._looking = self._desired
                return ReadMe("look")
            return SendPut(self._desired)
        if self._want_read:
            return ReadMe("refresh")
        return Wait(None)

    def handle(self, now: float, event: ReporterInput) -> list[ReporterEvent]:
        """Take one event; returns what the engine must hear, in order."""
        out: list[ReporterEvent] = []
        match event:
            case Submit(desired=desired, look_first=look_first):
                if desired != self._desired:
                    self._looked = None
                self._desired, self._look_first = desired, look_first
            case Refresh():
                self._want_read = True
            case Reconnect():
                self._need_connect = True
                self._retry_at = None
            case ReloadCredentials():
                self._signed_out = False
                self._refused_key = None
                self._forget = True
                self._need_client = True
                self._need_connect = True
                self._retry_at = None
            case Finish(final=final):
                self._finish = event
                send = final is not None and self._connected and not self._signed_out
                self._final = final if send else None
                self._want_read = False
            case Restarted():
                # The driver lost its client with its thread; what was in flight is unknown.
                self._in_flight = None
                self._need_client = True
                self._need_connect = True
            case _:
                self._result(now, event, out)
        return out

    def _result(self, now: float, result: ReporterResult, out: list[ReporterEvent]) -> None:
        request, self._in_flight = self._in_flight, None
        if request is None:
            raise RuntimeError(f"{result!r} came with no request in flight")
        match result:
            case RequestFailed():
                self._failed(now, request, result, out)
                return
            case CredentialsRead(key=key):
                self._need_client = False
                if self._signed_out:
                    if key == self._refused_key:
                        self._forget = True  # still the refused credentials
                        self._need_client = True
                        self._schedule_recheck(now)
                        return
                    log.info("new credentials found; reconnecting")
                    self._signed_out = False
                    self._need_connect = True
                self._key = key
                return
            case MeRead(agent=agent, dialect=dialect, server=server):
                self._succeeded(out)
                assert isinstance(request, ReadMe)
                if request.purpose == "connect":
                    self._need_connect = False
                    self._connected = True
                    self._want_read = False  # the connect read it
                    out.append(Connected(agent, dialect, server))
                elif request.purpose == "refresh":
                    self._want_read = False
                    out.append(Refreshed(server))
                elif self._looking is not None and self._looking == self._desired:
                    # A look before an idle change (a newer request that came meanwhile
                    # makes it moot: that one goes out on its own terms).
                    desired = self._looking
                    if _idle_may_change(desired, server):
                        self._looked = desired
                    else:
                        # Someone else changed it: the idle change no longer applies. Not
                        # an answer to `desired`: the request was never made.
                        self._desired = None
                        held = server.status.value
                        out.append(Failed(desired, f"skipped: the server holds {held}"))
                        out.append(Refreshed(server))
            case PutAnswered(asked=asked, server=server):
                self._succeeded(out)
                if self._desired == asked:
                    self._desired = None
                if self._finish is not None and asked == self._final:
                    self._delivered = server.status is asked.status
                out.append(Answered(asked, server))

    def _succeeded(self, out: list[ReporterEvent]) -> None:
        if self.backoff.attempt:
            out.append(Trouble(None))
        self.backoff.reset()

    def _failed(
        self, now: float, request: ReporterRequest, failure: RequestFailed, out: list[ReporterEvent]
    ) -> None:
        asked = request.desired if isinstance(request, SendPut) else None
        if isinstance(request, ReadMe) and request.purpose == "look":
            asked = self._looking
        if self._finish is not None:
            if isinstance(request, SendPut):
                log.warning(
                    "could not report %s on the way out: %s",
                    request.desired.status.value,
                    failure.message,
                )
            return  # no retries on the way out: poll halts
        if failure.kind in (FailureKind.REFUSED, FailureKind.NO_CREDENTIALS):
            if self._signed_out:
                self._schedule_recheck(now)  # still nothing usable; said once already
                return
            self._sign_out(now, failure.message, asked, out)
            return
        if failure.kind is FailureKind.TRANSIENT:
            out.append(Trouble(failure.message))
            delay = self.backoff.next_delay(failure.retry_after)
            log.info("%s; retrying in %.1f s", failure.message, delay)
            self._retry_at = now + delay
            return
        # Permanent, or a status this server cannot hold: this request is given up.
        log.warning("%s", failure.message)
        if asked is not None and self._desired == asked:
            self._desired = None
        if isinstance(request, ReadMe) and request.purpose == "refresh":
            self._want_read = False
        out.append(Failed(asked, failure.message))
        if isinstance(request, (ReadMe, LoadCredentials)) and (
            self._need_connect or self._need_client
        ):
            # The connect stays due, so without a wait it would be retried at once,
            # forever (a status word we do not know, a 4xx): try again later.
            self._retry_at = now + self.backoff.next_delay()

    def _sign_out(
        self, now: float, message: str, asked: Desired | None, out: list[ReporterEvent]
    ) -> None:
        log.error("%s; waiting for `presence-agent login`", message)
        self._signed_out = True
        self._refused_key = self._key
        self._recheck_step = 0
        self._recheck_at = now + self._rechecks[0]
        self._forget = True
        self._need_client = True
        self._need_connect = True
        self._connected = False
        self._want_read = False
        self._retry_at = None
        self.backoff.reset()
        dropped = [d for d in dict.fromkeys((asked, self._desired)) if d is not None]
        self._desired = None
        out.append(SignedOut(message))
        out.extend(Failed(d, message) for d in dropped)

    def _schedule_recheck(self, now: float) -> None:
        self._recheck_step = min(self._recheck_step + 1, len(self._rechecks) - 1)
        self._recheck_at = now + self._rechecks[self._recheck_step]


#: Builds a client from the current credentials, or raises CredentialsMissing /
#: KeyringUnavailable / ConfigError with a message for a person. ``key`` identifies the
#: credentials, so a new login can be told from the refused one without the reporter ever
#: holding the secret itself.
ClientFactory = Callable[[], tuple[LibredeskClient, str]]


class Reporter(MachineDriver[ReporterInput, ReporterRequest]):
    """The HTTP worker: a :class:`ReporterMachine` and the I/O it asks for, on one thread
    (the loop is presence_agent/worker.py's :class:`~presence_agent.worker.MachineDriver`).

    Thread use: ``post``, ``finish``, ``stop`` and ``join`` from any thread;
    everything else on the reporter's own thread, which calls ``emit`` (so
    ``emit`` must only post to the engine) and performs every request.
    """

    machine: ReporterMachine

    def __init__(
        self,
        client_factory: ClientFactory,
        emit: Callable[[EngineInput], None],
        *,
        machine: ReporterMachine | None = None,
        clock: Callable[[], float] = time.monotonic,
        supervise_wait: Callable[[float], bool] | None = None,
    ) -> None:
        super().__init__(
            "reporter",
            machine or ReporterMachine(),
            emit,
            clock=clock,
            supervise_wait=supervise_wait,
            drain=True,  # the next request is for the newest status, never a backlog
        )
        self._factory = client_factory
        self._client: LibredeskClient | None = None
        self._halted = threading.Event()
        self._delivered = False

    # -- any thread -----------------------------------------------------------------------

    def finish(self, final: Desired | None, timeout: float) -> bool:
        """Send ``final`` (if connected) within ``timeout`` seconds, then stop.

        Returns whether ``final`` reached the server. Bounded however the
        server behaves: a hanging request is abandoned with the thread.
        """
        self.post(Finish(final, self._clock() + timeout))
        if not self.is_alive():
            return False
        done = self._halted.wait(max(0.0, timeout))
        self.stop()
        return done and self._delivered

    # -- reporter thread ------------------------------------------------------------------

    def restarted(self) -> None:
        self.feed(Restarted())

    def halted(self, halt: Halt) -> None:
        self._delivered = halt.delivered
        self._halted.set()

    def close(self) -> None:
        self._close_client()

    def perform(self, request: ReporterRequest) -> ReporterResult | None:
        """Do one request with the client; its outcome as an event for the machine.

        Errors the machine knows come back as :class:`RequestFailed`; anything
        else propagates to the supervisor.
        """
        try:
            return self._perform(request)
        except (Unauthorized, Forbidden) as exc:
            return RequestFailed(FailureKind.REFUSED, str(exc))
        except LibredeskError as exc:
            if not exc.retryable:
                return RequestFailed(FailureKind.PERMANENT, str(exc))
            retry_after = exc.retry_after if isinstance(exc, (RateLimited, ServerError)) else None
            return RequestFailed(FailureKind.TRANSIENT, str(exc), retry_after)
        except UnsupportedStatusError as exc:
            return RequestFailed(FailureKind.UNSUPPORTED, str(exc))
        except Exception as exc:
            # The factory's own errors are written for a person already.
            from presence_agent.config import ConfigError
            from presence_agent.credentials import KeyringUnavailable

            if isinstance(exc, (KeyringUnavailable, ConfigError, CredentialsMissing)):
                return RequestFailed(FailureKind.NO_CREDENTIALS, str(exc))
            raise

    def _perform(self, request: ReporterRequest) -> ReporterResult | None:
        match request:
            case ForgetClient():
                self._close_client()
                return None
            case LoadCredentials():
                self._close_client()
                self._client, key = self._factory()
                return CredentialsRead(key)
            case ReadMe(purpose=purpose, dialect=dialect):
                client = self._require_client()
                agent = client.me()
                if purpose == "connect":
                    if dialect is not None:
                        client.dialect = dialect
                    else:
                        client.detect_dialect(agent)
                found = client.dialect or Dialect.DOCUMENTED
                return MeRead(agent, found, client.read_status(agent.status_word))
            case SendPut(desired=desired, timeout=timeout):
                server = self._require_client().set_status(desired, timeout=timeout)
                return PutAnswered(desired, server)
        raise AssertionError(f"unknown request {request!r}")

    def _require_client(self) -> LibredeskClient:
        if self._client is None:
            raise RuntimeError("the reporter machine asked for a request before a client")
        return self._client

    def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:
                log.debug("closing the client failed", exc_info=True)


__all__ = [
    "CREDENTIAL_RECHECKS",
    "ClientFactory",
    "CredentialsMissing",
    "Reconnect",
    "Refresh",
    "ReloadCredentials",
    "Reporter",
    "ReporterMachine",
    "Submit",
]
