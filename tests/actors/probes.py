"""Small actors for the runtime tests. Their class-level journals outlive restarts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from actors.actor import Actor
from tests.timing import UNIT

__all__ = ["UNIT", "Boom", "Journal", "Probe"]


class Boom(Exception):
    """What the probes raise on purpose."""


@dataclass
class Journal:
    """What happened to all instances made by one factory (shared across restarts)."""

    starts: int = 0
    stops: int = 0
    received: list[Any] = field(default_factory=list)
    start_fails: bool = False
    started: asyncio.Event = field(default_factory=asyncio.Event)
    """Set by every on_start (clear it before waiting for the next)."""
    escalated: type[Exception] | None = None
    """Errors of this type, raised while answering an ask, crash the actor too."""


class Probe(Actor):
    """Counts, records, crashes or blocks on request.

    Messages: ("add", n) adds to the instance's total; "total" returns it; ("fail", exc) raises it;
    ("block", event) waits for the event; ("set", event) sets it; "stop" stops itself and answers "bye"; anything else is
    recorded in the journal and echoed.
    """

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.total = 0

    async def on_start(self) -> None:
        self.journal.starts += 1
        self.journal.started.set()
        if self.journal.start_fails:
            raise Boom("cannot start")

    async def on_receive(self, message: Any) -> Any:
        self.journal.received.append(message)
        match message:
            case ("add", int(n)):
                self.total += n
                return self.total
            case "total":
                return self.total
            case ("fail", BaseException() as exc):
                raise exc
            case ("block", asyncio.Event() as event):
                await event.wait()
                return "released"
            case ("set", asyncio.Event() as event):
                event.set()
                return "set"
            case "stop":
                self.ref.stop_nowait()
                return "bye"
            case _:
                return message

    def escalates(self, error: Exception) -> bool:
        escalated = self.journal.escalated
        return escalated is not None and isinstance(error, escalated)

    async def on_stop(self) -> None:
        self.journal.stops += 1
