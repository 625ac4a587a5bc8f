"""Starting an actor with or without a supervisor."""

from __future__ import annotations

from collections.abc import Callable

from actors.actor import Actor
from actors.local import LocalActorRef, start
from actors.supervisor import Supervisor


async def spawn(
    factory: Callable[[], Actor],
    *,
    name: str,
    mailbox_size: int = 1000,
    supervisor: Supervisor | None = None,
) -> LocalActorRef:
    """Create an actor from ``factory`` and run its ``on_start`` before returning its ref.

    A start failure raises here. With a ``supervisor`` this is ``supervisor.spawn(...)``: the
    supervisor owns the actor. Without one, the caller owns it and must ``await ref.stop()``.
    """
    if supervisor is not None:
        return await supervisor.spawn(factory, name=name, mailbox_size=mailbox_size)
    return await start(factory, name=name, mailbox_size=mailbox_size, parent=None)
