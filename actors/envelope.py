"""What travels through a mailbox for an ask: the message and where its answer goes. (A tell travels
as the bare message.)"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Envelope:
    """One ask in a mailbox. The runtime creates it; actors only ever see ``message``."""

    message: Any
    """What the sender passed to ``ask``."""
    reply: asyncio.Future[Any] | None = None
    """Where the asker waits for the answer (None only for `STOP`). Done already when the asker
    gave up (timeout or cancellation): the actor then drops the envelope unprocessed."""


STOP = Envelope(None)
"""Wakes an idle actor loop so that it notices a stop request; never delivered to ``on_receive``."""
