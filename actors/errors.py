"""Errors raised by the actor runtime (`actors.local`, `actors.supervisor`).

Tree::

    ActorError                  root of the runtime's errors
    ├── ActorStopped            tell/ask to an actor that is stopping or stopped, a queued ask whose
    │                           actor stopped before answering, spawn on a stopped supervisor
    ├── AskTimeout              no answer within the ask's timeout (also a TimeoutError)
    ├── MailboxFull             the mailbox holds ``mailbox_size`` messages; the message was not queued
    └── RestartLimitExceeded    a supervisor gave up on a child that crashed too often

An exception raised by ``on_receive`` while answering an ``ask`` is not wrapped: the asker gets the
very exception the actor raised.
"""

from __future__ import annotations


class ActorError(Exception):
    """Root of every error raised by the actor runtime."""


class ActorStopped(ActorError):
    """The actor is stopping or stopped: the message was not (and will not be) processed.

    Raised by ``tell``/``ask`` on a stopped actor, and in the askers of queued asks when the actor
    stops before it reaches them.
    """


class AskTimeout(ActorError, TimeoutError):
    """No answer within the ask's timeout.

    The actor may still process the message if it had already taken it; an ask still queued when it
    expires is dropped unprocessed.
    """


class MailboxFull(ActorError):
    """The mailbox is full; the message was not queued. The sender should shed load or retry later."""


class RestartLimitExceeded(ActorError):
    """A supervisor saw more crashes of a child than its restart intensity allows and stopped it.

    Passed to ``on_give_up`` with the last crash as its ``__cause__``.
    """
