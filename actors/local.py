"""The in-process actor: one asyncio task plus a bounded mailbox behind a `LocalActorRef`.

The ref owns the actor's task, and whoever owns the ref (its supervisor, or the caller of `spawn`
without one) must ``await ref.stop()`` when done. Restarts happen inside the actor's own task, so a
crash loop cannot recurse.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from typing import Any, Protocol

from actors.actor import Actor
from actors.envelope import STOP, Envelope
from actors.errors import ActorStopped, AskTimeout, MailboxFull
from actors.mailbox import Mailbox

log = logging.getLogger(__name__)


RESTART_BACKOFF_FIRST = 0.05
"""Seconds before the first restart of a crashed actor; doubled for each failed start after it."""
RESTART_BACKOFF_MAX = 2.0


class ActorState(enum.Enum):
    """The life of a ref (not of one instance: restarts happen within ALIVE)."""

    ALIVE = "alive"
    """Accepts messages."""
    STOPPING = "stopping"
    """Stop requested or crashed for good: refuses messages, finishing the current one or on_stop."""
    STOPPED = "stopped"
    """The task has ended; every queued ask has failed with ActorStopped."""


_ALIVE = ActorState.ALIVE
_STOPPING = ActorState.STOPPING
_STOPPED = ActorState.STOPPED


class Parent(Protocol):
    """What a ref tells its supervisor. The runtime calls these; nothing else should."""

    def _child_started(self, ref: LocalActorRef) -> None:
        """The first ``on_start`` succeeded; the ref's task is about to start."""

    def _child_crashed(self, ref: LocalActorRef, error: Exception) -> bool:
        """A tell (or a restart's ``on_start``) raised ``error``: True to restart, False to stop."""

    def _child_ended(self, ref: LocalActorRef, error: Exception | None) -> None:
        """The ref's task is ending; ``error`` is the crash if the parent declined to restart."""


