"""The main store's whole schema: the core tables (``models``) and those each later area defines
beside its queries, all on one ``metadata``. Migrations must produce exactly this."""

from __future__ import annotations

from persistence import (
    charging_profiles,  # noqa: F401
    display_messages,  # noqa: F401
    firmware,  # noqa: F401
    local_lists,  # noqa: F401
    log_uploads,  # noqa: F401
    monitoring,  # noqa: F401
    reservations,  # noqa: F401
    sites,  # noqa: F401
    tariffs,  # noqa: F401
)
from persistence.models import metadata

__all__ = ["metadata"]
