"""The person's language: which one to speak, its catalog, and how its clock reads.

Every word a person sees goes through a :class:`Translator`: the CLI builds one at its
entry (``cli.main``) and the composition root (``app.build``) hands the same one to the
tray, notifications and status words. Nothing here is a module-level "current
language": a :class:`Translator` is a frozen value that is passed down, like the clock
and the timezone, so tests render any language side by side and nothing can change
the language under a running thread. Logs are never translated (support staff read
them in English).

Message ids are the English text. Strings in tables (labels defined at import time)
are marked with :func:`N_` and translated where they are shown. The catalogs'
sources are ``po/<language>.po`` in the repository; the package build compiles them
to ``presence_agent/locale/<language>/LC_MESSAGES/presence-agent.mo`` (hatch_build.py,
docs/translating.md). Standard library only: ``gettext`` reads the ``.mo`` files,
which costs well under a megabyte resident.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Union

__all__ = [
    "DOMAIN",
    "ENGLISH",
    "ENV_ORDER",
    "LANGUAGES",
    "M_",
    "N_",
    "Choice",
    "Message",
    "Translator",
    "choose",
    "load",
    "locale_dir",
    "render",
    "translator_for",
    "valid_language",
    "verbatim",
]

#: The gettext domain: ``<locale dir>/<language>/LC_MESSAGES/presence-agent.mo``.
DOMAIN = "presence-agent"
#: The languages that have a catalog (``po/<name>.po``). English is the source and the fallback.
LANGUAGES = ("en", "de", "es", "fr", "pt_BR")
#: Where the language is read from on Linux and macOS, first match wins (gettext's order).
ENV_ORDER = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
#: Where the clock's style is read from: the time locale, in POSIX precedence.
TIME_ENV_ORDER = ("LC_ALL", "LC_TIME", "LANG")

#: Territories whose locales write a 12-hour clock (CLDR's preferred ``h``), and
#: languages that keep 24 hours there anyway (French in Canada).
_TWELVE_HOUR_TERRITORIES = frozenset(
    [
        "US",
        "CA",
        "AU",
        "NZ",
        "IN",
        "PK",
        "BD",
        "PH",
        "EG",
        "SA",
        "JO",
        "KR",
        "TW",
        "CO",
        "PR",
        "GU",
        "VI",
        "AS",
        "MP",
    ]
)
_TWENTY_FOUR_HOUR_IN_TWELVE = frozenset({("fr", "CA")})
_LOCALE_NAME = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})?$")


def N_(message: str) -> str:
    """Mark ``message`` for the catalogs without translating it (tables built at import)."""
    return message


#: Abbreviated weekday and month names for dates a person reads (``Mon 09:00``,
#: ``24 Dec 09:00``); ``strftime`` would give the C locale's English.
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
MONTHS = (
    N_("Jan"),
    N_("Feb"),
    N_("Mar"),
    N_("Apr"),
    N_("May"),
    N_("Jun"),
    N_("Jul"),
    N_("Aug"),
    N_("Sep"),
    N_("Oct"),
    N_("Nov"),
    N_("Dec"),
)


@dataclass(frozen=True)
class Choice:
    """The language chosen, where the choice came from, and the clock's style."""

    #: A catalog's name from :data:`LANGUAGES`.
    language: str
    #: ``config``, one of :data:`ENV_ORDER`, ``system`` (the OS's UI language) or ``default``.
    source: str
    #: ``True`` for ``13:00``, ``False`` for ``1:00 PM``.
    clock24: bool = True


def valid_language(value: str) -> bool:
    """Whether ``value`` reads as a language name for the ``language`` config key."""
    return value == "auto" or bool(_LOCALE_NAME.match(value))


def _parts(name: str) -> tuple[str, str]:
    """``de_DE.UTF-8@euro`` -> ``("de", "DE")``; ``pt-BR`` -> ``("pt", "BR")``."""
    base = name.split(".", 1)[0].split("@", 1)[0].replace("-", "_")
    language, _, territory = base.partition("_")
    return language.lower(), territory.upper()


def _match(name: str, available: Collection[str]) -> str | None:
    """The catalog for one locale name: exact, then the language, then a sibling.

    ``de_AT`` reads German, ``pt_PT`` Brazilian Portuguese (closer than English to
    a Portuguese reader), ``C``/``POSIX`` English; an unknown name matches nothing.
    """
    if name in ("C", "POSIX") or name.startswith(("C.", "POSIX.")):
        return "en"
    language, territory = _parts(name)
    if not language:
        return None
    if territory and f"{language}_{territory}" in available:
        return f"{language}_{territory}"
    if language in available:
        return language
    siblings = sorted(a for a in available if a.startswith(f"{language}_"))
    return siblings[0] if siblings else None


def _clock24(name: str | None) -> bool:
    if not name:
        return True
    language, territory = _parts(name)
    if (language, territory) in _TWENTY_FOUR_HOUR_IN_TWELVE:
        return True
    return territory not in _TWELVE_HOUR_TERRITORIES


#: The OS's UI languages, or how to read them: only asked when the environment is silent.
SystemLanguages = Sequence[str] | Callable[[], Sequence[str]]


