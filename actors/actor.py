"""Actors: state touched by one task only, reached through an `ActorRef`.

Subclass `Actor`, start it with `Supervisor.spawn` (or `actors.spawn`), talk to it through the
returned ref. State lives on the actor instance and is touched only by its own task, so it needs no
locks: while ``on_receive`` awaits, the next message waits in the mailbox.

Failure rules (pykka ``_actor.py``, with Erlang/OTP's ``call`` for escalated errors):

- ``on_receive`` raises while answering an ``ask``: the asker gets the exception. The actor goes on,
  unless ``escalates(error)`` says the error leaves its state in doubt: then it has crashed too.
- ``on_receive`` raises while handling a ``tell``: the actor crashed.
- A crashed actor without a supervisor stops (the exception is logged); with one, the supervisor
  restarts it with a fresh instance behind the same ref and mailbox, or gives up.
- When the actor stops, every ask still queued fails with `ActorStopped`.
"""

from __future__ import annotations

import logging
from typing import Any

from actors.ref import ActorRef

log = logging.getLogger(__name__)


class Actor:
    """Subclass and override the hooks. State lives on the instance.

    A supervisor restarts a crashed actor by calling its factory again, so everything an instance
    needs must come from the factory and ``on_start`` (typically: reload from the store).
    """

    ref: ActorRef
    """This actor's own ref (set before ``on_start``): use it to tell itself something or to stop
    itself with ``self.ref.stop_nowait()``."""

    async def on_start(self) -> None:
        """Prepare the state (e.g. load it from the store). Raising is a start failure: ``spawn``
        re-raises it, or, during a restart, the supervisor counts it as a crash. ``on_stop`` is not
        called for an instance whose ``on_start`` failed."""

    async def on_receive(self, message: Any) -> Any:
        """Handle one message; the return value answers an ``ask`` (ignored for a ``tell``)."""
        log.warning("%s: unexpected message %r", self.ref.name, message)

    def escalates(self, error: Exception) -> bool:
        """Whether ``error``, raised while answering an ``ask``, also crashes the actor (its
        supervisor restarts it with state reloaded) besides reaching the asker. False by default:
        an answer that is an error is still an answer. Actors whose state may be half-updated by a
        failed write return True for such errors."""
        return False

    async def on_stop(self) -> None:
        """Release resources. Called once per started instance: when the actor stops, and after a
        crash before the supervisor starts the fresh instance. Errors are logged, not raised."""
