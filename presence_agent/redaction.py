"""The one redaction point for text that came from outside the agent.

A server's ``message``, a status word, the agent's name, a WebSocket close
reason, a library's exception text: any of them may echo what the agent sent
(a hostile or buggy server, a proxy's error page) and may carry terminal
control sequences (``ESC ] 0 ; title BEL`` sets a terminal's title,
``ESC [ 2 J`` clears it). Every place that shows such a text to a person or
writes it down passes it through :meth:`Redactor.clean` first: the REST
client for every error and every field it returns (presence_agent/client.py),
the engine for every problem it publishes to the tray, the control channel and
``run --no-tray`` (presence_agent/engine.py), ``doctor`` for every line it
prints (presence_agent/doctor.py), and the log handlers (presence_agent/logs.py).

Standard library only: the log set-up and ``doctor`` load it before httpx.
"""

from __future__ import annotations

import base64
import threading
import unicodedata
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = ["REDACTED", "Redactor", "printable", "secret_forms"]

REDACTED = "<redacted>"
#: Unicode categories that are not text a person should see: controls (C0, C1, DEL),
#: format characters (bidi overrides that reorder what is shown), surrogates, private use,
#: unassigned code points, and the line and paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_REPLACEMENT = "\N{REPLACEMENT CHARACTER}"


def secret_forms(api_key: str | None, secret: str) -> frozenset[str]:
    """Every form in which the agent ever sends ``secret``.

    The raw secret; ``key:secret`` (the ``token`` scheme); its base64 (the
    ``Basic`` scheme, and the secret's own base64 in case a server decodes
    the pair and re-encodes a half); and both URL encodings (a proxy's
    password is sent URL-decoded, and a server may echo a query-encoded form).
    """
    if not secret:
        return frozenset()
    pairs = [secret] if not api_key else [secret, f"{api_key}:{secret}"]
    forms: set[str] = set()
    for text in pairs:
        raw = text.encode("utf-8")
        forms.update(
            {
                text,
                base64.b64encode(raw).decode("ascii"),
                base64.b64encode(raw).decode("ascii").rstrip("="),
                base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="),
                quote(text, safe=""),
                quote_plus(text, safe=""),
            }
        )
    return frozenset(form for form in forms if form)


def printable(text: str, *, multiline: bool = False) -> str:
    """``text`` with every control or invisible format character replaced.

    Printable Unicode (accents, CJK, emoji) stays as it is. Tabs and line
    breaks become spaces, so one line stays one line in a terminal or a
    tooltip, unless ``multiline`` (a log record's traceback) keeps ``\\n``.
    """
    out: list[str] = []
    for ch in text:
        shown = ch.isprintable() and unicodedata.category(ch) not in _HIDDEN
        if shown or ch == " " or (ch == "\n" and multiline):
            out.append(ch)
        elif ch in "\t\n\r\v\f":
            out.append(" ")
        elif unicodedata.category(ch) == "Zs":
            out.append(" ")  # a no-break or other space: still a space
        else:
            out.append(_REPLACEMENT)
    return "".join(out)


class Redactor:
    """The secrets known so far, and :meth:`clean` to take them out of a text.

    Thread use: :meth:`add` from any thread (the set is replaced whole, under
    a lock); :meth:`clean` from any thread.
    """

    def __init__(self, forms: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        #: Longest first, so ``key:secret`` goes whole before the secret inside it.
        self._forms: tuple[str, ...] = ()
        self._extend(forms)

    @classmethod
    def for_credentials(cls, api_key: str | None, secret: str) -> Redactor:
        return cls(secret_forms(api_key, secret))

    def add(self, secret: str, api_key: str | None = None) -> None:
        """Take ``secret`` out of every text from now on, in every form of :func:`secret_forms`."""
        self._extend(secret_forms(api_key, secret))

    def _extend(self, forms: Iterable[str]) -> None:
        new = {form for form in forms if form}
        with self._lock:
            merged = set(self._forms) | new
            self._forms = tuple(sorted(merged, key=lambda form: (-len(form), form)))

    def redact(self, text: str) -> str:
        """``text`` with every known form of a secret replaced by ``<redacted>``."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def clean(self, text: str, *, multiline: bool = False) -> str:
        """``text`` fit to show: secrets redacted, control characters replaced.

        Secrets are matched on the raw text, then again on the printable one,
        since replacing a character may complete a form (a tab turned space).
        """
        return self.redact(printable(self.redact(text), multiline=multiline))
