"""The package build's one extra step: compile the translations, ``po/*.po`` -> ``.mo``.

hatchling runs :class:`CatalogsHook` for every wheel (pyproject.toml,
``[tool.hatch.build.targets.wheel.hooks.custom]``): a regular wheel gets the compiled
catalogs at ``presence_agent/locale/<language>/LC_MESSAGES/presence-agent.mo``; an
editable install (``pip install -e .``, scripts/bootstrap) gets them written into the
checkout at that same place, where the code looks (presence_agent/i18n.py). The
PyInstaller spec (packaging/presence-agent.spec) calls :func:`compile_catalogs` too.
The ``.mo`` files are build output, never committed (.gitignore).

The compiler is this file's own few lines of standard-library Python rather than GNU
``msgfmt``, so that a build on Windows or macOS needs no gettext tools; the CI check
(tests/test_i18n_catalogs.py) validates every catalog with ``msgfmt --check`` as well.
"""

from __future__ import annotations

import ast
import struct
import tempfile
from pathlib import Path
from typing import Any

DOMAIN = "presence-agent"
ROOT = Path(__file__).resolve().parent
PO_DIR = ROOT / "po"
#: Where the code finds the catalogs in a checkout (and in every install, beside i18n.py).
CHECKOUT_LOCALE = ROOT / "presence_agent" / "locale"


def parse_po(text: str) -> list[dict[str, Any]]:
    """The entries of a ``.po`` file: ``msgctxt``, ``msgid``, ``msgid_plural``, ``msgstr``
    (a list: one per plural form), ``flags`` and ``obsolete``."""
    entries: list[dict[str, Any]] = []
    entry: dict[str, Any] = {}
    key: str | None = None

    def finish() -> None:
        nonlocal entry, key
        if "msgid" in entry:
            entry.setdefault("msgstr", [])
            entry.setdefault("flags", set())
            entries.append(entry)
        entry, key = {}, None

    for raw in text.splitlines():
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        if not line:
            finish()
            continue
        if line.startswith("#,") and not obsolete:
            if "msgstr" in entry:
                finish()
            entry.setdefault("flags", set()).update(f.strip() for f in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            if key is None:
                raise ValueError(f"a string outside an entry: {raw!r}")
            value = ast.literal_eval(line)
            if key.startswith("msgstr["):
                entry["msgstr"][-1] += value
            else:
                entry[key] += value
            continue
        word, _, rest = line.partition(" ")
        if word in ("msgctxt", "msgid") and "msgstr" in entry:
            finish()
        entry["obsolete"] = obsolete
        value = ast.literal_eval(rest.strip())
        if word.startswith("msgstr["):
            entry.setdefault("msgstr", []).append(value)
            key = word
        elif word == "msgstr":
            entry["msgstr"] = [value]
            key = "msgstr["
        else:
            entry[word] = value
            key = word
    finish()
    return entries


def compile_po(text: str) -> bytes:
    """The ``.mo`` bytes for a ``.po`` file's text. Untranslated, fuzzy and obsolete
    entries are left out (gettext then falls back to English for them)."""
    messages: dict[bytes, bytes] = {}
    for entry in parse_po(text):
        strings = entry["msgstr"]
        if entry["obsolete"] or not strings or not all(strings):
            continue
        if "fuzzy" in entry["flags"] and entry["msgid"]:
            continue
        key = entry["msgid"]
        if "msgid_plural" in entry:
            key += "\0" + entry["msgid_plural"]
        if "msgctxt" in entry:
            key = entry["msgctxt"] + "\x04" + key
        messages[key.encode()] = "\0".join(strings).encode()
    keys = sorted(messages)
    ids = b"".join(k + b"\0" for k in keys)
    strs = b"".join(messages[k] + b"\0" for k in keys)
    header = 7 * 4
    key_table = header
    value_table = key_table + len(keys) * 8
    ids_start = value_table + len(keys) * 8
    strs_start = ids_start + len(ids)
    offsets_ids: list[int] = []
    offsets_strs: list[int] = []
    pos_id, pos_str = ids_start, strs_start
    for k in keys:
        offsets_ids += [len(k), pos_id]
        offsets_strs += [len(messages[k]), pos_str]
        pos_id += len(k) + 1
        pos_str += len(messages[k]) + 1
    out = struct.pack("Iiiiiii", 0x950412DE, 0, len(keys), key_table, value_table, 0, 0)
    out += struct.pack(f"{len(offsets_ids)}i", *offsets_ids)
    out += struct.pack(f"{len(offsets_strs)}i", *offsets_strs)
    return out + ids + strs


def compile_catalogs(po_dir: Path = PO_DIR, out_dir: Path = CHECKOUT_LOCALE) -> list[Path]:
    """Compile every ``po_dir/<language>.po`` into ``out_dir``; the ``.mo`` paths written."""
    written = []
    for po in sorted(po_dir.glob("*.po")):
        target = out_dir / po.stem / "LC_MESSAGES" / f"{DOMAIN}.mo"
        data = compile_po(po.read_text(encoding="utf-8"))
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
        written.append(target)
    return written


try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # imported by the PyInstaller spec or the tests, not by hatchling
    BuildHookInterface = object  # type: ignore[assignment,misc]


class CatalogsHook(BuildHookInterface):  # type: ignore[misc,valid-type]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        po_dir = Path(self.root) / "po"
        if version == "editable":
            # The checkout is what runs: the catalogs go where the code looks for them.
            compile_catalogs(po_dir, Path(self.root) / "presence_agent" / "locale")
            return
        out = Path(tempfile.mkdtemp(prefix="presence-agent-locale-"))
        for mo in compile_catalogs(po_dir, out):
            inside = mo.relative_to(out).as_posix()
            build_data["force_include"][str(mo)] = f"presence_agent/locale/{inside}"
