"""Operator roles and the principal a request acts as.

``viewer`` reads; ``operator`` also sends commands and edits id tags; ``admin`` does everything,
stations, users and the audit log included. Each role holds the rights of those below it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """An operator's role, in increasing order of rights."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, required: Role) -> bool:
        """Whether this role holds the rights of ``required``."""
        return self.rank >= required.rank


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}

SERVICE_ACTOR = "api-token"
"""The name the service credential (``VOLTMESH_API_TOKEN``) acts under in the audit log."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as."""

    name: str
    """The user's name, or ``SERVICE_ACTOR`` for the service credential."""
    role: Role
