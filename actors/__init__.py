"""The actor runtime: actors with bounded mailboxes, refs, and one-for-one supervisors.

It knows nothing of OCPP; `gateway` and `csms` build on it.
"""

from actors.actor import Actor
from actors.errors import ActorError, ActorStopped, AskTimeout, MailboxFull, RestartLimitExceeded
from actors.local import ActorState, LocalActorRef
from actors.ref import ActorRef
from actors.spawn import spawn
from actors.supervisor import Supervisor

__all__ = [
    "Actor",
    "ActorError",
    "ActorRef",
    "ActorState",
    "ActorStopped",
    "AskTimeout",
    "LocalActorRef",
    "MailboxFull",
    "RestartLimitExceeded",
    "Supervisor",
    "spawn",
]
