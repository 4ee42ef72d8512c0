"""One line of an exception's text, for a log line, ``doctor`` or an error a person reads.

Library exceptions (Xlib's, jeepney's, httpx's, pynput's) often carry several
lines, or none at all; every place that shows one uses :func:`first_line`, so
they all cut the same way.
"""

from __future__ import annotations

__all__ = ["first_line"]

#: Longer first lines are cut: one line must stay one line in a terminal and a tooltip.
LIMIT = 200


def first_line(exc: BaseException, *, limit: int = LIMIT, with_type: bool = False) -> str:
    """The first non-empty line of ``exc``'s text, at most ``limit`` characters.

    An exception with no text gives its type's name. ``with_type`` prefixes the
    type (``TimeoutError: timed out``), for logs where the type is the news.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    name = type(exc).__name__
    if not lines:
        return name
    text = lines[0][:limit]
    return f"{name}: {text}" if with_type else text
