"""Which stations' lists an id token's change touches: those whose filter picks the token as it is
now, and those that hold it (it may have left their filter, or been deleted)."""

from __future__ import annotations

from csms.local_lists.filters import FilterError, parse_filter
from persistence.id_tokens import get_id_token
from persistence.local_lists import holders_of, managed_lists
from persistence.reads import Reads


async def lists_touched_by(db: Reads, id_token: str) -> set[str]:
    token = await get_id_token(db, id_token)
    touched = set(await holders_of(db, id_token))
    if token is None:
        return touched
    for station_id, document in await managed_lists(db):
        try:
            if parse_filter(document).matches(token):
                touched.add(station_id)
        except FilterError:
            # Stored through the same parser; a hand-edited row must not stop the others.
            touched.add(station_id)
    return touched
