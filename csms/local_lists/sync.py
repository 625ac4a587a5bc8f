"""Bringing a station's local list up to date: a Differential update of what changed since the
station last accepted one, or a Full update; and on boot, the station's version checked first
(GetLocalListVersion, 1.6 section 5.10, 2.0.1 D02).

A station that answers VersionMismatch to a Differential update holds another list than the one it
was last sent: a Full update follows at once (1.6 section 5.15, 2.0.1 D01). What the station
accepted is written by the observer of its answer (``csms.local_lists.answers``), in its charge
point actor; this module only decides what to send and notes that the list is in sync.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from csms.local_lists.answers import reported_version
from csms.local_lists.entries import (
    TokenSnapshot,
    desired_list,
    differences,
    send_local_list_payload,
)
from csms.local_lists.filters import parse_filter
from csms.local_lists.limits import DEFAULT_ITEMS_PER_MESSAGE
from gateway.calls import CommandResult
from persistence.local_lists import (
    ListEntry,
    attempt_failed,
    get_local_list,
    list_entries,
    next_version,
    synced,
)
from persistence.reads import Reads
from persistence.writer import WriteOp
from transport.versions import OcppVersion

Send = Callable[[str, dict[str, Any]], Awaitable[CommandResult]]
"""(action, payload) -> the station's answer; raises when there is none."""
Write = Callable[[WriteOp], Awaitable[Any]]
"""Applies one write and returns what it returns."""

FULL = "Full"
DIFFERENTIAL = "Differential"
NOT_SUPPORTED_VERSION = -1
"""1.6 section 5.10: GetLocalListVersion answers -1 when the station has no local list."""


class NotManaged(LookupError):
    """The station has no filter: voltmesh does not build its list."""


@dataclass(frozen=True, slots=True)
class Ports:
    """What a sync uses: reads, writes and the station."""

    reads: Reads
    write: Write
    send: Send
    version: OcppVersion
    """The OCPP version of the station's connection."""
    items_per_message: int = DEFAULT_ITEMS_PER_MESSAGE
    """Entries one SendLocalList may carry (``csms.local_lists.limits``)."""
    tokens: TokenSnapshot | None = None
    """The id tokens, when several lists share one read of them; None: read them."""


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    """How one SendLocalList went."""

    status: str
    """The station's answer: Accepted, Failed, NotSupported or VersionMismatch; or
    ``UNCHANGED`` when nothing was sent."""
    version: int
    update_type: str
    entries: int
    """Entries sent (with removals)."""
    messages: int = 1
    """SendLocalList messages it took (``ports.items_per_message`` each at most); ``version``
    is the last one's. 0: nothing had changed, nothing was sent (status ``Unchanged``)."""
    skipped: int = 0
    """Id tokens the filter picks that the station's version cannot carry (``DesiredList``)."""
    full_update: SyncOutcome | None = None
    """The Full update that followed a VersionMismatch."""

    def view(self) -> dict[str, Any]:
        view: dict[str, Any] = {
            "status": self.status,
            "version": self.version,
            "update_type": self.update_type,
            "entries": self.entries,
            "messages": self.messages,
            "skipped": self.skipped,
        }
        if self.full_update is not None:
            view["full_update"] = self.full_update.view()
        return view


UNCHANGED = "Unchanged"
"""The status of a Differential sync that found nothing to send (and sent nothing)."""


async def sync_list(
    ports: Ports,
    station_id: str,
    *,
    full: bool,
    generation: int | None = None,
    if_changed: bool = False,
) -> SyncOutcome:
    """Send the station its list; ``NotManaged`` without a filter. What ``send`` raises (no
    answer, a CALLERROR...) is noted on the list and raised again. ``generation``: the list's
    generation when ``ports.tokens`` was known not to be read yet (a shared snapshot may be
    older than the list's current generation, which it must then not acknowledge).
    ``if_changed``: a Differential update without entries is not sent (an id tag changed in what
    the list does not carry); the list is noted in sync."""
    state = await get_local_list(ports.reads, station_id)
    if state is None or state.filter is None:
        raise NotManaged(station_id)
    generation = state.generation if generation is None else min(generation, state.generation)
    # Nothing accepted yet: what the station holds is unknown, a Differential update could only
    # add to it.
    full = full or state.version_confirmed is None
    tokens = await (ports.tokens or TokenSnapshot(ports.reads)).tokens()
    desired = desired_list(tokens, parse_filter(state.filter), ports.version)
    removed: list[str] = []
    if full:
        changed = desired.entries
    else:
        changed, removed = differences(await list_entries(ports.reads, station_id), desired.entries)
    update_type = FULL if full else DIFFERENTIAL
    items: list[ListEntry | str] = [*changed, *removed]
    if if_changed and not full and not items:
        await ports.write(synced(station_id, generation))
        return SyncOutcome(
            UNCHANGED, state.version_confirmed or 0, update_type, 0, 0, desired.skipped
        )
    size = max(1, ports.items_per_message)
    # One message at least: an empty Full update clears the station's list.
    chunks = [items[i : i + size] for i in range(0, len(items), size)] or [[]]
    status, version = "", 0
    for index, chunk in enumerate(chunks):
        version = int(await ports.write(next_version(station_id)))
        payload = send_local_list_payload(
            ports.version,
            version,
            update_type if index == 0 else DIFFERENTIAL,
            [item for item in chunk if isinstance(item, ListEntry)],
            [item for item in chunk if isinstance(item, str)],
            desired.group_types,
        )
        try:
            answer = await ports.send("SendLocalList", payload)
        except Exception as exc:
            await ports.write(attempt_failed(station_id, f"SendLocalList: {exc}"))
            raise
        status = str(answer.payload.get("status"))
        if status != "Accepted":
            break
    sent = SyncOutcome(
        status, version, update_type, len(items), messages=index + 1, skipped=desired.skipped
    )
    if status == "Accepted":
        await ports.write(synced(station_id, generation))
    elif status == "VersionMismatch" and not full and index == 0:
        return dataclasses.replace(
            sent, full_update=await sync_list(ports, station_id, full=True, generation=generation)
        )
    return sent


async def reconcile(ports: Ports, station_id: str) -> SyncOutcome | None:
    """After a boot or a reconnect: ask the station's version; a Full update when it is not the
    one it last accepted, a Differential one when the list changed since, nothing otherwise
    (None). ``NotManaged`` without a filter."""
    state = await get_local_list(ports.reads, station_id)
    if state is None or state.filter is None:
        raise NotManaged(station_id)
    try:
        answer = await ports.send("GetLocalListVersion", {})
    except Exception as exc:
        await ports.write(attempt_failed(station_id, f"GetLocalListVersion: {exc}"))
        raise
    reported = reported_version(ports.version, answer.payload)
    if ports.version is OcppVersion.V16 and reported == NOT_SUPPORTED_VERSION:
        await ports.write(attempt_failed(station_id, "the station has no local list (version -1)"))
        return None
    if state.version_confirmed is None or reported != state.version_confirmed:
        return await sync_list(ports, station_id, full=True)
    if state.dirty:
        return await sync_list(ports, station_id, full=False, if_changed=True)
    return None
