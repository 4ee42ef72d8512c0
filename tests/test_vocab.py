"""The status vocabulary: both dialects, both ways."""

from __future__ import annotations

import pytest

from presence_agent.vocab import (
    Dialect,
    ServerStatus,
    Source,
    Status,
    UnknownStatusError,
    UnsupportedStatusError,
    dialect_of,
    from_wire,
    statuses_for,
    to_wire,
)

DOC = Dialect.DOCUMENTED
REAL = Dialect.LIBREDESK


@pytest.mark.parametrize(
    ("status", "source", "word"),
    [
        (Status.AVAILABLE, Source.USER, "available"),
        (Status.AVAILABLE, Source.IDLE, "available"),
        (Status.BUSY, Source.USER, "busy"),
        (Status.AWAY, Source.USER, "away"),
        (Status.AWAY, Source.IDLE, "away"),
        (Status.OFFLINE, Source.USER, "offline"),
    ],
)
def test_to_wire_documented(status, source, word):
    assert to_wire(status, source, DOC) == word


@pytest.mark.parametrize(
    ("status", "source", "word"),
    [
        (Status.AVAILABLE, Source.USER, "online"),
        (Status.AVAILABLE, Source.IDLE, "online"),
        # A person's away must be away_manual, or idle detection would undo it.
        (Status.AWAY, Source.USER, "away_manual"),
        (Status.AWAY, Source.IDLE, "away"),
        (Status.REASSIGNING, Source.USER, "away_and_reassigning"),
        (Status.OFFLINE, Source.USER, "offline"),
        (Status.OFFLINE, Source.IDLE, "offline"),
    ],
)
def test_to_wire_libredesk(status, source, word):
    assert to_wire(status, source, REAL) == word


@pytest.mark.parametrize("source", list(Source))
def test_busy_is_unsupported_on_libredesk(source):
    with pytest.raises(UnsupportedStatusError) as info:
        to_wire(Status.BUSY, source, REAL)
    assert info.value.status is Status.BUSY
    assert info.value.dialect is REAL
    text = str(info.value)
    assert "'Busy'" in text
    # It says what the server can hold instead.
    for status in statuses_for(REAL):
        assert status.value in text


def test_reassigning_is_unsupported_on_the_documented_server():
    with pytest.raises(UnsupportedStatusError):
        to_wire(Status.REASSIGNING, Source.USER, DOC)


@pytest.mark.parametrize(
    ("word", "dialect", "expected"),
    [
        ("available", DOC, ServerStatus(Status.AVAILABLE)),
        ("online", DOC, ServerStatus(Status.AVAILABLE)),  # the documented example says online
        ("busy", DOC, ServerStatus(Status.BUSY)),
        ("away", DOC, ServerStatus(Status.AWAY, by_idle=None)),
        ("offline", DOC, ServerStatus(Status.OFFLINE)),
        ("online", REAL, ServerStatus(Status.AVAILABLE)),
        ("away", REAL, ServerStatus(Status.AWAY, by_idle=True)),
        ("away_manual", REAL, ServerStatus(Status.AWAY, by_idle=False)),
        ("away_and_reassigning", REAL, ServerStatus(Status.REASSIGNING, by_idle=False)),
        ("offline", REAL, ServerStatus(Status.OFFLINE)),
    ],
)
def test_from_wire(word, dialect, expected):
    assert from_wire(word, dialect) == expected


@pytest.mark.parametrize(
    ("dialect", "status", "source"),
    [(d, s, src) for d in Dialect for s in statuses_for(d) for src in Source],
)
def test_round_trip(dialect, status, source):
    back = from_wire(to_wire(status, source, dialect), dialect)
    assert back.status is status
    if status is Status.AWAY and dialect is REAL:
        assert back.by_idle is (source is Source.IDLE)


@pytest.mark.parametrize("word", ["", "Online", "AWAY", "lunch", "away ", "x" * 500])
@pytest.mark.parametrize("dialect", list(Dialect))
def test_unknown_words(word, dialect):
    with pytest.raises(UnknownStatusError) as info:
        from_wire(word, dialect)
    assert info.value.word == word
    assert len(str(info.value)) < 100  # junk from a server is cut short


@pytest.mark.parametrize(
    ("word", "dialect"),
    [
        ("available", DOC),
        ("busy", DOC),
        ("online", REAL),
        ("away_manual", REAL),
        ("away_and_reassigning", REAL),
        ("away", None),
        ("offline", None),
        ("lunch", None),
        ("", None),
    ],
)
def test_dialect_of(word, dialect):
    assert dialect_of(word) is dialect


def test_statuses_for_each_dialect_in_menu_order():
    assert statuses_for(DOC) == (Status.AVAILABLE, Status.BUSY, Status.AWAY, Status.OFFLINE)
    assert statuses_for(REAL) == (
        Status.AVAILABLE,
        Status.AWAY,
        Status.REASSIGNING,
        Status.OFFLINE,
    )
    assert Status.BUSY not in statuses_for(REAL)


def test_every_status_has_a_label():
    assert {s.label for s in Status} == {
        "Available",
        "Busy",
        "Away",
        "Away, reassign my conversations",
        "Offline",
    }
