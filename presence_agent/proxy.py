"""Which proxy a connection to the server goes through: one rule for REST and for ``/ws``.

Both the REST client (httpx) and the ``/ws`` keepalive (websockets) ask :func:`proxy_for`,
so a socket never takes another way than the requests next to it. The rules are httpx's
``trust_env`` rules (themselves curl's), read from the environment the person set:

* ``HTTPS_PROXY`` for ``https://`` and ``wss://``, ``HTTP_PROXY`` for ``http://`` and
  ``ws://``, ``ALL_PROXY`` for both when the scheme's own is unset; lower-case names too, and
  the lower-case one wins when both are set (as in Python's ``urllib``). A value without a
  scheme means ``http://``. On macOS and Windows, with none of these set, the system's proxy
  settings (as ``urllib.request.getproxies`` reads them).
* ``NO_PROXY``: comma-separated; ``*`` alone turns every proxy off; ``example.com`` matches
  that host and its subdomains, ``.example.com`` (or ``*.example.com``) only the subdomains;
  IP addresses match exactly, networks (``10.0.0.0/8``) by containment; an entry with a port
  (``example.com:8443``) or a scheme (``https://example.com``) must match those as well.
* **Loopback never goes through a proxy**: ``localhost``, ``*.localhost``, 127.0.0.0/8 and
  ``::1``. Plain ``http://`` is allowed to loopback only because the secret stays on this
  machine; a proxy would carry it off (and could not reach our loopback anyway).

Only HTTP proxies (``http://`` or ``https://``) are supported: both libraries tunnel through
them with ``CONNECT`` (or forward plain ``http://``), with ``Proxy-Authorization`` from the
URL's ``user:password``. A proxy's credentials are as secret as the API secret: they are in
:attr:`Proxy.url` only, which is never logged; :attr:`Proxy.shown` and every error text
leave them out.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

__all__ = ["Proxy", "ProxyError", "environment_proxies", "proxy_for"]

#: The URL schemes we open, and the proxy scheme key each one reads.
_SCHEME_KEY = {"http": "http", "ws": "http", "https": "https", "wss": "https"}
_DEFAULT_PORT = {"http": 80, "ws": 80, "https": 443, "wss": 443}


class ProxyError(ValueError):
    """A proxy setting we cannot use. The text names the variable, never its credentials."""


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy to go through. ``url`` may hold credentials: never log or show it."""

    url: str = field(repr=False)
    scheme: str
    host: str
    port: int
    #: Where it came from, e.g. ``HTTPS_PROXY`` or ``system settings``.
    source: str
    has_credentials: bool = False

    @property
    def shown(self) -> str:
        """The proxy as a person may see it: scheme, host and port, no credentials."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.shown} ({self.source})"


def environment_proxies(environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """``{key: (value, variable)}`` for every ``*_proxy`` variable, as ``urllib`` reads them.

    Keys are ``http``, ``https``, ``all``, ``no``...; the lower-case variable wins over the
    upper-case one, an empty lower-case one unsets the key, and ``HTTP_PROXY`` is ignored in
    a CGI request (``REQUEST_METHOD`` set; the "httpoxy" rule).
    """
    found: dict[str, tuple[str, str]] = {}
    for name, value in environ.items():
        lowered = name.lower()
        if value and lowered.endswith("_proxy"):
            found[lowered[:-6]] = (value, name)
    if "REQUEST_METHOD" in environ:
        found.pop("http", None)
    for name, value in environ.items():
        if name.endswith("_proxy"):  # lower-case names only, exactly as urllib does
            if value:
                found[name.lower()[:-6]] = (value, name)
            else:
                found.pop(name.lower()[:-6], None)
    return found


def _system_proxies(platform: str = sys.platform) -> dict[str, tuple[str, str]]:
    """The environment, or where it sets nothing, the OS settings (macOS, Windows)."""
    from_env = environment_proxies(os.environ)
    if from_env or platform not in ("darwin", "win32"):
        return from_env
    return {key: (value, "system settings") for key, value in urllib.request.getproxies().items()}


def proxy_for(
    url: str,
    environ: Mapping[str, str] | None = None,
    *,
    system: Callable[[], dict[str, tuple[str, str]]] = _system_proxies,
) -> Proxy | None:
    """The proxy a connection to ``url`` (``http``, ``https``, ``ws`` or ``wss``) goes
    through, or None for a direct connection.

    ``environ`` replaces the process environment (tests); without it, the environment and,
    on macOS and Windows, the system settings. Raises :class:`ProxyError` for a proxy
    setting that cannot be used (a SOCKS proxy, a malformed URL).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    key = _SCHEME_KEY.get(scheme)
    host = (parts.hostname or "").lower()
    if key is None or not host:
        raise ValueError(f"not a server URL: {scheme or '(no scheme)'}://...")
    port = parts.port or _DEFAULT_PORT[scheme]
    if _is_loopback(host):
        return None
    proxies = environment_proxies(environ) if environ is not None else system()
    no_proxy = proxies.get("no", ("", ""))[0]
    if _bypassed(no_proxy.split(","), key, host, port):
        return None
    chosen = proxies.get(key) or proxies.get("all")
    if chosen is None:
        return None
    return _parse(*chosen)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bypassed(entries: Iterable[str], key: str, host: str, port: int) -> bool:
    for raw in entries:
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if _entry_matches(entry, key, host, port):
            return True
    return False


