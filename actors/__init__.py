"""The in-process actor runtime (actor, mailbox, supervisor, registry) and the domain actors."""

from actors.actor import Actor, ActorRef, ActorState, spawn
from actors.errors import ActorError, ActorStopped, AskTimeout, MailboxFull, RestartLimitExceeded
from actors.registry import Registry
from actors.supervisor import Supervisor

__all__ = [
    "Actor",
    "ActorError",
    "ActorRef",
    "ActorState",
    "ActorStopped",
    "AskTimeout",
    "MailboxFull",
    "Registry",
    "RestartLimitExceeded",
    "Supervisor",
    "spawn",
]
