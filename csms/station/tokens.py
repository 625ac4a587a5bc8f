"""A read-through cache of id tokens, so that Authorize and StartTransaction do not each read the store.

Edits made through this node's API invalidate an entry at once; the time-to-live bounds how long an edit
made on another node can go unseen.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from persistence.id_tokens import get_id_token
from persistence.reads import Reads
from persistence.records import IdTokenRecord, id_token_key


class TokenCache:
    """Id token records by value, unknown tokens included (as None)."""

    def __init__(
        self,
        reads: Reads,
        *,
        ttl: float = 30.0,
        size: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reads = reads
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, IdTokenRecord | None]] = OrderedDict()

    async def get(self, id_token: str) -> IdTokenRecord | None:
        id_token = id_token_key(id_token)
        now = self._clock()
        entry = self._entries.get(id_token)
        if entry is not None and entry[0] > now:
            return entry[1]
        record = await get_id_token(self._reads, id_token)
        self._entries[id_token] = (now + self._ttl, record)
        self._entries.move_to_end(id_token)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return record

    def invalidate(self, id_token: str) -> None:
        self._entries.pop(id_token_key(id_token), None)
