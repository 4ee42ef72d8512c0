"""Exponential backoff with full jitter.

Shared by the reporter, the keepalive and the fleet simulation.

Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter") spreads a
fleet's retries evenly over the window instead of letting them arrive in
waves after a server restart.
"""

from __future__ import annotations

import random


class Backoff:
    """Delays for successive retries. Not thread-safe: one owner thread each."""

    def __init__(
        self, base: float = 1.0, cap: float = 60.0, rng: random.Random | None = None
    ) -> None:
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 - jitter, not crypto

    def next_delay(self, retry_after: float | None = None) -> float:
        """The wait before the next try.

        ``retry_after`` is the server's own word (429/503). We never come
        back sooner than it asks; the jitter on top keeps a fleet that got
        the same answer from returning in the same instant.
        """
        window = min(self.cap, self.base * (2 ** min(self.attempt, 32)))
        self.attempt += 1
        if retry_after is not None and retry_after >= 0:
            return retry_after + self._rng.uniform(0, min(self.cap, max(1.0, retry_after)) / 4)
        return self._rng.uniform(0, window)

    def reset(self) -> None:
        self.attempt = 0
