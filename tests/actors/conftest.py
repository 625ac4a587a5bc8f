from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest


@pytest.fixture(autouse=True)
async def no_task_leaks() -> AsyncIterator[None]:
    """Every actor test must leave no task behind: each actor's task is owned and awaited."""
    yield
    leaked = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
    assert not leaked, f"tasks left running: {leaked}"