class LocalActorRef:
    """The ref of an actor in this process (implements `actors.ref.ActorRef`). Survives restarts
    (same mailbox).

    Created by `spawn` or `Supervisor.spawn`; do not instantiate it yourself.
    """

    __slots__ = (
        "__weakref__",
        "_factory",
        "_failure",
        "_instance",
        "_mailbox",
        "_parent",
        "_state",
        "_task",
        "name",
    )

    def __init__(
        self,
        name: str,
        factory: Callable[[], Actor],
        mailbox_size: int,
        parent: Parent | None,
    ) -> None:
        if mailbox_size < 1:
            raise ValueError(f"mailbox_size must be at least 1, not {mailbox_size}")
        self.name = name
        """Unique among its supervisor's children; used in logs and errors."""
        self._factory = factory
        self._parent = parent
        self._mailbox: Mailbox[Any] = Mailbox(mailbox_size)
        """Tells as sent, asks as `Envelope`."""
        self._state = _ALIVE
        self._task: asyncio.Task[None] | None = None
        self._instance: Actor | None = None
        """The started instance whose on_stop is still owed."""
        self._failure: Exception | None = None
        """The crash that ended the actor, once nobody restarts it."""

    def __repr__(self) -> str:
        return f"<LocalActorRef {self.name} {self._state.value}>"

    @property
    def is_alive(self) -> bool:
        """True while the actor accepts messages (including while its supervisor restarts it)."""
        return self._state is _ALIVE

    @property
    def state(self) -> ActorState:
        """Where the ref is in its life (restarts do not show: they happen within ALIVE)."""
        return self._state

    @property
    def queued(self) -> int:
        """Messages waiting in the mailbox (not counting the one being processed)."""
        return self._mailbox.qsize()

    def tell(self, message: Any) -> None:
        """Queue ``message`` without waiting for it to be processed.

        Raises `MailboxFull` if the mailbox is full and `ActorStopped` if the actor is stopping or
        stopped. If ``on_receive`` raises on it, the actor crashes (see the module docstring).
        """
        if self._state is not _ALIVE:
            raise ActorStopped(f"{self.name} is {self._state.value}")
        try:
            # A tell travels bare (an ask in an Envelope with its reply): one object less per
            # message on the hot path.
            self._mailbox.put_nowait(message)
        except asyncio.QueueFull:
            raise MailboxFull(f"{self.name}: mailbox full") from None

    async def ask(self, message: Any, *, timeout: float | None = 5.0) -> Any:
        """Queue ``message`` and wait for what ``on_receive`` returns.

        Re-raises here whatever ``on_receive`` raised (the actor goes on). Raises `AskTimeout` after
        ``timeout`` seconds (None: wait as long as it takes), `ActorStopped` if the actor stops
        before answering, `MailboxFull` if the message could not be queued. An ask that times out
        or is cancelled while still queued is dropped unprocessed.
        """
        if self._state is not _ALIVE:
            raise ActorStopped(f"{self.name} is {self._state.value}")
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        try:
            self._mailbox.put_nowait(Envelope(message, reply))
        except asyncio.QueueFull:
            raise MailboxFull(f"{self.name}: mailbox full") from None
        if timeout is None:
            return await reply
        # A timer on the reply future rather than asyncio.timeout(): no per-ask context manager,
        # and the actor sees the expired future as done and skips the message.
        timer = loop.call_at(loop.time() + timeout, _expire, reply, self.name, timeout)
        try:
            return await reply
        finally:
            timer.cancel()

    def stop_nowait(self) -> None:
        """Request a stop and return at once: the current message finishes, queued asks fail with
        `ActorStopped`, then ``on_stop`` runs. This is how an actor stops itself from
        ``on_receive``. Idempotent."""
        if self._state is not _ALIVE:
            return
        self._state = _STOPPING
        # The loop re-checks the state after each dequeue; if the mailbox is empty it may be
        # waiting in get(), so give it something to dequeue. Empty means there is room.
        if self._mailbox.empty():
            self._mailbox.put_nowait(STOP)

    async def stop(self) -> None:
        """Stop the actor and wait until its task has ended (current message finished, queued asks
        failed with `ActorStopped`, ``on_stop`` done). Idempotent. Called from inside the actor
        itself it cannot wait for its own end: it then behaves like `stop_nowait`."""
        self.stop_nowait()
        task = self._ending_task()
        if task is not None:
            # wait() rather than await task: a cancelled caller must not cancel the actor's
            # shutdown, and the task's own outcome is not the caller's concern.
            await asyncio.wait((task,))

    def _ending_task(self) -> asyncio.Task[None] | None:
        """The task to wait for after a stop request; None if there is nothing the current task
        can wait for (not started yet, already ended, or the current task itself)."""
        task = self._task
        if task is None or task.done() or task is asyncio.current_task():
            return None
        return task

    # -- the actor's task ----------------------------------------------------------------------

    async def _run(self, instance: Actor) -> None:
        current: Actor | None = instance
        try:
            while current is not None:
                crash = await self._serve(current)
                if crash is not None and self._should_restart(crash):
                    await self._close(current)
                    current = await self._restart()
                    continue
                if self._state is _ALIVE:
                    self._state = _STOPPING
                await self._close(current)
                current = None
        except asyncio.CancelledError:
            # Cancelled from outside (the event loop is shutting down): still release resources.
            self._state = _STOPPING
            if self._instance is not None:
                await self._close(self._instance)
            raise
        finally:
            self._end()

    async def _serve(self, instance: Actor) -> Exception | None:
        """Process messages until a stop request (None) or a crash (its exception): a failed tell,
        or a failed ask whose error the actor escalates."""
        self._instance = instance
        mailbox = self._mailbox
        receive = instance.on_receive
        while True:
            # get_nowait() when possible: no coroutine and no waiter future per message.
            item = await mailbox.get() if mailbox.empty() else mailbox.get_nowait()
            if self._state is not _ALIVE:
                self._reject(item)
                return None
            if type(item) is not Envelope:
                try:
                    await receive(item)
                except Exception as exc:
                    return exc
                continue
            reply = item.reply
            if reply is None:
                continue  # STOP: a wake-up, not a message
            if not reply.done():
                try:
                    result = await receive(item.message)
                except Exception as exc:
                    if not reply.done():
                        reply.set_exception(exc)
                    if instance.escalates(exc):
                        return exc
                except asyncio.CancelledError:
                    if not reply.done():
                        reply.set_exception(ActorStopped(f"{self.name} was cancelled"))
                    raise
                else:
                    if not reply.done():
                        reply.set_result(result)

    def _should_restart(self, crash: Exception) -> bool:
        """Ask the supervisor; when nobody restarts the actor, log and start stopping."""
        if self._state is not _ALIVE:
            log.error("%s crashed while stopping", self.name, exc_info=crash)
            return False
        parent = self._parent
        if parent is not None:
            # The supervisor logs the crash and its decision.
            if parent._child_crashed(self, crash):
                return True
        else:
            log.error("%s crashed; stopping it", self.name, exc_info=crash)
        self._failure = crash
        self._state = _STOPPING
        return False

    async def _restart(self) -> Actor | None:
        """A fresh instance from the factory, started; None once the supervisor gives up.

        A loop, not recursion: an ``on_start`` that fails is one more crash for the intensity count.
        """
        attempt = 0
        while True:
            # Back off between attempts: a start that fails because a database is briefly away
            # should not use up the supervisor's restart budget in microseconds.
            await asyncio.sleep(min(RESTART_BACKOFF_MAX, RESTART_BACKOFF_FIRST * 2**attempt))
            attempt += 1
            try:
                instance = self._factory()
                instance.ref = self
                await instance.on_start()
            except Exception as exc:
                if self._should_restart(exc):
                    continue
                return None
            return instance

    async def _close(self, instance: Actor) -> None:
        self._instance = None
        try:
            await instance.on_stop()
        except Exception:
            log.exception("%s: on_stop failed", self.name)

    def _reject(self, item: Any) -> None:
        """Fail a queued ask (a tell is dropped)."""
        if type(item) is not Envelope:
            return
        reply = item.reply
        if reply is not None and not reply.done():
            reply.set_exception(ActorStopped(f"{self.name} stopped before answering"))

    def _end(self) -> None:
        self._state = _STOPPED
        mailbox = self._mailbox
        while not mailbox.empty():
            self._reject(mailbox.get_nowait())
        if self._parent is not None:
            self._parent._child_ended(self, self._failure)


def _expire(reply: asyncio.Future[Any], name: str, timeout: float) -> None:
    if not reply.done():
        reply.set_exception(AskTimeout(f"{name} did not answer within {timeout:g} s"))


async def start(
    factory: Callable[[], Actor], *, name: str, mailbox_size: int, parent: Parent | None
) -> LocalActorRef:
    """Create the ref, run the first ``on_start`` in the caller's task, then start the actor's task.

    The building block of `spawn` and `Supervisor.spawn`; call those instead.
    """
    ref = LocalActorRef(name, factory, mailbox_size, parent)
    instance = factory()
    instance.ref = ref
    try:
        await instance.on_start()
    except BaseException:
        # Asks the instance queued to itself during on_start must not hang.
        ref._state = _STOPPED
        while not ref._mailbox.empty():
            ref._reject(ref._mailbox.get_nowait())
        raise
    if parent is not None:
        parent._child_started(ref)
    ref._task = asyncio.create_task(ref._run(instance), name=f"actor:{name}")
    return ref
