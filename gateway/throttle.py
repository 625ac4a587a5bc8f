"""Throttling of failed basic auth at the websocket upgrade, per station id and per peer address.

A station password must not be guessable at the rate a CPU checks scrypt hashes. Each failure of a
key (the station id, and the peer address) within ``window`` seconds doubles the delay before the
401 is answered, up to ``max_delay``; after ``max_failures`` the key is refused outright (429, no
password checked) until ``window`` seconds pass without a failure. A success clears the station's
count (not the peer's: one station's password must not buy another id more guesses).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


class AuthThrottle:
    """Failure counts by key; ``clock`` is swappable for tests."""

    def __init__(
        self,
        *,
        base_delay: float = 0.25,
        max_delay: float = 4.0,
        max_failures: int = 10,
        window: float = 300.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_failures = max_failures
        self.window = window
        self._max_keys = max_keys
        self._clock = clock
        self._failures: dict[str, _Failures] = {}

    def _current(self, key: str) -> int:
        entry = self._failures.get(key)
        if entry is None:
            return 0
        if self._clock() - entry.last > self.window:
            del self._failures[key]
            return 0
        return entry.count

    def blocked(self, *keys: str) -> bool:
        """Whether any of ``keys`` used up its failures: refuse without checking a password."""
        return any(self._current(key) >= self.max_failures for key in keys)

    def failed(self, *keys: str) -> float:
        """Count a failure for each key; the delay (s) to wait before answering it."""
        now = self._clock()
        worst = 0
        for key in keys:
            count = self._current(key) + 1
            self._failures.pop(key, None)  # re-inserted last: the newest
            self._failures[key] = _Failures(count, now)
            worst = max(worst, count)
        if len(self._failures) > self._max_keys:
            # Bounded memory under a spray of ids: drop the oldest entries (dicts keep order).
            for key in list(self._failures)[: len(self._failures) - self._max_keys]:
                del self._failures[key]
        return min(self.max_delay, self.base_delay * 2.0 ** (worst - 1))

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
