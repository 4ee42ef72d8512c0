"""Opening ``/ws``: directly or through the same HTTP proxy as REST, and never redirected.

:func:`connect` is the keepalive's connector (``Callable[[WsParams, float], Any]``): it
returns a websockets ``ClientConnection`` (``send``, ``recv(timeout)``, ``close``).

* **Proxy**: :func:`presence_agent.proxy.proxy_for` picks it, the one rule the REST client
  follows too (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``/``NO_PROXY``, loopback never
  proxied). Through an HTTP proxy both ``wss://`` and plain ``ws://`` go as an HTTP
  ``CONNECT`` tunnel (a WebSocket upgrade cannot be forwarded like a plain GET by most
  proxies), with ``Proxy-Authorization: Basic`` from the proxy URL's credentials. The
  tunnel is websockets' own code (``connect_http_proxy``), used on a socket we hand over.
* **No redirect**: we open the TCP socket (or the tunnel) to the server we were given and
  pass it to websockets, which then refuses to follow any redirect, like the REST client: a
  3xx from ``/ws`` can never take the handshake, or the pushes we believe, to another host.
* **Refused origin**: the real server answers an upgrade whose ``Origin`` it refuses with a
  plain ``200`` and an empty body (docs/libredesk.md); that is :class:`OriginRefused`, so
  the caller can say what is wrong instead of retrying as if the network had failed.

Errors never carry the proxy's credentials (:class:`presence_agent.proxy.Proxy.shown` only).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from presence_agent.proxy import Proxy, ProxyError, proxy_for

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

    from presence_agent.keepalive import WsParams

log = logging.getLogger(__name__)

MAX_MESSAGE = 1 << 20

#: What a person is told when the server will not upgrade for our Origin.
ORIGIN_REFUSED = (
    "the server refused the WebSocket origin; a reverse proxy that rewrites Host breaks it"
)


class OriginRefused(Exception):
    """The server answered the upgrade with ``200`` and did not upgrade: it refused our
    ``Origin`` (its Host check failed). Retrying soon will not help."""

    def __init__(self) -> None:
        super().__init__(ORIGIN_REFUSED)


class ProxyConnectError(OSError):
    """The proxy could not give us a tunnel to the server (text has no credentials)."""


def connect(
    params: WsParams, timeout: float, *, environ: Mapping[str, str] | None = None
) -> ClientConnection:
    """Open ``params.url`` within ``timeout`` seconds (TCP, proxy tunnel, TLS, handshake).

    ``environ`` replaces the process environment for the proxy choice (tests).
    Raises :class:`OriginRefused`, websockets' ``InvalidStatus`` (401, 403, 404...),
    :class:`ProxyConnectError`, :class:`presence_agent.proxy.ProxyError` or ``OSError``.
    """
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect as ws_connect
    from websockets.sync.utils import Deadline
    from websockets.typing import Origin

    deadline = Deadline(timeout)
    proxy = proxy_for(params.url, environ)
    sock = _open_socket(params, proxy, deadline)
    try:
        return ws_connect(
            params.url,
            sock=sock,
            additional_headers={"Authorization": params.authorization.decode("latin-1")},
            origin=Origin(params.origin),
            ssl=params.ssl if params.url.startswith("wss:") else None,
            user_agent_header=params.user_agent,
            open_timeout=deadline.timeout(),
            close_timeout=1,
            ping_interval=None,  # the server wants text "ping"; the keepalive sends it
            max_size=MAX_MESSAGE,
            proxy=None,  # the socket is already open (tunnelled when a proxy applies)
            legacy=True,  # a connection to keep, not a context manager (websockets 17.1+)
        )
    except InvalidStatus as exc:
        sock.close()
        if exc.response.status_code == 200:
            raise OriginRefused() from None
        raise
    except BaseException:
        sock.close()
        raise


def describe_route(url: str, environ: Mapping[str, str] | None = None) -> str:
    """``direct`` or ``via proxy http://host:port (HTTPS_PROXY)``, for doctor and logs."""
    try:
        proxy = proxy_for(url, environ)
    except ProxyError as exc:
        return f"unusable proxy setting: {exc}"
    return "direct" if proxy is None else f"via proxy {proxy}"


def _open_socket(params: WsParams, proxy: Proxy | None, deadline: Any) -> socket.socket:
    parts = urlsplit(params.url)
    default_port = 443 if parts.scheme == "wss" else 80
    host, port = parts.hostname or "", parts.port or default_port
    if proxy is None:
        sock = socket.create_connection((host, port), deadline.timeout())
        sock.settimeout(None)
        return sock
    log.debug("/ws via proxy %s", proxy)
    return _tunnel(params, proxy, deadline)


def _tunnel(params: WsParams, proxy: Proxy, deadline: Any) -> socket.socket:
    from websockets.exceptions import InvalidProxy, InvalidProxyMessage, InvalidProxyStatus
    from websockets.proxy import parse_proxy
    from websockets.sync.client import connect_http_proxy
    from websockets.uri import parse_uri

    try:
        parsed = parse_proxy(proxy.url)
    except InvalidProxy:
        # Its text holds the whole URL, credentials included: say it our way.
        raise ProxyError(f"{proxy.source} is not a usable proxy URL") from None
    try:
        return connect_http_proxy(
            parsed, parse_uri(params.url), deadline, user_agent_header=params.user_agent
        )
    except InvalidProxyStatus as exc:
        status = exc.response.status_code
        raise ProxyConnectError(_proxy_refusal(proxy, status)) from None
    except InvalidProxyMessage:
        raise ProxyConnectError(
            f"proxy {proxy.shown} gave an answer that is not HTTP to CONNECT"
        ) from None
    except TimeoutError:
        raise ProxyConnectError(f"proxy {proxy.shown} did not answer CONNECT in time") from None
    except OSError as exc:
        raise ProxyConnectError(
            f"cannot reach proxy {proxy.shown} ({proxy.source}): {exc.strerror or exc}"
        ) from None


def _proxy_refusal(proxy: Proxy, status: int) -> str:
    if status in (401, 407):  # 407 is the standard; tinyproxy says 401 to wrong ones
        if proxy.has_credentials:
            return f"proxy {proxy.shown} refused the credentials in {proxy.source} (HTTP {status})"
        return (
            f"proxy {proxy.shown} asks for credentials (HTTP {status}): put user:password@ in"
            f" {proxy.source}"
        )
    return f"proxy {proxy.shown} refused to open a tunnel to the server (HTTP {status})"
