"""What a write operation sees of its connection, and what the group-commit writer opens.

The writer's operations use three things of a connection: ``execute``, ``scalar`` and the
``dialect``. Naming that much lets one writer run on SQLAlchemy's async engine (PostgreSQL) and on
a SQLite file written inline on the event loop (`persistence.inline_writes`), with the same
operations.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from sqlalchemy import CursorResult, Dialect, Executable


class WriteConnection(Protocol):
    """A connection inside one of the writer's transactions (an ``AsyncConnection`` is one)."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]: ...

    async def scalar(self, statement: Executable, parameters: Any = None) -> Any: ...


class Transactions(Protocol):
    """Opens the writer's transactions: ``async with begin() as conn`` commits on a clean exit and
    rolls back on an exception (an ``AsyncEngine`` is one)."""

    def begin(self) -> AbstractAsyncContextManager[WriteConnection]: ...
