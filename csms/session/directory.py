"""Finds the session actor of a transaction, starting it from the store when it has none."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from actors import Actor, ActorError, LocalActorRef, Supervisor
from csms.session.actor import SessionState

SessionFactory = Callable[[str, SessionState | None], Actor]


class SessionDirectory:
    """Finds the actor of a transaction, starting it from the store when it has none."""

    def __init__(
        self,
        supervisor: Supervisor,
        factory: SessionFactory,
        stored: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self._supervisor = supervisor
        self._factory = factory
        self._stored = stored
        """Whether the store holds a transaction (None: ask by starting its actor)."""
        self._starting: dict[str, asyncio.Future[LocalActorRef | None]] = {}

    def _factory_for(self, transaction_id: str, known: SessionState | None) -> Callable[[], Actor]:
        """The first start uses ``known``; a restart by the supervisor reloads from the store."""
        first: list[SessionState | None] = [known]

        def make() -> Actor:
            state, first[0] = first[0], None
            return self._factory(transaction_id, state)

        return make

    async def start(self, state: SessionState) -> LocalActorRef:
        """The actor of a transaction that was just committed, without reading it back."""
        return await self._supervisor.spawn(
            self._factory_for(state.transaction_id, state), name=f"tx:{state.transaction_id}"
        )

    async def get(self, transaction_id: str) -> LocalActorRef | None:
        """The transaction's actor; None if the store does not know the transaction."""
        name = f"tx:{transaction_id}"
        ref = self._supervisor.child(name)
        if ref is not None:
            return ref
        starting = self._starting.get(transaction_id)
        if starting is not None:
            return await asyncio.shield(starting)
        future: asyncio.Future[LocalActorRef | None] = asyncio.get_running_loop().create_future()
        self._starting[transaction_id] = future
        try:
            ref = await self._supervisor.spawn(self._factory_for(transaction_id, None), name=name)
        except LookupError:
            ref = None
        except BaseException as exc:
            future.set_exception(exc)
            # Retrieved here so that a failure nobody else awaited is not reported as lost.
            future.exception()
            raise
        finally:
            del self._starting[transaction_id]
        future.set_result(ref)
        return ref

    async def get_or_start(self, state: SessionState) -> LocalActorRef:
        """The transaction's actor, or a new one with ``state`` when the store does not know the
        transaction (a 2.x transaction whose first event just arrived)."""
        name = f"tx:{state.transaction_id}"
        ref = self._supervisor.child(name)
        if ref is not None:
            return ref
        # A new transaction is the common case: one read says so, without an actor that starts
        # only to find nothing.
        if self._stored is None or await self._stored(state.transaction_id):
            ref = await self.get(state.transaction_id)
            if ref is not None:
                return ref
        try:
            return await self.start(state)
        except ActorError:
            # The station's previous connection started it a moment ago.
            ref = self._supervisor.child(name)
            if ref is None:
                raise
            return ref

    def retire(self, transaction_id: str) -> None:
        """The transaction was closed behind its actor's back (abandoned): the actor stops after
        what it is doing; a late message for the transaction starts it again from the store."""
        ref = self._supervisor.child(f"tx:{transaction_id}")
        if ref is not None:
            ref.stop_nowait()

    def active_count(self) -> int:
        """Live session actors (for metrics: copies the supervisor's table)."""
        return len(self._supervisor.children())
