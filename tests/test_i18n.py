"""Which language the agent speaks (presence_agent/i18n.py), with injected environments, and
how its words and clock read once chosen. No process environment is read or changed here."""

from __future__ import annotations

import gettext
from datetime import datetime, timezone
from pathlib import Path

import pytest

from presence_agent import i18n
from presence_agent.i18n import Choice, choose, load
from presence_agent.uilang import _macos, system_languages


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LANGUAGE": "de"}, ("de", "LANGUAGE")),
        ({"LANGUAGE": "xx:fr:de", "LANG": "es_ES.UTF-8"}, ("fr", "LANGUAGE")),
        ({"LANGUAGE": "xx", "LANG": "es_ES.UTF-8"}, ("es", "LANG")),
        ({"LC_ALL": "fr_CA.UTF-8", "LC_MESSAGES": "de_DE.UTF-8"}, ("fr", "LC_ALL")),
        ({"LC_MESSAGES": "de_AT.UTF-8", "LANG": "fr_FR.UTF-8"}, ("de", "LC_MESSAGES")),
        ({"LANG": "pt_BR.UTF-8"}, ("pt_BR", "LANG")),
        # Portuguese from Portugal reads the Brazilian catalog rather than English.
        ({"LANG": "pt_PT.UTF-8"}, ("pt_BR", "LANG")),
        ({"LANG": "de_DE@euro"}, ("de", "LANG")),
        # C is a choice: English, even with a system language behind it.
        ({"LC_ALL": "C"}, ("en", "LC_ALL")),
        ({"LANG": "C.UTF-8"}, ("en", "LANG")),
        ({"LANGUAGE": "", "LANG": "en_US.UTF-8"}, ("en", "LANG")),
        ({"LANG": "xx_YY.UTF-8"}, ("en", "default")),
        ({}, ("en", "default")),
    ],
)
def test_the_environment_decides_in_gettexts_order(
    env: dict[str, str], expected: tuple[str, str]
) -> None:
    choice = choose(None, env)
    assert (choice.language, choice.source) == expected


def test_the_config_key_overrides_the_environment_unless_auto_or_unknown() -> None:
    env = {"LANGUAGE": "de", "LANG": "de_DE.UTF-8"}
    assert choose("fr", env).language == "fr"
    assert choose("fr", env).source == "config"
    assert choose("pt-BR", env).language == "pt_BR"
    assert choose("auto", env).language == "de"
    assert choose("", env).language == "de"
    # A language with no catalog falls through to the desktop's, never an error.
    assert choose("xx", env) == Choice("de", "LANGUAGE", True)


def test_the_os_ui_language_counts_when_the_environment_names_none() -> None:
    # What a Windows or a launchd-started macOS process sees: no LANG, the OS's list.
    assert choose(None, {}, ("xx-XX", "es-MX", "en-US")) == Choice("es", "system", True)
    assert choose(None, {}, ("de-DE",)).language == "de"
    # The environment, where set, is the person's word and wins.
    assert choose(None, {"LANG": "fr_FR.UTF-8"}, ("de-DE",)).language == "fr"
    assert choose("pt_BR", {}, ("de-DE",)).language == "pt_BR"


@pytest.mark.parametrize(
    ("env", "system", "clock24"),
    [
        ({}, (), True),
        ({"LANG": "C.UTF-8"}, (), True),
        ({"LANG": "en_US.UTF-8"}, (), False),
        ({"LANG": "en_GB.UTF-8"}, (), True),
        ({"LANG": "de_DE.UTF-8"}, (), True),
        # The time locale, not the messages': German words, an American clock.
        ({"LANGUAGE": "de", "LANG": "en_US.UTF-8"}, (), False),
        ({"LC_TIME": "en_US.UTF-8", "LANG": "de_DE.UTF-8"}, (), False),
        ({"LC_ALL": "de_DE.UTF-8", "LC_TIME": "en_US.UTF-8"}, (), True),
        ({"LANG": "fr_CA.UTF-8"}, (), True),
        ({"LANG": "en_CA.UTF-8"}, (), False),
        ({}, ("en-US",), False),
        ({}, ("pt-BR",), True),
    ],
)
def test_the_clock_follows_the_time_locale(
    env: dict[str, str], system: tuple[str, ...], clock24: bool
) -> None:
    assert choose(None, env, system).clock24 is clock24


def test_times_read_as_the_locale_writes_them() -> None:
    twelve = i18n.Translator("en", clock24=False)
    assert twelve.time(13, 5) == "1:05 PM"
    assert twelve.time(0, 30) == "12:30 AM"
    assert twelve.time(12, 0) == "12:00 PM"
    assert i18n.ENGLISH.time(13, 5) == "13:05"
    assert i18n.ENGLISH.time(9, 0) == "09:00"
    today = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)  # a Monday
    at = datetime(2026, 12, 24, 9, 0, tzinfo=timezone.utc)
    assert i18n.ENGLISH.clock(at, today.date()) == "24 Dec 09:00"
    assert twelve.clock(today.replace(day=8, hour=21), today.date()) == "tomorrow 9:00 PM"
    assert i18n.ENGLISH.clock(today.replace(day=10), today.date()) == "Thu 10:00"


def test_a_catalog_speaks_its_language_and_falls_back_to_english(tmp_path: Path) -> None:
    german = load(Choice("de", "LANGUAGE"))
    assert german.language == "de"
    assert german._("Away") == "Abwesend"
    # Not in any catalog: the English id itself, never an error.
    assert german._("a message nobody wrote") == "a message nobody wrote"
    today = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)
    assert german.clock(datetime(2026, 12, 24, 9, 0, tzinfo=timezone.utc), today.date()) == (
        "24. Dez. 09:00"
    )
    # No compiled catalogs at all (a checkout never built): English, no error.
    bare = load(Choice("fr", "LANG"), tmp_path)
    assert bare._("Away") == "Away"
    assert bare.language == "fr"


def test_french_and_brazilian_plurals_count_zero_and_one_as_singular() -> None:
    # gettext's rule for fr and pt_BR is n > 1; for de and es, n != 1.
    for language, zero in (("fr", 0), ("pt_BR", 0), ("de", 1), ("es", 1)):
        catalog = load(Choice(language, "LANG")).catalog
        assert isinstance(catalog, gettext.GNUTranslations), language
        plural = catalog.plural  # type: ignore[attr-defined]
        assert (plural(0), plural(1), plural(2)) == (zero, 0, 1)


def test_the_config_key_is_checked() -> None:
    assert i18n.valid_language("auto")
    assert i18n.valid_language("pt_BR")
    assert i18n.valid_language("de")
    assert i18n.valid_language("pt-BR")
    assert not i18n.valid_language("German please")
    assert not i18n.valid_language("")


def test_macos_defaults_output_is_read() -> None:
    text = '(\n    "de-DE",\n    en,\n    "pt-BR"\n)\n'
    assert _macos.parse_defaults(text) == ("de-DE", "en", "pt-BR")
    assert _macos.parse_defaults("") == ()


def test_linux_leaves_the_choice_to_the_environment() -> None:
    assert system_languages("linux") == ()
