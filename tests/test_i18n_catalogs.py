"""The translations are whole: every message the code marks is in every catalog, translated,
not fuzzy, with the English id's placeholders and the language's plural forms; and the
compiled catalogs say what the sources say.

The code's messages are extracted with GNU xgettext, as scripts/i18n does (keywords
``_``, ``N_``, ``ngettext``). A failure names the messages; docs/translating.md says
how to add them (``scripts/i18n update``, then translate).
"""

from __future__ import annotations

import gettext
import os
import shutil
import string
import subprocess
from pathlib import Path

import pytest

import hatch_build

ROOT = Path(__file__).resolve().parent.parent
PO_DIR = ROOT / "po"
#: Each catalog's plural rule (gettext's standard ones for these languages).
PLURAL_FORMS = {
    "en": "nplurals=2; plural=(n != 1);",
    "de": "nplurals=2; plural=(n != 1);",
    "es": "nplurals=2; plural=(n != 1);",
    "fr": "nplurals=2; plural=(n > 1);",
    "pt_BR": "nplurals=2; plural=(n > 1);",
}


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing (GNU gettext: scripts/bootstrap installs it)")
        pytest.skip(f"{name} is not installed (apt-get install gettext)")
    return found


def extract(tmp_path: Path) -> list[dict]:
    """The code's messages, extracted as scripts/i18n extract does."""
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "presence_agent").rglob("*.py"))
    pot = tmp_path / "presence-agent.pot"
    subprocess.run(
        [
            _tool("xgettext"),
            "--language=Python",
            "--from-code=UTF-8",
            "--keyword=_",
            "--keyword=N_",
            "--keyword=M_",
            "--keyword=ngettext:1,2",
            f"--output={pot}",
            *files,
        ],
        cwd=ROOT,
        check=True,
    )
    return [e for e in hatch_build.parse_po(pot.read_text(encoding="utf-8")) if e["msgid"]]


def catalogs() -> dict[str, list[dict]]:
    return {
        po.stem: hatch_build.parse_po(po.read_text(encoding="utf-8"))
        for po in sorted(PO_DIR.glob("*.po"))
    }


def key(entry: dict) -> tuple[str, str | None]:
    return entry["msgid"], entry.get("msgid_plural")


def fields(text: str) -> set[str]:
    """The ``{name}`` placeholders of a brace-format string."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        return {f"<unparsable: {exc}>"}


def test_the_shipped_languages_have_catalogs() -> None:
    from presence_agent.i18n import LANGUAGES

    assert set(catalogs()) == set(LANGUAGES)


def test_every_message_in_the_code_is_in_every_catalog_and_nothing_else(tmp_path: Path) -> None:
    wanted = {key(e) for e in extract(tmp_path)}
    assert wanted, "xgettext found no messages at all"
    problems = []
    for language, entries in catalogs().items():
        have = {key(e) for e in entries if e["msgid"] and not e["obsolete"]}
        for missing in sorted(wanted - have, key=str):
            problems.append(f"{language}.po lacks {missing[0]!r}")
        for extra in sorted(have - wanted, key=str):
            problems.append(f"{language}.po has {extra[0]!r}, which the code no longer says")
    assert not problems, "run scripts/i18n update, then translate:\n" + "\n".join(problems)


@pytest.mark.parametrize("language", sorted(PLURAL_FORMS))
def test_every_catalog_is_complete_and_keeps_the_placeholders(language: str) -> None:
    entries = catalogs()[language]
    header = next(e for e in entries if e["msgid"] == "")
    meta = dict(line.split(": ", 1) for line in header["msgstr"][0].splitlines() if ": " in line)
    assert meta.get("Plural-Forms") == PLURAL_FORMS[language]
    assert meta.get("Content-Type") == "text/plain; charset=UTF-8"
    assert meta.get("Language") == language
    nplurals = int(PLURAL_FORMS[language].split(";")[0].split("=")[1])
    problems = []
    for entry in entries:
        msgid = entry["msgid"]
        if not msgid or entry["obsolete"]:
            continue
        if "fuzzy" in entry["flags"]:
            problems.append(f"fuzzy: {msgid!r}")
        forms = entry["msgstr"]
        if "msgid_plural" in entry and len(forms) != nplurals:
            problems.append(f"{len(forms)} plural forms, not {nplurals}: {msgid!r}")
        if not forms or not all(forms):
            problems.append(f"untranslated: {msgid!r}")
            continue
        want = fields(msgid) | fields(entry.get("msgid_plural", ""))
        for form in forms:
            if fields(form) != want:
                problems.append(f"placeholders {sorted(fields(form))} != {sorted(want)}: {msgid!r}")
        if language == "en" and "msgid_plural" not in entry and forms[0] != msgid:
            problems.append(f"English differs from its id: {msgid!r} -> {forms[0]!r}")
    assert not problems, f"po/{language}.po:\n" + "\n".join(problems)


@pytest.mark.parametrize("language", sorted(PLURAL_FORMS))
def test_gnu_msgfmt_accepts_every_catalog(language: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            _tool("msgfmt"),
            "--check",
            "--check-accelerators=_",
            "--statistics",
            "-o",
            str(tmp_path / "out.mo"),
            str(PO_DIR / f"{language}.po"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "untranslated" not in done.stderr, done.stderr
    assert "fuzzy" not in done.stderr, done.stderr


def test_the_compiled_catalogs_say_what_the_sources_say(tmp_path: Path) -> None:
    """hatch_build.py's compiler against the sources: every entry reads back through gettext."""
    written = hatch_build.compile_catalogs(PO_DIR, tmp_path)
    assert {mo.parts[-3] for mo in written} == set(PLURAL_FORMS)
    for language, entries in catalogs().items():
        with (tmp_path / language / "LC_MESSAGES" / "presence-agent.mo").open("rb") as f:
            compiled = gettext.GNUTranslations(f)
        for entry in entries:
            if not entry["msgid"] or entry["obsolete"]:
                continue
            if "msgid_plural" in entry:
                got = [compiled.ngettext(entry["msgid"], entry["msgid_plural"], n) for n in (1, 5)]
                plural = compiled.plural  # type: ignore[attr-defined]
                assert got == [entry["msgstr"][plural(1)], entry["msgstr"][plural(5)]]
            else:
                assert compiled.gettext(entry["msgid"]) == entry["msgstr"][0]
