"""One-for-one supervision with a restart intensity limit (Erlang/OTP supervisor principles:
"intensity" crashes within "period" seconds, then the supervisor gives up).

A crashed child is restarted with a fresh instance from its factory, so ``on_start`` reloads its
state; the ref and the mailbox stay, so senders keep their ref and queued messages are kept. The
message whose ``tell`` crashed the child is not retried. The restart happens inside the child's own
task, so a crash loop cannot recurse, and each failed ``on_start`` counts as one more crash.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from actors.actor import Actor
from actors.errors import ActorError, ActorStopped, RestartLimitExceeded
from actors.local import LocalActorRef, start

log = logging.getLogger(__name__)


class Supervisor:
    """Owns its children: restarts them when they crash, stops them all in `stop`.

    ``on_give_up(name, error)`` is called when a child crashed more than ``max_restarts`` times
    within ``within_seconds`` and was stopped for good; ``error`` is a `RestartLimitExceeded`
    whose ``__cause__`` is the last crash. It runs in the child's task and must not block.
    """

    def __init__(
        self,
        *,
        name: str = "supervisor",
        max_restarts: int = 3,
        within_seconds: float = 5.0,
        on_give_up: Callable[[str, BaseException], None] | None = None,
    ) -> None:
        if max_restarts < 0 or within_seconds < 0:
            raise ValueError("max_restarts and within_seconds must not be negative")
        self.name = name
        self.max_restarts = max_restarts
        self.within_seconds = within_seconds
        self._on_give_up = on_give_up
        self._by_name: dict[str, LocalActorRef] = {}
        """The newest child under each name (a stopping one may still be running beside it)."""
        self._refs: set[LocalActorRef] = set()
        """Every child whose task has not ended yet: what `stop` waits for."""
        self._starting: set[str] = set()
        self._crashes: dict[LocalActorRef, deque[float]] = {}
        self._stopped = False

    def __repr__(self) -> str:
        return f"<Supervisor {self.name} children={len(self._refs)}>"

    async def spawn(
        self, factory: Callable[[], Actor], *, name: str, mailbox_size: int = 1000
    ) -> LocalActorRef:
        """Start a child and run its ``on_start`` before returning (a start failure raises here and
        is not restarted). Raises `ActorError` if a live child already has this name and
        `ActorStopped` once the supervisor is stopped."""
        if self._stopped:
            raise ActorStopped(f"supervisor {self.name} is stopped")
        existing = self._by_name.get(name)
        if name in self._starting or (existing is not None and existing.is_alive):
            raise ActorError(f"supervisor {self.name} already has a child named {name!r}")
        self._starting.add(name)
        try:
            ref = await start(factory, name=name, mailbox_size=mailbox_size, parent=self)
        finally:
            self._starting.discard(name)
        if self._stopped:
            # stop() ran while on_start did: it did not see this child, so stop it here.
            await ref.stop()
            raise ActorStopped(f"supervisor {self.name} stopped while {name} was starting")
        return ref

    async def stop(self) -> None:
        """Stop every child concurrently and wait for them; later spawns fail. Idempotent."""
        self._stopped = True
        # One pass is enough: no child can be added once _stopped is set (see spawn). Called from
        # inside a child, that child cannot wait for its own end: it is only asked to stop.
        refs = list(self._refs)
        for ref in refs:
            ref.stop_nowait()
        tasks = [task for ref in refs if (task := ref._ending_task()) is not None]
        if tasks:
            await asyncio.wait(tasks)

    def child(self, name: str) -> LocalActorRef | None:
        """The live child of that name, without copying the whole table (a hot-path lookup)."""
        ref = self._by_name.get(name)
        return ref if ref is not None and ref.is_alive else None

    def __len__(self) -> int:
        return len(self._by_name)

    def children(self) -> dict[str, LocalActorRef]:
        """The live children by name (a copy). Stopped and given-up children are not in it."""
        return {name: ref for name, ref in self._by_name.items() if ref.is_alive}

    # -- called by the children's refs (actors.actor.Parent) -------------------------------------

    def _child_started(self, ref: LocalActorRef) -> None:
        self._refs.add(ref)
        self._by_name[ref.name] = ref

    def _child_crashed(self, ref: LocalActorRef, error: Exception) -> bool:
        if self._stopped:
            log.error("%s/%s crashed while stopping", self.name, ref.name, exc_info=error)
            return False
        now = time.monotonic()
        crashes = self._crashes.setdefault(ref, deque())
        crashes.append(now)
        while now - crashes[0] > self.within_seconds:
            crashes.popleft()
        if len(crashes) > self.max_restarts:
            log.error(
                "%s/%s crashed %d times within %g s; giving up",
                self.name,
                ref.name,
                len(crashes),
                self.within_seconds,
                exc_info=error,
            )
            return False
        log.warning("%s/%s crashed; restarting it", self.name, ref.name, exc_info=error)
        return True

    def _child_ended(self, ref: LocalActorRef, error: Exception | None) -> None:
        self._refs.discard(ref)
        if self._by_name.get(ref.name) is ref:
            del self._by_name[ref.name]
        crashes = self._crashes.pop(ref, None)
        if error is None or self._stopped or self._on_give_up is None:
            return
        given_up = RestartLimitExceeded(
            f"{ref.name} crashed {len(crashes or ())} times within {self.within_seconds:g} s"
        )
        given_up.__cause__ = error
        try:
            self._on_give_up(ref.name, given_up)
        except Exception:
            log.exception("%s: on_give_up failed for %s", self.name, ref.name)
