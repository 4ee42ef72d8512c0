"""Server URLs: which ones the agent will send a secret to (and the CA bundle that
decides which server is the one named).

Standard library only, so the config can hold a hand-edited URL to the same
rules as ``login`` without loading the HTTP client.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from pathlib import Path
from urllib.parse import urlsplit

from presence_agent.i18n import M_, Message

#: Far longer than any real server URL; httpx refuses over 64 KiB, and a URL is shown in
#: the tray, doctor and logs.
MAX_URL_LENGTH = 2048
#: One label of a host name, once IDNA-encoded (underscores are found on intranets).
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


class InsecureURL(ValueError):
    """A server URL the agent will not send a secret to."""


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _unfit_character(url: str) -> str | None:
    """Why ``url`` cannot be sent as typed: a control, space or invisible character
    (which httpx or D-Bus refuse, or which would show something else than it is)."""
    try:
        url.encode("utf-8")
    except UnicodeEncodeError:
        return "it is not valid text"
    for ch in url:
        if ch.isspace():
            return "it holds a space or line break"
        if not ch.isprintable() or unicodedata.category(ch) in ("Cf", "Co", "Cn"):
            return f"it holds the control character U+{ord(ch):04X}"
    return None


def _host_problem(host: str) -> str | None:
    """Why ``host`` (as urlsplit gives it, lower-case, without brackets) is no host name."""
    if ":" in host:  # only an IPv6 literal has colons here
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return "its host is not an IPv6 address"
        return None
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return "its host is not a valid host name"
    labels = ascii_host.rstrip(".").split(".")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        return "its host is not a valid host name"
    return None


def _shown(url: str) -> str:
    """``url`` quoted for a message, without the parts that may hold a secret
    (userinfo, query, fragment), even when the URL is malformed."""
    base = url.split("#", 1)[0].split("?", 1)[0]
    if "@" in base:
        scheme, sep, _ = base.partition("://")
        base = (scheme + sep if sep else "") + "...@" + base.rpartition("@")[2]
    return repr(base[:200])


def normalize_server_url(
    url: str,
    *,
    allow_insecure_http: bool = False,
    opt_in: str = "pass --allow-insecure-http",
) -> str:
    """Check a server URL and return it without a trailing slash.

    A bare host (``desk.example.com``, ``desk.example.com:8443/helpdesk``) means
    ``https://`` that host: what a person copies from a browser's address bar
    often has no scheme, and https is the only scheme that needs no opt-in.
    Plain ``http://`` carries the secret in clear text, so it is accepted
    only for loopback hosts unless the person opts in; ``opt_in`` says how
    (a flag for ``login``, a key for the config file, a box in the dialog).

    Strict about what can be sent at all: no control character, space or
    invisible character anywhere (CR/LF would split a request line, NUL ends a
    D-Bus string), a real host name or IP address, at most
    :data:`MAX_URL_LENGTH` characters; so what passes here never makes httpx,
    websockets or D-Bus refuse it later in a thread that cannot say so.

    This is the one check of a server URL: ``login``, the sign-in dialog, the
    config loader and the installers' presets all use it.
    """
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InsecureURL(f"not a server URL: longer than {MAX_URL_LENGTH} characters")
    unfit = _unfit_character(url)
    if unfit is not None:
        raise InsecureURL(f"not a server URL: {unfit}")
    if url and "://" not in url and not url.startswith(("/", "\\")):
        url = "https://" + url
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number from 0 to 65535
    except ValueError:
        raise InsecureURL(
            f"not a server URL: {_shown(url)} (expected https://host[/path])"
        ) from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InsecureURL(f"not a server URL: {_shown(url)} (expected https://host[/path])")
    host_problem = _host_problem(parts.hostname)
    if host_problem is not None:
        raise InsecureURL(f"not a server URL: {_shown(url)} ({host_problem})")
    if parts.username or parts.password:
        # A URL is written to the config file and shown in logs.
        raise InsecureURL("put the API key and secret in the login prompts, not in the URL")
    if parts.query or parts.fragment:
        raise InsecureURL(f"a server URL has no query or fragment: {_shown(url)}")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback_host(parts.hostname):
        raise InsecureURL(
            f"refusing plain http:// to {parts.hostname[:200]}: the API secret would cross the"
            f" network unencrypted. Use https://, or {opt_in} if you really mean it."
        )
    return url.rstrip("/")


def ca_bundle_problem(value: str) -> Message | None:
    """Why ``value`` cannot be used as a CA bundle (``None``: it can), naming the file.

    Checked when the config is read, so a missing, unreadable or garbage file is one
    clear error naming the file and the key, not a traceback from the first request.
    A :class:`~presence_agent.i18n.Message`: ``str()`` is English, ``render`` a person's.
    """
    import ssl

    shown = repr(value[:300])
    if "\0" in value:
        return M_("{file} is not a file name", file=shown)
    path = Path(value).expanduser()
    if not path.is_absolute():
        return M_("{file} is not an absolute path", file=shown)
    try:
        ssl.create_default_context(cafile=str(path))
    except FileNotFoundError:
        return M_("{file} does not exist", file=shown)
    except IsADirectoryError:
        return M_("{file} is a directory, not a PEM file of CA certificates", file=shown)
    except ssl.SSLError:
        return M_("{file} holds no PEM CA certificate the agent can use", file=shown)
    except OSError as exc:
        return M_(
            "{file} cannot be read: {problem}",
            file=shown,
            problem=str(exc.strerror or type(exc).__name__),
        )
    return None
