"""Exponential backoff with full jitter, with a seeded random source."""

from __future__ import annotations

import random

import pytest

from presence_agent.backoff import Backoff


def test_default_base_and_cap():
    backoff = Backoff()
    assert (backoff.base, backoff.cap, backoff.attempt) == (1.0, 60.0, 0)


def test_full_jitter_within_the_doubling_window():
    backoff = Backoff(base=1.0, cap=60.0, rng=random.Random(1))
    twin = random.Random(1)
    windows = [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]
    for attempt, window in enumerate(windows):
        assert backoff.attempt == attempt
        delay = backoff.next_delay()
        # Exactly one uniform draw over [0, window]: the same as a twin generator.
        assert delay == twin.uniform(0, window)
        assert 0 <= delay <= window


def test_never_above_the_cap_even_after_many_attempts():
    backoff = Backoff(base=1.0, cap=60.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(200)]
    assert max(delays) <= 60.0
    assert backoff.attempt == 200
    # Full jitter really spreads over the window (not all near the top or 0).
    late = delays[10:]
    assert min(late) < 15 < 45 < max(late)


def test_attempt_exponent_is_bounded():
    backoff = Backoff(base=1.0, cap=60.0, rng=random.Random(3))
    backoff.attempt = 10_000  # 2**10000 as a float would overflow
    assert 0 <= backoff.next_delay() <= 60.0


@pytest.mark.parametrize("retry_after", [0.0, 0.5, 1.0, 7.0, 30.0, 120.0, 3600.0])
def test_retry_after_is_honoured_never_sooner(retry_after):
    rng = random.Random(11)
    backoff = Backoff(base=1.0, cap=60.0, rng=rng)
    for _ in range(50):
        delay = backoff.next_delay(retry_after)
        # Never sooner; jitter on top at most a quarter of min(cap, max(1, retry_after)).
        assert retry_after <= delay <= retry_after + min(60.0, max(1.0, retry_after)) / 4


def test_retry_after_beyond_the_cap_is_still_honoured():
    backoff = Backoff(base=1.0, cap=5.0, rng=random.Random(0))
    assert backoff.next_delay(600.0) >= 600.0


def test_retry_after_counts_as_an_attempt():
    backoff = Backoff(base=1.0, cap=60.0, rng=random.Random(0))
    backoff.next_delay(10.0)
    backoff.next_delay(10.0)
    assert backoff.attempt == 2
    assert backoff.next_delay() <= 4.0


def test_negative_retry_after_is_ignored():
    backoff = Backoff(base=1.0, cap=60.0, rng=random.Random(5))
    twin = random.Random(5)
    assert backoff.next_delay(-3.0) == twin.uniform(0, 1.0)


def test_reset_starts_over():
    backoff = Backoff(base=2.0, cap=60.0, rng=random.Random(9))
    for _ in range(6):
        backoff.next_delay()
    backoff.reset()
    assert backoff.attempt == 0
    assert backoff.next_delay() <= 2.0


def test_seeded_backoffs_agree():
    one = Backoff(rng=random.Random(42))
    two = Backoff(rng=random.Random(42))
    assert [one.next_delay() for _ in range(8)] == [two.next_delay() for _ in range(8)]


def test_small_windows_for_tests():
    backoff = Backoff(base=0.01, cap=0.05, rng=random.Random(2))
    assert all(0 <= backoff.next_delay() <= 0.05 for _ in range(20))
