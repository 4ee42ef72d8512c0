"""One line of an exception's text, the same way everywhere."""

from __future__ import annotations

from presence_agent.errortext import first_line


def test_the_first_non_empty_line_only() -> None:
    assert first_line(RuntimeError("\n  cannot open display :9  \nsecond line")) == (
        "cannot open display :9"
    )


def test_no_text_gives_the_type_name() -> None:
    assert first_line(TimeoutError()) == "TimeoutError"
    assert first_line(OSError(" \n ")) == "OSError"


def test_long_lines_are_cut() -> None:
    assert first_line(ValueError("x" * 500), limit=20) == "x" * 20


def test_with_type_names_it() -> None:
    assert first_line(ConnectionError("refused"), with_type=True) == "ConnectionError: refused"
    assert first_line(ConnectionError(), with_type=True) == "ConnectionError"