def choose(
    configured: str | None,
    env: Mapping[str, str],
    system: SystemLanguages = (),
    available: Collection[str] = LANGUAGES,
) -> Choice:
    """Which language to speak.

    ``configured`` (the ``language`` key) wins unless it is ``auto`` or empty; then the
    environment in gettext's order (``LANGUAGE`` is a colon-separated list, each tried
    in turn); then ``system``, the OS's UI languages (Windows, macOS; see
    presence_agent/uilang/); then English. A name with no catalog (``xx``) is passed
    over, never an error. The clock follows the time locale (``LC_ALL``, ``LC_TIME``,
    ``LANG``), else the first system language.
    """
    asked: list[Sequence[str]] = []

    def os_languages() -> Sequence[str]:
        if not asked:
            asked.append(system() if callable(system) else system)
        return asked[0]

    time_locale = next((env[k] for k in TIME_ENV_ORDER if env.get(k)), None)
    if time_locale is None and os_languages():
        time_locale = os_languages()[0]
    clock24 = _clock24(time_locale)
    if configured and configured != "auto":
        found = _match(configured, available)
        if found is not None:
            return Choice(found, "config", clock24)
    for key in ENV_ORDER:
        value = env.get(key, "")
        if not value:
            continue
        for name in value.split(":") if key == "LANGUAGE" else (value,):
            found = _match(name, available) if name else None
            if found is not None:
                return Choice(found, key, clock24)
    for name in os_languages():
        found = _match(name, available)
        if found is not None:
            return Choice(found, "system", clock24)
    return Choice("en", "default", clock24)


@dataclass(frozen=True)
class Translator:
    """One language's words and clock. Immutable; pass it to whatever shows text."""

    language: str = "en"
    clock24: bool = True
    catalog: gettext.NullTranslations = field(
        default_factory=gettext.NullTranslations, compare=False, repr=False
    )

    def _(self, message: str) -> str:
        """``message`` (an English msgid) in this language."""
        return self.catalog.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The form of ``singular``/``plural`` for the count ``n`` (``idle 1 minute``)."""
        return self.catalog.ngettext(singular, plural, n)

    def time(self, hour: int, minute: int) -> str:
        """``13:05`` or ``1:05 PM``, as this locale writes a time of day."""
        if self.clock24:
            return f"{hour:02d}:{minute:02d}"
        twelve = hour % 12 or 12
        words = self._("{hour}:{minute} AM") if hour < 12 else self._("{hour}:{minute} PM")
        return words.format(hour=twelve, minute=f"{minute:02d}")

    def clock(self, when: datetime, today: date) -> str:
        """``13:00`` today, ``tomorrow 09:00``, ``Mon 09:00`` within a week (either way),
        else ``24 Dec 09:00``."""
        at = self.time(when.hour, when.minute)
        days = (when.date() - today).days
        if days == 0:
            return at
        if days == 1:
            return self._("tomorrow {time}").format(time=at)
        if -7 < days < 7:
            return self._("{weekday} {time}").format(
                weekday=self._(WEEKDAYS[when.weekday()]), time=at
            )
        return self._("{day} {month} {time}").format(
            day=when.day, month=self._(MONTHS[when.month - 1]), time=at
        )


#: A parameter of a :class:`Message`: a word that is not translated (a path, a number, a
#: server's own text) or another message, rendered in the same language.
Param = Union[str, int, float, "Message"]


@dataclass(frozen=True)
class Message:
    """Words built where no :class:`Translator` is at hand (an error deep in config.py).

    The lower layers make one with :func:`M_` and carry it (e.g. on an exception); what
    shows it to a person renders it with their translator, while ``str()``, and so every
    log line, is English. ``params`` fill the msgid's ``{name}`` fields; a parameter that is
    itself a :class:`Message` is rendered in the same language.
    """

    text: str
    params: tuple[tuple[str, Param], ...] = ()
    #: Already the words to show (text from elsewhere that has no msgid): never looked up.
    verbatim: bool = False

    def render(self, tr: Translator) -> str:
        """These words in ``tr``'s language."""
        if self.verbatim:
            return self.text
        values = {
            name: value.render(tr) if isinstance(value, Message) else value
            for name, value in self.params
        }
        return tr._(self.text).format(**values) if values else tr._(self.text)

    def __str__(self) -> str:
        return self.render(ENGLISH)


def M_(text: str, /, **params: Param) -> Message:
    """A :class:`Message` whose msgid ``text`` the catalogs extract (``--keyword=M_``)."""
    return Message(text, tuple(params.items()))


def verbatim(text: str) -> Message:
    """Words that have no msgid (yet), shown as they are in every language."""
    return Message(text, verbatim=True)


def render(words: Message | str, tr: Translator) -> str:
    """``words`` in ``tr``'s language: a plain string is already the text to show."""
    return words.render(tr) if isinstance(words, Message) else words


#: The source language with no catalog: what tests and callers that show no text use.
ENGLISH = Translator()


def locale_dir() -> Path:
    """Where the compiled catalogs are: beside this module in every install (wheel,
    editable checkout, PyInstaller bundle)."""
    return Path(__file__).with_name("locale")


def load(choice: Choice, directory: Path | None = None) -> Translator:
    """The :class:`Translator` for ``choice``: its catalog over the English one.

    A missing catalog (a checkout whose catalogs were never built) gives English
    rather than an error: the words must never be why the agent does not start.
    """
    where = str(directory or locale_dir())
    languages = [choice.language] if choice.language == "en" else [choice.language, "en"]
    catalog = gettext.translation(DOMAIN, where, languages=languages, fallback=True)
    return Translator(choice.language, choice.clock24, catalog)


def translator_for(
    configured: str | None, env: Mapping[str, str], system: SystemLanguages = ()
) -> Translator:
    """:func:`choose` then :func:`load`: the entry points' one call."""
    return load(choose(configured, env, system))
