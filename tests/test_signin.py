"""Signing in verifies with the server before it stores anything (presence_agent.signin),
and the sign-in dialog does exactly that from a window (presence_agent.signin_dialog).

Against the real test server on 127.0.0.1; the keyring is a small in-memory backend handed
to ``Credentials`` (the real gnome-keyring path is covered end to end in test_tray_e2e.py).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from keyring.errors import PasswordDeleteError

from presence_agent import config
from presence_agent.credentials import Credentials, KeyringUnavailable
from presence_agent.paths import Paths
from presence_agent.signin import SignInError, check_input, sign_in, sign_out
from tests.libredesk_server import ME_PATH, LibredeskServer

KEY = "agent-key"
SECRET = "S3cr:et-Zq9-ünï"  # ':' and non-ASCII on purpose


class MemoryKeyring:
    """A keyring backend that keeps secrets in a dict (the boundary, not the logic)."""

    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, user: str) -> str | None:
        return self.secrets.get((service, user))

    def set_password(self, service: str, user: str, secret: str) -> None:
        self.secrets[(service, user)] = secret

    def delete_password(self, service: str, user: str) -> None:
        if self.secrets.pop((service, user), None) is None:
            raise PasswordDeleteError("not found")


class NoKeyring(Credentials):
    """A machine without a usable keyring."""

    def backend(self) -> Any:
        raise KeyringUnavailable("no usable OS keyring was found: install one")


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(
        config_dir=tmp_path / "config",
        state_dir=tmp_path / "state",
        log_dir=tmp_path / "log",
        runtime_dir=tmp_path / "run",
    )


@pytest.fixture
def keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def credentials(keyring: MemoryKeyring) -> Credentials:
    return Credentials(backend=keyring)


@pytest.fixture(params=["documented", "libredesk"])
def server(request: pytest.FixtureRequest) -> Iterator[LibredeskServer]:
    with LibredeskServer(dialect=request.param, api_key=KEY, api_secret=SECRET) as srv:
        yield srv


def test_sign_in_verifies_then_stores_secret_in_keyring_and_the_rest_in_config(
    paths: Paths, credentials: Credentials, server: LibredeskServer
) -> None:
    summary = sign_in(paths, server.url + "/", KEY, SECRET, credentials=credentials)
    assert summary == f"Signed in to {server.url} as Test Agent. The server holds: Offline."
    assert credentials.get(server.url, KEY) == SECRET
    cfg = config.load(paths)
    assert (cfg.server, cfg.api_key, cfg.auth) == (server.url, KEY, "token")
    assert SECRET not in paths.config_file.read_text()
    assert [r.path for r in server.requests("GET")][:1] == [ME_PATH]


def test_basic_auth_is_stored_as_chosen(
    paths: Paths, credentials: Credentials, server: LibredeskServer
) -> None:
    sign_in(paths, server.url, KEY, SECRET, "basic", credentials=credentials)
    assert config.load(paths).auth == "basic"
    assert server.requests("GET", ME_PATH)[0].authorization_present


def test_a_refused_secret_stores_nothing(
    paths: Paths, keyring: MemoryKeyring, credentials: Credentials, server: LibredeskServer
) -> None:
    with pytest.raises(SignInError) as caught:
        sign_in(paths, server.url, KEY, "wrong-secret", credentials=credentials)
    assert str(caught.value).startswith("login failed, nothing stored:")
    assert not caught.value.usage
    assert "wrong-secret" not in str(caught.value)
    assert keyring.secrets == {}
    assert not paths.config_file.exists()


def test_an_unreachable_server_stores_nothing_and_never_echoes_the_secret(
    paths: Paths, keyring: MemoryKeyring, credentials: Credentials
) -> None:
    with LibredeskServer() as gone:
        url = gone.url
    with pytest.raises(SignInError) as caught:
        sign_in(paths, url, KEY, SECRET, credentials=credentials)
    assert "nothing stored" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert keyring.secrets == {}


@pytest.mark.parametrize(
    ("url", "key", "message"),
    [
        ("ftp://desk.example.com", KEY, "not a server URL"),
        ("http://desk.example.com", KEY, "refusing plain http://"),
        ("https://user:pw@desk.example.com", KEY, "not in the URL"),
        ("https://desk.example.com", "two words", "one word"),
        ("https://desk.example.com", "a:b", "one word"),
        ("https://desk.example.com", "  ", "one word"),
    ],
)
def test_bad_input_is_a_usage_error_before_anything_happens(
    paths: Paths, keyring: MemoryKeyring, credentials: Credentials, url: str, key: str, message: str
) -> None:
    with pytest.raises(SignInError, match=message) as caught:
        sign_in(paths, url, key, SECRET, credentials=credentials)
    assert caught.value.usage
    assert keyring.secrets == {}


def test_check_input_is_offline_and_normalises(paths: Paths) -> None:
    assert check_input(paths, " https://desk.example.com/ ", " k ") == (
        "https://desk.example.com",
        "k",
    )
    assert check_input(paths, "http://desk.lan", "k", allow_insecure_http=True)[0] == (
        "http://desk.lan"
    )


def test_a_corrupt_config_is_never_overwritten(
    paths: Paths, keyring: MemoryKeyring, credentials: Credentials, server: LibredeskServer
) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text("server = [")
    with pytest.raises(SignInError, match="not valid TOML") as caught:
        sign_in(paths, server.url, KEY, SECRET, credentials=credentials)
    assert caught.value.usage
    assert paths.config_file.read_text() == "server = ["
    assert keyring.secrets == {}
    assert server.requests() == []


def test_no_keyring_fails_before_the_server_is_asked(paths: Paths, server: LibredeskServer) -> None:
    with pytest.raises(SignInError, match="no usable OS keyring") as caught:
        sign_in(paths, server.url, KEY, SECRET, credentials=NoKeyring())
    assert not caught.value.usage
    assert server.requests() == []


def test_an_empty_secret_or_unknown_auth_is_refused(
    paths: Paths, credentials: Credentials, server: LibredeskServer
) -> None:
    with pytest.raises(SignInError, match="no API secret"):
        sign_in(paths, server.url, KEY, "", credentials=credentials)
    with pytest.raises(SignInError, match="unknown auth scheme"):
        sign_in(paths, server.url, KEY, SECRET, "digest", credentials=credentials)


def test_signing_in_with_another_key_removes_the_old_secret(
    paths: Paths, keyring: MemoryKeyring, credentials: Credentials, server: LibredeskServer
) -> None:
    sign_in(paths, server.url, KEY, SECRET, credentials=credentials)
    server.set_credentials("new-key", "new-secret")
    sign_in(paths, server.url, "new-key", "new-secret", credentials=credentials)
    assert credentials.get(server.url, KEY) is None
    assert credentials.get(server.url, "new-key") == "new-secret"
    assert len(keyring.secrets) == 1


def test_sign_out_removes_the_secret_and_keeps_the_server(
    paths: Paths, credentials: Credentials, server: LibredeskServer
) -> None:
    assert sign_out(paths, credentials=credentials) == "Not signed in."
    sign_in(paths, server.url, KEY, SECRET, credentials=credentials)
    assert sign_out(paths, credentials=credentials) == f"Signed out of {server.url}."
    assert credentials.get(server.url, KEY) is None
    assert config.load(paths).server == server.url
    assert sign_out(paths, credentials=credentials) == "No secret was stored; signed out."


# -- the dialog, in a real Tk window on the test display -------------------------------------------


@pytest.fixture
def tk_root(xvfb: str) -> Iterator[Any]:
    from tests.desktop import require_module

    require_module("tkinter", "Debian: apt install python3-tk")
    import tkinter as tk

    root = tk.Tk(screenName=xvfb, className="presence-agent-test")
    yield root
    with contextlib.suppress(tk.TclError):  # the form destroyed it on success
        root.destroy()
    # The form's Tk variables sit in reference cycles (form <-> callbacks); collect them
    # here, on Tk's own thread, not later from whichever thread the garbage collector
    # happens to run on (Tk refuses that: "main thread is not in main loop").
    del root
    gc.collect()


def _pump(root: Any, until: Callable[[], bool], timeout: float = 20.0) -> None:
    """Run Tk's event loop until ``until()`` (or the window is gone)."""
    import tkinter as tk

    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise TimeoutError("the dialog did not get there in time")
        try:
            root.update()
        except tk.TclError:
            return  # destroyed
        time.sleep(0.02)


