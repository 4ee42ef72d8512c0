"""Which proxy a connection takes (presence_agent/proxy.py): the one rule for REST and /ws."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from presence_agent.client import LibredeskClient, Unreachable
from presence_agent.proxy import Proxy, ProxyError, environment_proxies, proxy_for

P = "http://proxy.corp:3128"
S = "http://secure-proxy.corp:8080"
A = "http://all-proxy.corp:1080"


def route(url: str, **environ: str) -> str | None:
    proxy = proxy_for(url, environ)
    return None if proxy is None else proxy.url


# -- which variable applies to which scheme -------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://desk.example", P),
        ("ws://desk.example/ws", P),
        ("https://desk.example", S),
        ("wss://desk.example/ws", S),
    ],
)
def test_scheme_picks_its_variable(url: str, expected: str) -> None:
    assert route(url, HTTP_PROXY=P, HTTPS_PROXY=S, ALL_PROXY=A) == expected


@pytest.mark.parametrize("url", ["http://d.example", "https://d.example", "wss://d.example/ws"])
def test_all_proxy_is_the_fallback(url: str) -> None:
    assert route(url, ALL_PROXY=A) == A
    assert route(url, all_proxy=A) == A


def test_https_does_not_fall_back_to_http_proxy() -> None:
    # Like httpx (and curl): HTTP_PROXY is for http:// only.
    assert route("https://desk.example", HTTP_PROXY=P) is None
    assert route("wss://desk.example/ws", HTTP_PROXY=P) is None
    assert route("ws://desk.example/ws", HTTPS_PROXY=S) is None


def test_nothing_set_is_direct() -> None:
    assert route("https://desk.example") is None
    assert route("https://desk.example", HTTPS_PROXY="") is None


def test_lower_case_wins_and_an_empty_lower_case_unsets() -> None:
    assert route("https://d.example", HTTPS_PROXY=S, https_proxy=P) == P
    assert route("https://d.example", HTTPS_PROXY=S, https_proxy="") is None
    assert route("https://d.example", Https_Proxy=S) == S  # mixed case counts, as in urllib


def test_cgi_ignores_upper_case_http_proxy() -> None:
    # httpoxy: in a CGI request HTTP_PROXY is the client's "Proxy:" header.
    assert route("http://d.example", HTTP_PROXY=P, REQUEST_METHOD="GET") is None
    assert route("http://d.example", http_proxy=P, REQUEST_METHOD="GET") == P


def test_a_bare_host_port_means_http() -> None:
    assert route("https://d.example", HTTPS_PROXY="proxy.corp:3128") == "http://proxy.corp:3128"


def test_environment_proxies_names_the_variable() -> None:
    found = environment_proxies({"HTTPS_PROXY": S, "no_proxy": "x", "PATH": "/bin"})
    assert found == {"https": (S, "HTTPS_PROXY"), "no": ("x", "no_proxy")}


# -- loopback, NO_PROXY ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.1.2.3", "[::1]", "localhost", "LOCALHOST", "desk.localhost"],
)
@pytest.mark.parametrize("scheme", ["http", "https", "ws", "wss"])
def test_loopback_never_goes_through_a_proxy(scheme: str, host: str) -> None:
    every = {"HTTP_PROXY": P, "HTTPS_PROXY": S, "ALL_PROXY": A, "http_proxy": P, "all_proxy": A}
    assert route(f"{scheme}://{host}:8080/x", **every) is None


@pytest.mark.parametrize(
    ("no_proxy", "host", "bypassed"),
    [
        ("*", "desk.example", True),
        ("other.example, *", "desk.example", True),
        ("desk.example", "desk.example", True),
        ("DESK.example", "desk.example", True),
        ("example", "desk.example", True),  # a domain matches its subdomains
        ("desk.example", "www.desk.example", True),
        ("desk.example", "xdesk.example", False),  # ...but not another name ending like it
        (".desk.example", "desk.example", False),  # a leading dot: subdomains only
        (".desk.example", "a.desk.example", True),
        ("*.desk.example", "a.desk.example", True),
        ("*.desk.example", "desk.example", False),
        ("*desk.example", "desk.example", True),
        ("desk.example:8443", "desk.example", True),  # the URL's port is 8443
        ("desk.example:9999", "desk.example", False),
        ("https://desk.example", "desk.example", True),  # the scheme must match (wss reads https)
        ("http://desk.example", "desk.example", False),
        ("10.1.2.3", "10.1.2.3", True),
        ("10.1.2.3", "10.1.2.4", False),
        ("10.0.0.0/8", "10.200.0.1", True),
        ("10.0.0.0/8", "11.0.0.1", False),
        ("10.0.0.0/8", "desk.example", False),
        ("fd00::/8", "[fd00::5]", True),
        ("::5", "[fd00::5]", False),
        ("[fd00::5]", "[fd00::5]", True),
        ("desk.example", "10.1.2.3", False),
        ("garbage/99, ,,", "desk.example", False),
        ("", "desk.example", False),
    ],
)
def test_no_proxy(no_proxy: str, host: str, bypassed: bool) -> None:
    expected = None if bypassed else S
    assert route(f"wss://{host}:8443/ws", HTTPS_PROXY=S, NO_PROXY=no_proxy) == expected
    assert route(f"wss://{host}:8443/ws", HTTPS_PROXY=S, no_proxy=no_proxy) == expected


def test_no_proxy_and_http_scheme_entries() -> None:
    assert route("ws://desk.example/ws", HTTP_PROXY=P, NO_PROXY="http://desk.example") is None
    assert route("ws://desk.example/ws", HTTP_PROXY=P, NO_PROXY="desk.example:80") is None
    assert route("ws://desk.example/ws", HTTP_PROXY=P, NO_PROXY="desk.example:81") == P


# -- what a Proxy shows, and bad settings ----------------------------------------------------


def test_credentials_are_in_the_url_only() -> None:
    proxy = proxy_for(
        "https://d.example", {"HTTPS_PROXY": "http://al%40ice:pa%3Ass@proxy.corp:3128"}
    )
    assert isinstance(proxy, Proxy)
    assert proxy.url == "http://al%40ice:pa%3Ass@proxy.corp:3128"
    assert proxy.has_credentials
    assert (proxy.scheme, proxy.host, proxy.port) == ("http", "proxy.corp", 3128)
    for shown in (proxy.shown, str(proxy), repr(proxy)):
        assert "pa" not in shown.replace("proxy", "")
        assert "al%40ice" not in shown
    assert str(proxy) == "http://proxy.corp:3128 (HTTPS_PROXY)"


def test_default_ports_and_ipv6_proxy() -> None:
    plain = proxy_for("https://d.example", {"HTTPS_PROXY": "http://proxy.corp"})
    tls = proxy_for("https://d.example", {"HTTPS_PROXY": "https://proxy.corp/"})
    ipv6 = proxy_for("https://d.example", {"HTTPS_PROXY": "http://[fd00::1]:3128"})
    assert plain is not None
    assert plain.port == 80
    assert tls is not None
    assert tls.port == 443
    assert ipv6 is not None
    assert ipv6.shown == "http://[fd00::1]:3128"


@pytest.mark.parametrize(
    "value",
    [
        "socks5://user:hunter22@proxy.corp:1080",
        "ftp://user:hunter22@proxy.corp",
        "http://someone@proxy.corp:3128",
        "http://user:hunter22@proxy.corp:99999",
        "http://user:hunter22@proxy.corp:3128/path",
        "http://user:hunter22@proxy.corp:3128?q=1",
        "http://user:hunter22@:3128",
        "http://us%ffer:hunter22@proxy.corp:3128",
    ],
)
def test_unusable_settings_name_the_variable_never_the_credentials(value: str) -> None:
    with pytest.raises(ProxyError) as info:
        proxy_for("https://d.example", {"ALL_PROXY": value})
    assert "ALL_PROXY" in str(info.value)
    assert "hunter22" not in str(info.value)
    assert "someone" not in str(info.value)


def test_bad_urls() -> None:
    with pytest.raises(ValueError):
        proxy_for("ftp://d.example", {})
    with pytest.raises(ValueError):
        proxy_for("https://", {})


# -- properties --------------------------------------------------------------------------------

_label = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)
_hostname = st.lists(_label, min_size=1, max_size=4).map(".".join)
_scheme = st.sampled_from(["http", "https", "ws", "wss"])
_proxy_env = st.dictionaries(
    st.sampled_from(["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"]),
    st.sampled_from([P, S, A, ""]),
)


@given(_scheme, st.ip_addresses(v=4, network=ipaddress.ip_network("127.0.0.0/8")), _proxy_env)
def test_property_loopback_addresses_are_always_direct(
    scheme: str, address: ipaddress.IPv4Address, environ: dict[str, str]
) -> None:
    assert proxy_for(f"{scheme}://{address}:1/ws", environ) is None


@given(_scheme, _hostname, _proxy_env)
def test_property_no_proxy_star_and_own_name_always_bypass(
    scheme: str, host: str, environ: dict[str, str]
) -> None:
    assert proxy_for(f"{scheme}://{host}/ws", {**environ, "NO_PROXY": "*"}) is None
    assert proxy_for(f"{scheme}://{host}/ws", {**environ, "no_proxy": f"a.b,{host}"}) is None


@given(_scheme, _hostname, _proxy_env)
def test_property_ws_follows_the_same_rule_as_its_http_twin(
    scheme: str, host: str, environ: dict[str, str]
) -> None:
    twin = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    mine = proxy_for(f"{scheme}://{host}/ws", environ)
    theirs = proxy_for(f"{twin}://{host}/ws", environ)
    assert (mine and mine.url) == (theirs and theirs.url)


# -- the REST client follows the same rule ----------------------------------------------------


def test_rest_client_uses_the_rule() -> None:
    environ = {"HTTPS_PROXY": S, "HTTP_PROXY": P}
    with LibredeskClient("https://desk.example", "k", "s", environ=environ) as client:
        assert client.proxy is not None
        assert client.proxy.url == S
    with LibredeskClient("http://127.0.0.1:9", "k", "s", environ=environ) as loopback:
        assert loopback.proxy is None
    bypass = {**environ, "NO_PROXY": "desk.example"}
    with LibredeskClient("https://desk.example", "k", "s", environ=bypass) as bypassed:
        assert bypassed.proxy is None
    # An injected transport is the whole network: no proxy in front of it.
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    with LibredeskClient(
        "https://desk.example", "k", "s", transport=transport, environ=environ
    ) as faked:
        assert faked.proxy is None


def test_rest_client_reports_an_unusable_proxy_setting_without_its_credentials() -> None:
    environ = {"HTTPS_PROXY": "socks5://u:hunter22@proxy.corp:1080"}
    with (
        LibredeskClient("https://desk.example", "k", "s", environ=environ) as client,
        pytest.raises(Unreachable) as info,
    ):
        client.me()
    assert "HTTPS_PROXY" in str(info.value)
    assert "hunter22" not in str(info.value)
