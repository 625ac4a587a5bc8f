"""The actor mailbox: bounded, FIFO, one waiting consumer woken by a put."""

from __future__ import annotations

import asyncio

import pytest

from actors.mailbox import Mailbox


async def test_fifo_bounded_and_a_waiting_get_is_woken() -> None:
    mailbox: Mailbox[int] = Mailbox(2)
    assert mailbox.empty()
    with pytest.raises(asyncio.QueueEmpty):
        mailbox.get_nowait()
    waiting = asyncio.create_task(mailbox.get())
    await asyncio.sleep(0)
    mailbox.put_nowait(1)
    assert await asyncio.wait_for(waiting, 1) == 1
    mailbox.put_nowait(2)
    mailbox.put_nowait(3)
    with pytest.raises(asyncio.QueueFull):
        mailbox.put_nowait(4)
    assert mailbox.qsize() == 2
    assert [mailbox.get_nowait(), await mailbox.get()] == [2, 3]


async def test_a_cancelled_get_leaves_the_mailbox_usable() -> None:
    mailbox: Mailbox[str] = Mailbox(1)
    waiting = asyncio.create_task(mailbox.get())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    mailbox.put_nowait("after")
    assert await asyncio.wait_for(mailbox.get(), 1) == "after"


async def test_get_within_returns_none_after_the_timeout_or_the_message_before_it() -> None:
    mailbox: Mailbox[int] = Mailbox(4)
    assert await mailbox.get_within(0.01) is None
    assert await mailbox.get_within(0) is None
    later = asyncio.get_running_loop().call_later(0.01, mailbox.put_nowait, 7)
    assert await mailbox.get_within(5) == 7
    later.cancel()
