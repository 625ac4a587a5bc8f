"""OCPP 1.6 transaction ids, issued by the CSMS (OCPP 1.6 section 6.46: transactionId is an integer).

Hi/lo allocation: an allocator reserves a block of ids in the ``id_counters`` row of its name with one
atomic ``UPDATE ... RETURNING`` through the group-commit writer, then hands ids out from memory. Ids
are unique across processes sharing the database and across restarts; the unused rest of a block is
skipped after a restart, so ids have gaps.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import update

from persistence.connections import WriteConnection
from persistence.database import dialect_insert
from persistence.errors import IdSpaceExhausted
from persistence.models import id_counters
from persistence.writer import Custom, GroupCommitWriter

INT32_MAX = 2**31 - 1
"""OCPP-J carries 1.6 transactionId as a JSON integer that chargers store as a signed 32-bit value."""


class IdAllocator:
    """Issues increasing ids starting at 1 (per counter ``name``), ``block`` reserved at a time."""

    def __init__(
        self, writer: GroupCommitWriter, name: str = "transaction", block: int = 100
    ) -> None:
        if block < 1:
            raise ValueError("block must be at least 1")
        self._writer = writer
        self._name = name
        self._block = block
        self._next = 0
        self._limit = 0
        self._lock = asyncio.Lock()

    async def next(self) -> int:
        """The next id; reserves a new block (one grouped commit) when the current one is used up."""
        if self._next >= self._limit:
            async with self._lock:
                if self._next >= self._limit:
                    (end,) = await self._writer.submit(Custom(self._reserve))
                    if end - 1 > INT32_MAX:
                        raise IdSpaceExhausted(f"id counter {self._name!r} passed {INT32_MAX}")
                    self._next, self._limit = end - self._block, end
        value = self._next
        self._next += 1
        return value

    async def _reserve(self, conn: WriteConnection) -> int:
        """Reserve [end - block, end) and return end; the row holds the next unreserved id."""
        bump = (
            update(id_counters)
            .where(id_counters.c.name == self._name)
            .values(next_value=id_counters.c.next_value + self._block)
            .returning(id_counters.c.next_value)
        )
        end = (await conn.execute(bump)).scalar()
        if end is None:
            # First use of this counter: ids start at 1. Another process may create the row at the
            # same moment, hence DO NOTHING and the UPDATE again.
            await conn.execute(
                dialect_insert(conn, id_counters)
                .values(name=self._name, next_value=1)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            end = (await conn.execute(bump)).scalar_one()
        return int(end)
