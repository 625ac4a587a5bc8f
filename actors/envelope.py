"""What travels through a mailbox: the message and, for an ask, where its answer goes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Envelope:
    """One mailbox entry. The runtime creates it; actors only ever see ``message``."""

    message: Any
    """What the sender passed to ``tell`` or ``ask``."""
    reply: asyncio.Future[Any] | None = None
    """Where the asker waits for the answer; None for a tell. Done already when the asker gave up
    (timeout or cancellation): the actor then drops the envelope unprocessed."""


STOP = Envelope(None)
"""Wakes an idle actor loop so that it notices a stop request; never delivered to ``on_receive``."""
