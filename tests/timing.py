"""The one time unit of the tests, and waits for a condition instead of fixed sleeps.

Every timeout, delay and interval in the tests is a multiple of ``UNIT``. A slow machine (a loaded CI
runner, a debugger, coverage) sets ``VOLTMESH_TESTS_TIMEOUT_FACTOR`` to stretch them all alike, as
websockets' ``WEBSOCKETS_TESTS_TIMEOUT_FACTOR`` does.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

FACTOR = float(os.environ.get("VOLTMESH_TESTS_TIMEOUT_FACTOR", "1"))
"""How much slower than usual this machine is allowed to be."""

UNIT = 0.05 * FACTOR
"""One test time unit in seconds."""

T = TypeVar("T")


@overload
async def eventually(
    predicate: Callable[[], Awaitable[T]], *, within: float = ..., what: str | None = ...
) -> T: ...
@overload
async def eventually(
    predicate: Callable[[], T], *, within: float = ..., what: str | None = ...
) -> T: ...
async def eventually(
    predicate: Callable[[], object],
    *,
    within: float = 100 * UNIT,
    what: str | None = None,
) -> object:
    """Poll ``predicate`` (plain or async) until it returns something true, and return that.

    Fails with an ``AssertionError`` naming ``what`` (or the predicate) and its last value if it is
    still false after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() >= deadline:
            name = what or getattr(predicate, "__qualname__", repr(predicate))
            raise AssertionError(f"{name}: still {value!r} after {within:.2f} s")
        await asyncio.sleep(UNIT / 5)
