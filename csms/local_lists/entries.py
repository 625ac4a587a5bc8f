"""A local list's entries: built from the id tokens through the station's filter, compared with
what the station holds, and written as each version's SendLocalList (1.6
AuthorizationData ``{idTag, idTagInfo}``; 2.0.1 D01 ``{idToken, idTokenInfo}``).

An entry carries the token's stored status, expiry and parent: a Blocked token stays on the list,
so that the station refuses it offline too. An entry without info in a Differential update removes
the token from the list (1.6 section 5.15, 2.0.1 D01).

A token valid at some EVSEs only carries them on a 2.x list (IdTokenInfo.evseId). A 1.6 list
cannot say it: such a token, when Accepted, is left off a 1.6 list rather than let it charge at
every connector while the station is offline; the station asks for it online (Authorize).

A token the station's version cannot carry (``csms.local_lists.carried``: too long, a 2.x type the
version does not have, an EVSE id out of range) is left off and counted as skipped: one such
stored row would otherwise have the station refuse every update of its list, Blocked cards
included. A group whose stored type the version does not have is sent as ``Central``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.local_lists.carried import TOKEN_TYPES, evse_ids_valid, max_token, token_types
from csms.local_lists.filters import ListFilter
from csms.payloads.timestamps import ocpp_time, parse_timestamp
from persistence import id_tokens
from persistence.local_lists import ListEntry
from persistence.reads import Reads
from persistence.records import IdTokenRecord, IdTokenStatus, id_token_key
from transport.versions import OcppVersion

DEFAULT_TOKEN_TYPE = "ISO14443"
"""2.x IdTokenEnumType of a token the store has no type for (an RFID card)."""
GROUP_TOKEN_TYPE = "Central"
"""2.x type of a group token the store has no type for: an identifier the CSMS assigned."""
_PAGE = 1000


def _to_millis(value: datetime | None) -> datetime | None:
    """As the wire carries it (``ocpp_time``): what the station holds compares equal."""
    if value is None:
        return None
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def entry_of(token: IdTokenRecord, version: OcppVersion) -> ListEntry:
    """The entry of ``token``. Its parent is kept in the form an id token is compared in (the id
    tag's parent is stored as the operator wrote it): a group that the station holds compares
    equal, and the group's type is found."""
    parent = token.parent_id_token
    return ListEntry(
        id_token=token.id_token,
        token_type=None if version is OcppVersion.V16 else (token.type or DEFAULT_TOKEN_TYPE),
        status=token.status.value,
        expiry_date=_to_millis(token.expiry_date),
        parent_id_token=id_token_key(parent) if parent else None,
        evse_ids=_evse_ids(token) if version is not OcppVersion.V16 else None,
    )


def _evse_ids(token: IdTokenRecord) -> tuple[int, ...] | None:
    return tuple(sorted(set(token.evse_ids))) if token.evse_ids else None


def _carried(token: IdTokenRecord, version: OcppVersion) -> bool:
    """Whether a list of ``version`` can say what the token is (see the module's docstring)."""
    limit = max_token(version)
    parent = token.parent_id_token
    if len(token.id_token) > limit or (parent is not None and len(parent) > limit):
        return False
    if version is OcppVersion.V16:
        return not (token.status is IdTokenStatus.ACCEPTED and token.evse_ids)
    if token.type is not None and token.type not in token_types(version):
        return False
    return evse_ids_valid(token.evse_ids or ())


async def all_id_tokens(db: Reads) -> list[IdTokenRecord]:
    tokens: list[IdTokenRecord] = []
    cursor: str | None = None
    while True:
        page = await id_tokens.list_id_tokens(db, limit=_PAGE, after=cursor)
        tokens.extend(page.items)
        if page.next is None:
            return tokens
        cursor = page.next


@dataclass(frozen=True, slots=True)
class DesiredList:
    entries: list[ListEntry]
    """What the station should hold, by id token."""
    group_types: dict[str, str]
    """Group token -> its 2.x type, where the store knows it."""
    skipped: int
    """Tokens the filter picks that the version cannot carry (too long; on 1.6, valid at some
    EVSEs only; on 2.x, of a type the version does not have or with an EVSE id out of range)."""


class TokenSnapshot:
    """Every id token, read once however many lists are built from it (a round of the sync
    loop after a change that touches every list)."""

    def __init__(self, db: Reads) -> None:
        self._db = db
        self._tokens: list[IdTokenRecord] | None = None
        self._lock = asyncio.Lock()

    async def tokens(self) -> list[IdTokenRecord]:
        async with self._lock:
            if self._tokens is None:
                self._tokens = await all_id_tokens(self._db)
            return self._tokens


def desired_list(
    tokens: Sequence[IdTokenRecord], list_filter: ListFilter, version: OcppVersion
) -> DesiredList:
    """What a station of ``version`` should hold, of ``tokens``."""
    # A 1.6 list carries no types; kept all the same, as a 2.x list of the same tokens would.
    sendable = TOKEN_TYPES if version is OcppVersion.V16 else token_types(version)
    types = {t.id_token: t.type for t in tokens if t.type is not None and t.type in sendable}
    entries: list[ListEntry] = []
    skipped = 0
    for token in tokens:
        if not list_filter.matches(token):
            continue
        if not _carried(token, version):
            skipped += 1
            continue
        entries.append(entry_of(token, version))
    groups = {e.parent_id_token for e in entries if e.parent_id_token is not None}
    return DesiredList(entries, {g: types[g] for g in groups if g in types}, skipped)


def differences(
    held: Iterable[ListEntry], desired: Iterable[ListEntry]
) -> tuple[list[ListEntry], list[str]]:
    """(entries to add or change, id tokens to remove) that take ``held`` to ``desired``."""
    have = {e.id_token: e for e in held}
    want = {e.id_token: e for e in desired}
    changed = [e for token, e in sorted(want.items()) if have.get(token) != e]
    removed = sorted(set(have) - set(want))
    return changed, removed


def send_local_list_payload(
    version: OcppVersion,
    list_version: int,
    update_type: str,
    entries: Sequence[ListEntry],
    removed: Sequence[str],
    group_types: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The SendLocalList request of ``version``."""
    group_types = group_types or {}
    items: list[dict[str, Any]] = []
    if version is OcppVersion.V16:
        for e in entries:
            info: dict[str, Any] = {"status": e.status}
            if e.expiry_date is not None:
                info["expiryDate"] = ocpp_time(e.expiry_date)
            if e.parent_id_token is not None:
                info["parentIdTag"] = e.parent_id_token
            items.append({"idTag": e.id_token, "idTagInfo": info})
        items.extend({"idTag": token} for token in removed)
        return {"listVersion": list_version, "updateType": update_type} | (
            {"localAuthorizationList": items} if items else {}
        )
    for e in entries:
        info = {"status": e.status}
        if e.expiry_date is not None:
            info["cacheExpiryDateTime"] = ocpp_time(e.expiry_date)
        if e.parent_id_token is not None:
            info["groupIdToken"] = {
                "idToken": e.parent_id_token,
                "type": group_types.get(e.parent_id_token, GROUP_TOKEN_TYPE),
            }
        if e.evse_ids:
            info["evseId"] = list(e.evse_ids)
        token = {"idToken": e.id_token, "type": e.token_type or DEFAULT_TOKEN_TYPE}
        items.append({"idToken": token, "idTokenInfo": info})
    # The type of a removed token does not matter to the station, which compares the value.
    items.extend({"idToken": {"idToken": t, "type": DEFAULT_TOKEN_TYPE}} for t in removed)
    # 2.0.1: localAuthorizationList has at least one item when present.
    return {"versionNumber": list_version, "updateType": update_type} | (
        {"localAuthorizationList": items} if items else {}
    )


@dataclass(frozen=True, slots=True)
class SentUpdate:
    """A SendLocalList request as any sender wrote it."""

    version: int
    update_type: str
    entries: list[ListEntry]
    removed: list[str]


def sent_update(protocol: str, request: Mapping[str, Any]) -> SentUpdate:
    """Read back a SendLocalList request of either version (the raw command endpoint may have
    sent it)."""
    entries: list[ListEntry] = []
    removed: list[str] = []
    items = request.get("localAuthorizationList") or []
    if protocol == OcppVersion.V16.value:
        for item in items:
            token = id_token_key(item["idTag"])
            info = item.get("idTagInfo")
            if info is None:
                removed.append(token)
                continue
            expiry = info.get("expiryDate")
            parent = info.get("parentIdTag")
            entries.append(
                ListEntry(
                    token,
                    None,
                    info["status"],
                    parse_timestamp(expiry) if expiry else None,
                    id_token_key(parent) if parent else None,
                )
            )
        return SentUpdate(int(request["listVersion"]), request["updateType"], entries, removed)
    for item in items:
        token = id_token_key(item["idToken"]["idToken"])
        info = item.get("idTokenInfo")
        if info is None:
            removed.append(token)
            continue
        expiry = info.get("cacheExpiryDateTime")
        group = info.get("groupIdToken")
        evse_ids = info.get("evseId")
        entries.append(
            ListEntry(
                token,
                item["idToken"].get("type"),
                info["status"],
                parse_timestamp(expiry) if expiry else None,
                id_token_key(group["idToken"]) if group else None,
                tuple(sorted(set(evse_ids))) if evse_ids else None,
            )
        )
    return SentUpdate(int(request["versionNumber"]), request["updateType"], entries, removed)