def _alive(root: Any) -> bool:
    import tkinter as tk

    try:
        return bool(root.winfo_exists())
    except tk.TclError:
        return False


@pytest.mark.desktop
def test_dialog_shows_a_refusal_then_signs_in(
    tk_root: Any, paths: Paths, keyring: MemoryKeyring, credentials: Credentials
) -> None:
    from presence_agent.signin_dialog import SignInForm

    with LibredeskServer(api_key=KEY, api_secret=SECRET) as server:
        form = SignInForm(
            tk_root, paths, sign_in=functools.partial(sign_in, credentials=credentials)
        )
        assert form.server.get() == ""  # nothing stored yet
        assert [str(e.cget("show")) for e in form.entries] == ["", "", "•"]

        form.submit()  # nothing typed
        assert "Enter your Libredesk address" in form.message.get()
        form.server.set(server.url)
        form.api_key.set(KEY)
        form.submit()  # no secret typed
        assert "Enter the API secret" in form.message.get()
        assert server.requests() == []

        form.secret.set("wrong-secret")
        form.submit()
        assert form.sign_in_button.instate(["disabled"])  # one attempt at a time
        _pump(tk_root, lambda: form.message.get().startswith("login failed"))
        assert "wrong-secret" not in form.message.get()
        assert form.sign_in_button.instate(["!disabled"])
        assert keyring.secrets == {}

        form.secret.set(SECRET)
        form.submit()
        _pump(tk_root, lambda: not _alive(tk_root))
        assert (
            form.summary == f"Signed in to {server.url} as Test Agent. The server holds: Offline."
        )
        assert credentials.get(server.url, KEY) == SECRET


