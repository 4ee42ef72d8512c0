"""The TOML config: load order, errors that name file and key, safe writes."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from presence_agent.config import (
    Config,
    ConfigError,
    load,
    load_layers,
    read_file,
    update_user_file,
)
from presence_agent.paths import Paths


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(
        config_dir=tmp_path / "user",
        state_dir=tmp_path / "state",
        log_dir=tmp_path / "log",
        runtime_dir=tmp_path / "run",
        # Most important first, as platformdirs gives XDG_CONFIG_DIRS.
        site_config_dirs=(tmp_path / "site-a", tmp_path / "site-b"),
    )


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    return path


def site(paths: Paths, index: int) -> Path:
    return paths.site_config_files[index]


# -- loading -----------------------------------------------------------------------------------


def test_no_files_gives_the_defaults(paths):
    cfg = load(paths)
    assert cfg == Config()
    assert cfg.away_after == 300.0
    assert cfg.auth == "token"
    assert cfg.offline_on_quit is True
    assert cfg.server is None


def test_site_files_then_the_user_file(paths):
    write(site(paths, 1), 'away_after = 100\nserver = "https://b.example"\nauth = "basic"\n')
    write(site(paths, 0), 'away_after = 200\nserver = "https://a.example"\n')
    write(paths.config_file, "away_after = 450.5\n")
    cfg = load(paths)
    assert cfg.away_after == 450.5  # the user's file wins
    assert cfg.server == "https://a.example"  # the more important site dir wins
    assert cfg.auth == "basic"  # from the least important, where nobody overrides it


def test_site_file_alone(paths):
    write(site(paths, 0), "offline_on_quit = false\nlock_means_away = false\n")
    cfg = load(paths)
    assert cfg.offline_on_quit is False
    assert cfg.lock_means_away is False


def test_values_are_typed(paths, tmp_path):
    import shutil

    import certifi

    bundle = tmp_path / "company.pem"
    shutil.copy(certifi.where(), bundle)
    write(
        paths.config_file,
        f"""
