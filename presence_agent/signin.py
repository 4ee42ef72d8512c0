"""Signing in and out: check the credentials with the server, *then* store them.

``presence-agent login``/``logout`` and the tray's sign-in dialog share this, so
every way in verifies before it stores, in the same order and with the same
messages. Nothing here prints, prompts or talks to a running agent: the caller
tells the agent (the CLI over the control socket, the tray through
``Reporter.credentials_changed``).

The secret is a parameter and goes only to the server and the keyring; no
message built here contains it.

Thread use: plain blocking calls (HTTP, keyring, one small file). The tray runs
them in the dialog's own process, never on its UI thread.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

from presence_agent.i18n import ENGLISH, N_, Translator

if TYPE_CHECKING:
    from presence_agent.credentials import Credentials, SecretStore
    from presence_agent.paths import Paths

__all__ = [
    "AUTH_SCHEMES",
    "CLI_INSECURE_OPT_IN",
    "SignInError",
    "check_input",
    "sign_in",
    "sign_out",
]

AUTH_SCHEMES = ("token", "basic")


class SignInError(Exception):
    """Signing in (or out) failed and nothing was changed. The text is for a person.

    ``usage`` is true when the input itself is wrong (a bad URL or key, a
    corrupt config file): the CLI exits 2 for those and 1 for failures of the
    world (server, keyring).
    """

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


#: How the CLI tells a person to allow plain http:// (the dialog says its checkbox).
CLI_INSECURE_OPT_IN = N_("pass --allow-insecure-http")


def check_input(
    paths: Paths,
    server: str | None,
    api_key: str,
    *,
    allow_insecure_http: bool = False,
    insecure_opt_in: str = CLI_INSECURE_OPT_IN,
    tr: Translator = ENGLISH,
) -> tuple[str, str]:
    """The normalised server URL and API key, or :class:`SignInError` (usage).

    ``server`` ``None`` (or empty) means the one already configured: an
    administrator's preset, or the last login's. A server locked by a preset
    cannot be changed. Cheap and offline, so the CLI runs it before prompting
    for the secret: a typo in the URL should not cost the person a paste.
    """
    from presence_agent import config
    from presence_agent.urls import InsecureURL, normalize_server_url

    try:
        layers = config.load_layers(paths)  # a corrupt config fails here, before anything is stored
    except config.ConfigError as exc:
        raise SignInError(exc.render(tr), usage=True) from None
    current = layers.config
    # An administrator may allow plain http:// for everyone; a person's own
    # opt-in lasts one login (sign_in removes it unless given again).
    preset = config.load_layers(paths, user=False).config
    insecure = allow_insecure_http or preset.allow_insecure_http
    if server is None or not server.strip():
        if not current.server:
            raise SignInError(
                tr._(
                    "no server to sign in to: add --server https://desk.example.com"
                    " (the address of your Libredesk)"
                ),
                usage=True,
            )
        server = current.server
    try:
        url = normalize_server_url(
            server, allow_insecure_http=insecure, opt_in=tr._(insecure_opt_in)
        )
    except InsecureURL as exc:
        raise SignInError(str(exc), usage=True) from None
    if "server" in layers.locked and url != current.server:
        raise SignInError(
            tr._(
                "your administrator set the server to {server} in {file} and locked it;"
                " sign in without a server address"
            ).format(server=current.server, file=layers.locked["server"]),
            usage=True,
        )
    key = api_key.strip()
    if not key or any(ch.isspace() or ch == ":" for ch in key):
        raise SignInError(tr._("the API key must be one word without ':'"), usage=True)
    return url, key


def sign_in(
    paths: Paths,
    server: str | None,
    api_key: str,
    secret: str,
    auth: str | None = None,
    allow_insecure_http: bool = False,
    ca_bundle: str | None = None,
    *,
    credentials: Credentials | None = None,
    insecure_opt_in: str = CLI_INSECURE_OPT_IN,
    tr: Translator = ENGLISH,
) -> str:
    """Verify the credentials with ``GET /agents/me``, then store them; return a summary line.

    The secret goes to the keyring, the rest to the user's config file, but
    only what differs from the administrator's presets: a value equal to a
    preset is left out of (or removed from) the user's file, so the admin can
    still change it centrally. ``server``, ``auth`` and ``ca_bundle`` ``None``
    keep what is configured. A previous login's secret for another server or
    key is removed afterwards. On any failure nothing is stored (a config write
    that fails takes the new secret back out) and :class:`SignInError` says why.
    """
    from presence_agent import config
    from presence_agent.client import LibredeskError
    from presence_agent.credentials import Credentials, KeyringUnavailable

    url, key = check_input(
        paths,
        server,
        api_key,
        allow_insecure_http=allow_insecure_http,
        insecure_opt_in=insecure_opt_in,
        tr=tr,
    )
    if ca_bundle:
        # Stored as an absolute path: the agent does not start in this directory.
        from presence_agent.urls import ca_bundle_problem

        ca_bundle = os.path.abspath(os.path.expanduser(ca_bundle))
        problem = ca_bundle_problem(ca_bundle)
        if problem is not None:
            raise SignInError(
                tr._("CA bundle {problem}").format(problem=problem.render(tr)), usage=True
            )
    layers = config.load_layers(paths)
    previous = layers.config
    scheme = auth or previous.auth
    if scheme not in AUTH_SCHEMES:
        words = tr._("unknown auth scheme {scheme}; use token or basic")
        raise SignInError(words.format(scheme=repr(scheme[:20])), usage=True)
    if not secret:
        raise SignInError(tr._("no API secret"), usage=True)
    wanted: dict[str, Any] = {
        "server": url,
        "api_key": key,
        "auth": scheme,
        "allow_insecure_http": True if allow_insecure_http else None,
    }
    if ca_bundle:
        wanted["ca_bundle"] = ca_bundle
    for name, value in wanted.items():
        if name in layers.locked and value is not None and value != getattr(previous, name):
            raise SignInError(
                tr._("your administrator locked {key} in {file}; leave it out").format(
                    key=name, file=layers.locked[name]
                ),
                usage=True,
            )
    store = credentials if credentials is not None else Credentials()
    try:
        store.backend()  # fail on a missing keyring before asking the server
    except KeyringUnavailable as exc:
        raise SignInError(str(exc)) from None
    bundle = ca_bundle or previous.ca_bundle
    try:
        agent, holds_now = _verify(url, key, secret, scheme, bundle)
    except LibredeskError as exc:
        raise SignInError(
            tr._("login failed, nothing stored: {problem}").format(problem=exc.render(tr))
        ) from None
    except OSError as exc:  # an unreadable CA bundle
        words = tr._("login failed, nothing stored: {problem}")
        raise SignInError(words.format(problem=exc.strerror or exc)) from None
    try:
        store.set(url, key, secret)
    except KeyringUnavailable as exc:
        raise SignInError(str(exc)) from None
    try:
        config.update_user_file(paths, _user_changes(paths, wanted))
    except (config.ConfigError, OSError) as exc:
        store.delete(url, key)
        raise SignInError(
            tr._("could not save the config: {problem}").format(
                problem=exc.render(tr) if isinstance(exc, config.ConfigError) else exc
            )
        ) from None
    if previous.server and previous.api_key and (previous.server, previous.api_key) != (url, key):
        with contextlib.suppress(KeyringUnavailable):
            store.delete(previous.server, previous.api_key)
    holds = tr._(holds_now.status.label)
    who = agent.name or agent.email or tr._("agent #{id}").format(id=agent.id)
    return tr._("Signed in to {server} as {who}. The server holds: {status}.").format(
        server=url, who=who, status=holds
    )


def _user_changes(paths: Paths, wanted: dict[str, Any]) -> dict[str, Any]:
    """What to write into the user's file: ``None`` (remove) where a preset already says it."""
    from presence_agent import config

    inherited = config.load_layers(paths, user=False).config
    return {
        name: None if value is None or value == getattr(inherited, name) else value
        for name, value in wanted.items()
    }