@pytest.mark.desktop
def test_dialog_prefills_the_stored_server_and_key(
    tk_root: Any, paths: Paths, credentials: Credentials
) -> None:
    from presence_agent.signin_dialog import SignInForm

    config.update_user_file(paths, {"server": "https://desk.example.com", "api_key": "k1"})
    form = SignInForm(tk_root, paths)
    assert (form.server.get(), form.api_key.get(), form.secret.get()) == (
        "https://desk.example.com",
        "k1",
        "",
    )
    form.cancel()
    assert form.summary is None


# -- presets that stay central -------------------------------------------------------------------


@pytest.fixture
def preset_paths(tmp_path: Path) -> Paths:
    return Paths(
        config_dir=tmp_path / "config",
        state_dir=tmp_path / "state",
        log_dir=tmp_path / "log",
        runtime_dir=tmp_path / "run",
        site_config_dirs=(tmp_path / "etc-xdg",),
    )


def _preset(paths: Paths, text: str) -> Path:
    path = paths.site_config_files[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_sign_in_without_a_server_takes_the_preset_and_copies_nothing(
    preset_paths: Paths, credentials: Credentials, server: LibredeskServer
) -> None:
    _preset(preset_paths, f'server = "{server.url}"\nauth = "token"\n')
    summary = sign_in(preset_paths, None, KEY, SECRET, credentials=credentials)
    assert summary.startswith(f"Signed in to {server.url} as ")
    assert config.read_file(preset_paths.config_file) == {"api_key": KEY}
    assert credentials.get(server.url, KEY) == SECRET
    # The admin moves the server: the user's file does not pin the old one.
    _preset(preset_paths, 'server = "https://moved.example.com"\n')
    assert config.load(preset_paths).server == "https://moved.example.com"


def test_a_server_equal_to_the_preset_is_not_copied_either(
    preset_paths: Paths, credentials: Credentials, server: LibredeskServer
) -> None:
    _preset(preset_paths, f'server = "{server.url}"\n')
    sign_in(preset_paths, server.url + "/", KEY, SECRET, "basic", credentials=credentials)
    assert config.read_file(preset_paths.config_file) == {"api_key": KEY, "auth": "basic"}


def test_a_locked_server_cannot_be_changed_by_login(
    preset_paths: Paths, keyring: MemoryKeyring, credentials: Credentials
) -> None:
    preset = _preset(preset_paths, 'server = "https://desk.example.com"\nlocked = ["server"]\n')
    with pytest.raises(SignInError) as caught:
        sign_in(preset_paths, "https://other.example.com", KEY, SECRET, credentials=credentials)
    assert caught.value.usage
    assert str(preset) in str(caught.value)
    assert "locked" in str(caught.value)
    assert keyring.secrets == {}
    assert not preset_paths.config_file.exists()


def test_no_server_anywhere_is_a_usage_error_that_says_what_to_add(paths: Paths) -> None:
    with pytest.raises(SignInError, match="--server https://") as caught:
        check_input(paths, None, KEY)
    assert caught.value.usage


def test_a_bare_host_signs_in_over_https(paths: Paths) -> None:
    assert check_input(paths, "desk.example.com", KEY)[0] == "https://desk.example.com"


@pytest.mark.desktop
def test_dialog_advanced_settings_reach_sign_in(tk_root: Any, paths: Paths) -> None:
    from presence_agent.i18n import ENGLISH
    from presence_agent.signin_dialog import AUTH_LABELS, INSECURE_OPT_IN, SignInForm

    calls: list[tuple[Any, ...]] = []

    def fake_sign_in(*args: Any, **kwargs: Any) -> str:
        calls.append((*args[1:], kwargs))
        return "Signed in."

    form = SignInForm(tk_root, paths, sign_in=fake_sign_in)
    assert not form.advanced.winfo_ismapped()
    form.advanced_toggle.invoke()  # "▸ Advanced"
    tk_root.update()
    assert form.advanced.winfo_ismapped()
    assert form.advanced_toggle.cget("text") == "▾ Advanced"
    form.server.set("desk.example.com")
    form.api_key.set(KEY)
    form.secret.set(SECRET)
    form.auth.set(AUTH_LABELS["basic"])
    form.ca_bundle.set("/etc/ssl/company.pem")
    form.insecure.set(True)
    form.submit()
    _pump(tk_root, lambda: not _alive(tk_root))
    assert form.summary == "Signed in."
    [(server, key, secret, auth, insecure, ca_bundle, kwargs)] = calls
    assert (server, key, secret) == ("desk.example.com", KEY, SECRET)
    assert (auth, insecure, ca_bundle) == ("basic", True, "/etc/ssl/company.pem")
    # A refusal of plain http names this window's checkbox, not a command-line flag.
    assert kwargs == {"insecure_opt_in": INSECURE_OPT_IN, "tr": ENGLISH}
