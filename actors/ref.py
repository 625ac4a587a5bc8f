"""The handle to an actor, as every sender sees it: the interface a local ref implements today and a
reference to an actor in another process can implement later (pykka keeps its ref apart from the
actor the same way).
"""

from __future__ import annotations

from typing import Any, Protocol


class ActorRef(Protocol):
    """Reach an actor only through this: its state belongs to its own task."""

    @property
    def name(self) -> str:
        """Unique among its supervisor's children; used in logs and errors."""
        ...

    @property
    def is_alive(self) -> bool:
        """True while the actor accepts messages (including while its supervisor restarts it)."""
        ...

    def tell(self, message: Any) -> None:
        """Queue ``message`` without waiting for it to be processed. Raises `MailboxFull` when
        the mailbox is full and `ActorStopped` when the actor is stopping or stopped; a failure
        while processing it goes to the actor's supervisor, never to the sender."""
        ...

    async def ask(self, message: Any, *, timeout: float | None = 5.0) -> Any:
        """Queue ``message`` and wait for the answer. Re-raises what the actor raised; raises
        `AskTimeout`, `ActorStopped` or `MailboxFull` (see `actors.errors`)."""
        ...

    def stop_nowait(self) -> None:
        """Request a stop and return at once (the current message finishes). Idempotent."""
        ...