def sign_out(
    paths: Paths, *, credentials: SecretStore | None = None, tr: Translator = ENGLISH
) -> str:
    """Remove the stored secret (the config keeps the server and key); return a summary line."""
    from presence_agent import config
    from presence_agent.credentials import Credentials, KeyringUnavailable

    try:
        cfg = config.load(paths)
    except config.ConfigError as exc:
        raise SignInError(exc.render(tr), usage=True) from None
    if not cfg.server or not cfg.api_key:
        return tr._("Not signed in.")
    store: SecretStore = credentials if credentials is not None else Credentials()
    try:
        removed = store.delete(cfg.server, cfg.api_key)
    except KeyringUnavailable as exc:
        raise SignInError(str(exc)) from None
    if removed:
        return tr._("Signed out of {server}.").format(server=cfg.server)
    return tr._("No secret was stored; signed out.")


def _verify(server: str, api_key: str, secret: str, auth: str, ca_bundle: str | None) -> Any:
    from presence_agent.client import LibredeskClient, make_ssl_context
    from presence_agent.vocab import AuthScheme

    scheme: AuthScheme = "basic" if auth == "basic" else "token"
    with LibredeskClient(
        server, api_key, secret, auth=scheme, verify=make_ssl_context(ca_bundle)
    ) as client:
        agent = client.me()
        client.detect_dialect(agent)
        # A status word neither dialect knows fails here (UnexpectedStatus),
        # before anything is stored.
        return agent, client.read_status(agent.status_word)
