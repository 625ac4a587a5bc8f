"""A simulated station's local authorization list: SendLocalList (full or differential) and
GetLocalListVersion (1.6 sections 5.15 / 5.10, 2.0.1 D01 / D02), and the local authorization it
allows: a token on the list is decided there, without an Authorize (1.6 LocalPreAuthorize,
2.x LocalAuthListCtrlr), online or offline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.fleet.station import Handler, SimStation

Payload = dict[str, Any]

MAX_ENTRIES = 10_000
"""The list's capacity, as the station's LocalAuthListMaxLength states it."""


def local_status(st: SimStation, id_tag: str) -> str | None:
    """The list's status of ``id_tag`` (Accepted, Blocked...), None if the list is off or the
    token is not on it."""
    if not st.behaviour.local_list or st.configuration.get("LocalAuthListEnabled") != "true":
        return None
    return st.local_list.get(id_tag)


def _update(st: SimStation, version: int, full: bool, entries: list[tuple[str, str | None]]) -> str:
    # 1.6 section 5.15: a differential update must carry a newer version than the station's.
    if not full and version <= st.local_list_version:
        return "VersionMismatch"
    listed = {} if full else dict(st.local_list)
    for tag, status in entries:
        if status is None:
            listed.pop(tag, None)  # a differential entry without info removes the token
        else:
            listed[tag] = status
    if len(listed) > MAX_ENTRIES:
        return "Failed"  # over 1.6 LocalAuthListMaxLength / 2.x LocalAuthListCtrlr.Entries
    st.local_list = listed
    st.local_list_version = version
    return "Accepted"


def _send_16(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    if not st.behaviour.local_list:
        return {"status": "NotSupported"}, None
    entries = [
        (e["idTag"], (e.get("idTagInfo") or {}).get("status"))
        for e in p.get("localAuthorizationList") or []
    ]
    status = _update(st, p["listVersion"], p["updateType"] == "Full", entries)
    return {"status": status}, None


def _send_2(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    entries = [
        (e["idToken"]["idToken"], (e.get("idTokenInfo") or {}).get("status"))
        for e in p.get("localAuthorizationList") or []
    ]
    status = _update(st, p["versionNumber"], p["updateType"] == "Full", entries)
    return {"status": status}, None


def _version_16(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    # 1.6 section 5.10: -1 when the station has no local list.
    version = st.local_list_version if st.behaviour.local_list else -1
    return {"listVersion": version}, None


HANDLERS_16: dict[str, Handler] = {
    "SendLocalList": _send_16,
    "GetLocalListVersion": _version_16,
}
HANDLERS_2: dict[str, Handler] = {
    "SendLocalList": _send_2,
    "GetLocalListVersion": lambda st, p: ({"versionNumber": st.local_list_version}, None),
}