server = "https://desk.example.com"
api_key = "k"
auth = "basic"
away_after = 60
keepalive_interval = 12.5
offline_on_quit = false
ca_bundle = "{bundle}"
allow_insecure_http = true
dialect = "libredesk"
idle_source = "pynput"
notifications = false
lock_means_away = true
log_level = "DEBUG"
""",
    )
    cfg = load(paths)
    assert cfg == Config(
        server="https://desk.example.com",
        api_key="k",
        auth="basic",
        away_after=60.0,
        keepalive_interval=12.5,
        offline_on_quit=False,
        ca_bundle=str(bundle),
        allow_insecure_http=True,
        dialect="libredesk",
        idle_source="pynput",
        notifications=False,
        lock_means_away=True,
        log_level="DEBUG",
    )
    assert isinstance(cfg.away_after, float)


def test_overrides_skip_none():
    cfg = Config(away_after=120.0).with_overrides(away_after=None, server="https://x.example")
    assert cfg.away_after == 120.0
    assert cfg.server == "https://x.example"


# -- errors name the file and the key ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("awayafter = 60\n", "awayafter", "unknown key"),
        ("[server]\nurl = 'x'\n", "server", "must be a string"),
        ("[extra]\nx = 1\n", "extra", "unknown key"),
        ("away_after = '60'\n", "away_after", "number of seconds"),
        ("away_after = true\n", "away_after", "number of seconds"),
        ("away_after = 0\n", "away_after", "between 0 and 604800"),
        ("away_after = -5\n", "away_after", "between 0 and 604800"),
        ("away_after = 604801\n", "away_after", "between 0 and 604800"),
        ("away_after = inf\n", "away_after", "between 0 and 604800"),
        ("away_after = nan\n", "away_after", "between 0 and 604800"),
        ("keepalive_interval = 0\n", "keepalive_interval", "between 0 and 604800"),
        ("server = 5\n", "server", "must be a string"),
        ("api_key = ['a']\n", "api_key", "must be a string"),
        ("offline_on_quit = 'no'\n", "offline_on_quit", "true or false"),
        ("notifications = 1\n", "notifications", "true or false"),
        ("auth = 'bearer'\n", "auth", "must be one of 'token', 'basic'"),
        ("dialect = 'LIBREDESK'\n", "dialect", "must be one of"),
        ("log_level = 'info'\n", "log_level", "must be one of"),
        ("log_level = 10\n", "log_level", "must be one of"),
    ],
)
def test_bad_values_name_the_file_and_the_key(paths, text, key, words):
    path = write(paths.config_file, text)
    with pytest.raises(ConfigError) as info:
        load(paths)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert repr(key) in message
    assert words in message


def test_unknown_key_lists_the_known_ones(paths):
    write(paths.config_file, "colour = 'red'\n")
    with pytest.raises(ConfigError, match=r"known keys: .*away_after.*server"):
        load(paths)


def test_bad_value_in_a_site_file_names_that_file(paths):
    path = write(site(paths, 1), "away_after = 'soon'\n")
    write(paths.config_file, "away_after = 60\n")
    with pytest.raises(ConfigError) as info:
        load(paths)
    assert str(info.value).startswith(f"{path}: ")


def test_bad_toml_names_the_file(paths):
    path = write(paths.config_file, 'server = "https://x\n')
    with pytest.raises(ConfigError) as info:
        load(paths)
    assert str(info.value).startswith(f"{path}: not valid TOML")


def test_not_utf8_names_the_file(paths):
    path = write(paths.config_file, b'server = "caf\xe9"\n')
    with pytest.raises(ConfigError) as info:
        load(paths)
    assert str(info.value) == f"{path}: not UTF-8 text"


def test_unreadable_file_names_the_file(paths):
    paths.config_file.mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(ConfigError) as info:
        load(paths)
    assert str(info.value).startswith(f"{paths.config_file}: cannot read")


def test_read_file_of_a_missing_file_is_empty(tmp_path):
    assert read_file(tmp_path / "nope.toml") == {}


# -- writing the user's file -------------------------------------------------------------------


def test_update_creates_the_file_and_directory(paths):
    update_user_file(paths, {"server": "https://desk.example.com", "api_key": "k"})
    assert load(paths).server == "https://desk.example.com"
    assert read_file(paths.config_file) == {"server": "https://desk.example.com", "api_key": "k"}


def test_update_keeps_every_other_key(paths):
    write(paths.config_file, "away_after = 120\nnotifications = false\nauth = 'basic'\n")
    update_user_file(paths, {"server": "https://desk.example.com"})
    assert read_file(paths.config_file) == {
        "away_after": 120.0,
        "notifications": False,
        "auth": "basic",
        "server": "https://desk.example.com",
    }


def test_update_removes_keys_set_to_none(paths):
    write(paths.config_file, "away_after = 120\napi_key = 'k'\n")
    update_user_file(paths, {"api_key": None, "missing": None})
    assert read_file(paths.config_file) == {"away_after": 120.0}


def test_update_quotes_odd_values_correctly(paths):
    odd = 'https://desk.example.com/a"quoted"\\path\n'
    update_user_file(paths, {"server": odd})
    assert read_file(paths.config_file)["server"] == odd
    assert load(paths).server == odd.strip()  # the loader normalises the URL


def test_a_bare_host_in_a_file_means_https(paths):
    write(paths.config_file, 'server = "desk.example.com/"\n')
    assert load(paths).server == "https://desk.example.com"


# -- presets that stay central: provenance and locked keys --------------------------------------


def test_every_value_knows_its_file(paths):
    write(site(paths, 1), 'server = "https://b.example"\nauth = "basic"\n')
    write(site(paths, 0), 'server = "https://a.example"\n')
    write(paths.config_file, "away_after = 60\n")
    layers = load_layers(paths)
    assert layers.source_of("server") == site(paths, 0)
    assert layers.source_of("auth") == site(paths, 1)
    assert layers.source_of("away_after") == paths.config_file
    assert layers.source_of("keepalive_interval") is None  # the default
    assert layers.site_files == (site(paths, 0), site(paths, 1))


def test_a_locked_key_cannot_be_overridden_by_the_user(paths):
    write(site(paths, 0), 'server = "https://desk.example"\nlocked = ["server", "away_after"]\n')
    write(
        paths.config_file, 'server = "https://elsewhere.example"\naway_after = 10\nauth = "basic"\n'
    )
    layers = load_layers(paths)
    assert layers.config.server == "https://desk.example"
    assert layers.config.away_after == 300.0  # locked at its default
    assert layers.config.auth == "basic"  # not locked: the user's choice
    assert layers.refused == ("server", "away_after")
    assert layers.locked == {"server": site(paths, 0), "away_after": site(paths, 0)}
    message = str(layers.refusal("server"))
    assert str(paths.config_file) in message
    assert str(site(paths, 0)) in message
    assert "administrator" in message


def test_a_user_value_equal_to_the_locked_one_is_no_refusal(paths):
    write(site(paths, 0), 'server = "https://desk.example"\nlocked = ["server"]\n')
    write(paths.config_file, 'server = "https://desk.example"\n')
    assert load_layers(paths).refused == ()


def test_system_files_layer_over_each_other_even_for_locked_keys(paths):
    write(site(paths, 1), 'server = "https://b.example"\nlocked = ["server"]\n')
    write(site(paths, 0), 'server = "https://a.example"\n')
    assert load(paths).server == "https://a.example"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('locked = "server"\n', "must be a list"),
        ("locked = [1]\n", "must be a list"),
        ('locked = ["servr"]\n', "unknown keys"),
    ],
)
def test_bad_locks_name_the_file(paths, text, words):
    write(site(paths, 0), text)
    with pytest.raises(ConfigError, match=words) as info:
        load(paths)
    assert str(site(paths, 0)) in str(info.value)


def test_the_user_file_cannot_lock(paths):
    write(paths.config_file, 'locked = ["server"]\n')
    with pytest.raises(ConfigError, match="system-wide file only"):
        load(paths)


def test_without_the_user_file(paths):
    write(site(paths, 0), "away_after = 90\n")
    write(paths.config_file, "away_after = 10\n")
    assert load_layers(paths, user=False).config.away_after == 90.0


def test_update_does_not_copy_site_values(paths):
    write(site(paths, 0), "away_after = 90\n")
    update_user_file(paths, {"api_key": "k"})
    assert read_file(paths.config_file) == {"api_key": "k"}
    assert load(paths).away_after == 90.0


def test_update_is_atomic(paths):
    path = write(paths.config_file, "away_after = 120\n")
    before_inode = path.stat().st_ino
    # A hard link keeps the old file: an in-place write would change it too.
    old = paths.config_dir / "old.toml"
    os.link(path, old)
    update_user_file(paths, {"api_key": "k"})
    assert old.read_text() == "away_after = 120\n"
    assert path.stat().st_ino != before_inode  # replaced, not rewritten
    assert sorted(p.name for p in paths.config_dir.iterdir()) == ["config.toml", "old.toml"]


@pytest.mark.parametrize(
    "corrupt",
    [b"away_after = \n", b"\xff\xfe\x00", b"colour = 'red'\n", b"away_after = 'soon'\n"],
)
def test_update_refuses_a_corrupt_file_and_leaves_it_alone(paths, corrupt):
    path = write(paths.config_file, corrupt)
    with pytest.raises(ConfigError) as info:
        update_user_file(paths, {"api_key": "k"})
    assert str(info.value).startswith(f"{path}: ")
    assert path.read_bytes() == corrupt
    assert [p.name for p in paths.config_dir.iterdir()] == ["config.toml"]


@pytest.mark.parametrize(
    ("changes", "key"),
    [({"away_after": -1}, "away_after"), ({"auth": "bearer"}, "auth"), ({"nope": 1}, "nope")],
)
def test_update_refuses_bad_values_and_leaves_the_file_alone(paths, changes, key):
    path = write(paths.config_file, "away_after = 120\n")
    with pytest.raises(ConfigError) as info:
        update_user_file(paths, changes)
    assert repr(key) in str(info.value)
    assert path.read_text() == "away_after = 120\n"
    assert [p.name for p in paths.config_dir.iterdir()] == ["config.toml"]


# -- [schedule] -------------------------------------------------------------------------------


def test_schedule_defaults_to_none(paths):
    assert not load(paths).schedule.enabled


def test_schedule_merges_key_by_key_over_the_files(paths):
    from presence_agent.schedule import Range

    write(
        site(paths, 0),
        '[schedule]\ntimezone = "Europe/Berlin"\nend_of_shift = "away"\n'
        'mon = "08:00-16:00"\nfri = "08:00-12:00"\noff = [2026-12-24]\n',
    )
    write(paths.config_file, 'away_after = 120\n[schedule]\nmon = "10:00-18:00"\n')
    spec = load(paths).schedule
    assert spec.timezone == "Europe/Berlin"  # the admin's
    assert spec.end_of_shift == "away"
    assert spec.days[0] == (Range(600, 1080),)  # the person's own Monday
    assert spec.days[4] == (Range(480, 720),)  # the admin's Friday, not overridden
    assert len(spec.off) == 1


def test_a_bad_schedule_value_names_the_file_and_the_key(paths):
    write(site(paths, 1), '[schedule]\nmon = "09:00-17:00"\n')
    write(paths.config_file, '[schedule]\ntue = "09:00-27:00"\n')
    with pytest.raises(ConfigError) as caught:
        load(paths)
    assert str(caught.value).startswith(f"{paths.config_file}: key 'schedule.tue'")


def test_a_bad_schedule_in_a_site_file_names_that_file(paths):
    write(site(paths, 1), '[schedule]\ntimezone = "Nowhere/Atall"\n')
    with pytest.raises(ConfigError, match=r"site-b/config.toml: key 'schedule.timezone'"):
        load(paths)


def test_schedule_must_be_a_table(paths):
    write(paths.config_file, 'schedule = "09:00-17:00"\n')
    with pytest.raises(ConfigError, match=r"key 'schedule' must be a table"):
        load(paths)


def test_update_keeps_the_schedule_as_written(paths):
    text = '[schedule]\nmon = "09:00-17:00"\noff = [2026-12-24, "2026-12-30..2026-12-31"]\n'
    write(paths.config_file, text)
    update_user_file(paths, {"away_after": 60})
    assert read_file(paths.config_file)["schedule"] == {
        "mon": "09:00-17:00",
        "off": [date(2026, 12, 24), "2026-12-30..2026-12-31"],
    }
    assert load(paths).schedule.days[0]


# -- the idle steps (presence_agent/routing.py) ---------------------------------------------


def test_the_idle_steps_default_and_zero_means_never(paths: Paths) -> None:
    assert (load(paths).stop_assignments_after, load(paths).reassign_after) == (900.0, 0.0)
    write(paths.config_file, "stop_assignments_after = 0\nreassign_after = 0\n")
    cfg = load(paths)
    assert (cfg.stop_assignments_after, cfg.reassign_after) == (0.0, 0.0)


def test_the_idle_steps_out_of_order_name_the_file_and_the_key(paths: Paths) -> None:
    user = write(paths.config_file, "away_after = 600\nstop_assignments_after = 300\n")
    with pytest.raises(ConfigError) as err:
        load(paths)
    assert str(err.value).startswith(f"{user}: key 'stop_assignments_after' must be more than")
    write(paths.config_file, "stop_assignments_after = 900\nreassign_after = 600\n")
    with pytest.raises(ConfigError, match=r"key 'reassign_after' must be more than"):
        load(paths)
    write(paths.config_file, "reassign_after = -5\n")
    with pytest.raises(ConfigError, match="reassign_after"):
        load(paths)


def test_an_admin_presets_the_steps_and_a_user_lives_with_them(paths: Paths) -> None:
    site = write(
        paths.site_config_files[0],
        'stop_assignments_after = 600\nreassign_after = 1800\nlocked = ["reassign_after"]\n',
    )
    write(paths.config_file, "reassign_after = 0\n")
    layers = load_layers(paths)
    assert (layers.config.stop_assignments_after, layers.config.reassign_after) == (600, 1800)
    assert layers.source_of("reassign_after") == site
    assert layers.refused == ("reassign_after",)


def test_an_away_after_past_the_default_step_leaves_the_unset_step_out(paths: Paths) -> None:
    write(paths.config_file, "away_after = 1200\n")
    assert load(paths).stop_assignments_after == 0.0  # no error over a key nobody wrote


# -- a system-wide file someone else could have written (issue 16) ---------------------------


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
@pytest.mark.parametrize(
    ("loosen", "why"),
    [
        (lambda f: f.chmod(0o666), "is writable by every user"),
        (lambda f: f.parent.chmod(0o777), "is writable by every user"),
    ],
)
def test_a_world_writable_site_file_is_ignored(paths, loosen, why):
    write(site(paths, 0), 'server = "https://evil.example"\naway_after = 5\n')
    site(paths, 0).chmod(0o644)
    write(site(paths, 1), "away_after = 100\n")
    loosen(site(paths, 0))
    layers = load_layers(paths)
    assert layers.config.server is None
    assert layers.config.away_after == 100.0  # the other, sound file still counts
    assert layers.site_files == (site(paths, 1),)
    [(path, ignored)] = layers.ignored
    warning = str(ignored)
    assert path == site(paths, 0)
    assert warning.startswith(f"{site(paths, 0)}: ignored: ")
    assert why in warning
    assert "only root may be able to change it" in warning


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_a_sticky_shared_dir_above_a_sound_file_is_fine(paths, tmp_path):
    sticky = tmp_path / "site-a"
    sticky.mkdir()
    sticky.chmod(0o1777)  # like /tmp: others may add entries, not replace ours
    write(site(paths, 0), "away_after = 42\n")
    site(paths, 0).chmod(0o644)
    layers = load_layers(paths)
    assert layers.ignored == ()
    assert layers.config.away_after == 42.0


# -- paths and URLs are checked when the config is read ------------------------------------


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda d: d / "missing.pem", "does not exist"),
        (lambda d: write(d / "garbage.pem", b"\x00\xffnot a certificate"), "no PEM CA certificate"),
        (lambda d: d, "is a directory"),
        (lambda d: "relative/company.pem", "not an absolute path"),
    ],
    ids=["missing", "garbage", "directory", "relative"],
)
def test_a_ca_bundle_that_cannot_be_used_is_an_error_naming_file_and_key(
    paths, tmp_path, make, said
):
    bundle = make(tmp_path)
    write(paths.config_file, f'server = "https://desk.example.com"\nca_bundle = "{bundle}"\n')
    with pytest.raises(ConfigError) as info:
        load(paths)
    text = str(info.value)
    assert text.startswith(f"{paths.config_file}: key 'ca_bundle': ")
    assert said in text
    assert str(bundle) in text


@pytest.mark.parametrize(
    "server",
    [
        "https://desk.example.com/a\\u0001b",
        "https://desk.example.com/a\\r\\nHost: evil",
        "https://de\\u0000sk.example.com",
        "https://desk.example.com/\\u202egnp.exe",
        "https://desk..example.com",
    ],
)
def test_a_server_url_httpx_would_refuse_is_an_error_naming_file_and_key(paths, server):
    write(paths.config_file, f'server = "{server}"\n')
    with pytest.raises(ConfigError) as info:
        load(paths)
    assert str(info.value).startswith(f"{paths.config_file}: key 'server': not a server URL")
    assert "\r" not in str(info.value)
    assert "\x00" not in str(info.value)


def test_an_over_long_server_url_is_an_error(paths):
    write(paths.config_file, f'server = "https://desk.example.com/{"a" * 70_000}"\n')
    with pytest.raises(ConfigError, match="key 'server': not a server URL: longer than"):
        load(paths)


@pytest.mark.parametrize(
    "key", ["two words", "a:b", "ctl\\u0001", "line\\r\\nbreak", "", "k" * 300]
)
def test_an_api_key_no_request_could_carry_is_an_error_naming_file_and_key(paths, key):
    write(paths.config_file, f'server = "https://desk.example.com"\napi_key = "{key}"\n')
    with pytest.raises(ConfigError) as info:
        load(paths)
    assert str(info.value).startswith(f"{paths.config_file}: key 'api_key' must be one word")