def _entry_matches(entry: str, key: str, host: str, port: int) -> bool:
    if "://" in entry:
        entry_scheme, _, entry = entry.partition("://")
        if _SCHEME_KEY.get(entry_scheme, entry_scheme) != key:
            return False
    entry = entry.rstrip("/")
    entry_host, entry_port = _split_port(entry)
    if entry_port is not None and entry_port != port:
        return False
    address = _address(host)
    if "/" in entry_host:  # a network
        try:
            network = ipaddress.ip_network(entry_host.strip("[]"), strict=False)
        except ValueError:
            return False
        return address is not None and address in network
    entry_address = _address(entry_host.strip("[]"))
    if entry_address is not None or address is not None:
        return entry_address is not None and entry_address == address
    if entry_host.startswith("*."):
        entry_host = entry_host[1:]
    if entry_host.startswith("."):
        return host.endswith(entry_host)
    entry_host = entry_host.lstrip("*")
    return host == entry_host or host.endswith("." + entry_host)


def _split_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):  # [::1]:8080
        end = entry.find("]")
        if end != -1 and entry[end + 1 : end + 2] == ":" and entry[end + 2 :].isdigit():
            return entry[: end + 1], int(entry[end + 2 :])
        return entry, None
    head, sep, tail = entry.rpartition(":")
    if sep and tail.isdigit() and ":" not in head:
        return head, int(tail)
    return entry, None


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _parse(value: str, source: str) -> Proxy:
    url = value.strip()
    if not _SCHEME_RE.match(url):
        url = "http://" + url  # httpx's and curl's reading of "proxy.example:3128"
    try:
        parts = urlsplit(url)
        port = parts.port
        hostname = parts.hostname
    except ValueError:
        raise ProxyError(f"{source} is not a proxy URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ProxyError(
            f"{source} names a {scheme}:// proxy; only http:// and https:// proxies are supported"
        )
    if not hostname:
        raise ProxyError(f"{source} is not a proxy URL (no host)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ProxyError(f"{source} is not a proxy URL (a proxy URL has no path or query)")
    has_credentials = parts.username is not None
    if has_credentials:
        if parts.password is None:
            raise ProxyError(f"{source}: a proxy user needs a password (user:password@)")
        try:
            unquote(parts.username or "", errors="strict")
            unquote(parts.password, errors="strict")
        except UnicodeDecodeError:
            raise ProxyError(f"{source}: the proxy credentials are not valid UTF-8") from None
    return Proxy(
        url=url,
        scheme=scheme,
        host=hostname.lower(),
        port=port or (443 if scheme == "https" else 80),
        source=source,
        has_credentials=has_credentials,
    )
