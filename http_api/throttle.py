"""Throttling of failed operator logins, per username and per peer address.

After ``free_failures`` failures a key must wait before its next attempt, twice as long after each
further failure (up to ``max_delay``); after ``max_failures`` it is refused for ``lockout``
seconds. An attempt made while a key waits is refused (429) without checking the password, so that
parallel guesses gain nothing. A key's count is forgotten ``forget_after`` seconds after its last
failure, and a success clears the username's count (never the peer's: one valid account must not
reset the count of an address guessing another's password).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

ThrottleKey = tuple[str, str]
"""("user", name) or ("peer", address)."""


@dataclass(slots=True)
class _Failures:
    count: int
    last: float
    not_before: float


class LoginThrottle:
    """Remembers failures by key; ``retry_after`` says how long a key must still wait."""

    def __init__(
        self,
        *,
        free_failures: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        max_failures: int = 10,
        lockout: float = 900.0,
        forget_after: float = 3600.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_failures = free_failures
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_failures = max_failures
        self.lockout = lockout
        self.forget_after = forget_after
        self.max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[ThrottleKey, _Failures] = OrderedDict()

    @staticmethod
    def keys(username: str, peer: str | None) -> list[ThrottleKey]:
        return [("user", username.casefold()), ("peer", peer or "unknown")]

    def delay(self, count: int) -> float:
        """Seconds a key waits after its ``count``-th failure."""
        if count >= self.max_failures:
            return self.lockout
        if count <= self.free_failures:
            return 0.0
        return float(min(self.base_delay * 2 ** (count - self.free_failures - 1), self.max_delay))

    def retry_after(self, keys: Iterable[ThrottleKey]) -> float | None:
        """Seconds until an attempt for all ``keys`` is allowed; None when it is allowed now."""
        now = self._clock()
        wait = 0.0
        for key in keys:
            entry = self._current(key, now)
            if entry is not None:
                wait = max(wait, entry.not_before - now)
        return wait if wait > 0 else None

    def failed(self, keys: Iterable[ThrottleKey]) -> None:
        now = self._clock()
        for key in keys:
            entry = self._current(key, now)
            count = entry.count + 1 if entry is not None else 1
            self._failures[key] = _Failures(count, now, now + self.delay(count))
            self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, username: str) -> None:
        self._failures.pop(("user", username.casefold()), None)

    def _current(self, key: ThrottleKey, now: float) -> _Failures | None:
        entry = self._failures.get(key)
        if entry is None:
            return None
        if now - entry.last > self.forget_after and now >= entry.not_before:
            del self._failures[key]
            return None
        return entry
