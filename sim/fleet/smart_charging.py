"""A simulated station's smart charging: SetChargingProfile, ClearChargingProfile,
GetCompositeSchedule and (2.x) GetChargingProfiles, answered as 1.6 section 5.16 / 5.5 / 5.7 and
2.0.1 K01 / K10 / K08 / K09 prescribe. The profiles are kept in ``station.profiles``; the station
obeys them through `SimStation.apply_limits` (see `sim.fleet.profiles`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from csms.payloads.timestamps import ocpp_time
from sim.fleet.profiles import Profile, Purpose, composite, from_payload, purpose_of

if TYPE_CHECKING:
    from sim.fleet.station import Handler, SimStation

Payload = dict[str, Any]

MAX_PROFILES = 64
"""Charging profiles a station holds at once; one more is Rejected."""


def _transaction_of(st: SimStation, evse: int) -> str | None:
    for e in st.evses:
        if e.number == evse and e.session is not None:
            return e.session.transaction_id
    return None


def _install(st: SimStation, profile: Payload, evse: int) -> str:
    """Install a profile on an EVSE; the status of the answer."""
    purpose = purpose_of(profile["chargingProfilePurpose"])
    if purpose is None or not 0 <= evse <= len(st.evses):
        return "Rejected"
    if purpose is Purpose.STATION_MAX and evse != 0:
        return "Rejected"
    if purpose is Purpose.TX:
        running = _transaction_of(st, evse)
        # 1.6 section 5.16: a TxProfile without a transaction is rejected; 2.0.1 K01.FR.03/09.
        if evse == 0 or running is None:
            return "Rejected"
        wanted = profile.get("transactionId")
        if wanted is None and st.is_2x:
            return "Rejected"  # 2.0.1 K01.FR.03: a TxProfile names its transaction
        if wanted is not None and str(wanted) != running:
            return "Rejected"
    new = from_payload(profile, evse, st.clock.now(), st.csms_time, st.clock.acceleration)
    kept = [p for p in st.profiles if p.id != new.id]  # the same id is replaced (K01.FR.05)
    rivals = [
        p
        for p in kept
        if p.evse == evse and p.purpose is new.purpose and p.stack_level == new.stack_level
    ]
    if st.is_2x:
        # 2.0.1 K01.FR.06: a rival whose validity overlaps makes the new profile Rejected; one
        # valid at another time stays beside it.
        if any(_overlap(p, new) for p in rivals):
            return "Rejected"
    else:
        # 1.6 section 3.13.2: same stack level and purpose on the connector replaces it.
        kept = [p for p in kept if p not in rivals]
    if len(kept) >= MAX_PROFILES:
        return "Rejected"  # 1.6 MaxChargingProfilesInstalled, 2.x SmartChargingCtrlr.Entries
    st.profiles = kept
    st.profiles.append(new)
    st.apply_limits(st.clock.elapsed())
    return "Accepted"


def _overlap(a: Profile, b: Profile) -> bool:
    """Whether two profiles' validity periods (open at either end without a bound) overlap."""
    far_past, far_future = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
    a_from, a_to = a.valid_from or far_past, a.valid_to or far_future
    b_from, b_to = b.valid_from or far_past, b.valid_to or far_future
    return a_from < b_to and b_from < a_to


def _set_16(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    return {"status": _install(st, p["csChargingProfiles"], p["connectorId"])}, None


def _set_2(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    return {"status": _install(st, p["chargingProfile"], p["evseId"])}, None


def _clear(
    st: SimStation,
    profile_id: int | None,
    evse: int | None,
    purpose_name: str | None,
    stack_level: int | None,
) -> str:
    def matches(profile: Profile) -> bool:
        if profile_id is not None:
            return profile.id == profile_id
        if evse is not None and profile.evse != evse:
            return False
        if purpose_name is not None and profile.purpose is not purpose_of(purpose_name):
            return False
        return stack_level is None or profile.stack_level == stack_level

    kept = [p for p in st.profiles if not matches(p)]
    if len(kept) == len(st.profiles):
        return "Unknown"
    st.profiles = kept
    st.apply_limits(st.clock.elapsed())
    return "Accepted"


def _clear_16(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    status = _clear(
        st, p.get("id"), p.get("connectorId"), p.get("chargingProfilePurpose"), p.get("stackLevel")
    )
    return {"status": status}, None


def _clear_2(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    criteria = p.get("chargingProfileCriteria") or {}
    status = _clear(
        st,
        p.get("chargingProfileId"),
        criteria.get("evseId"),
        criteria.get("chargingProfilePurpose"),
        criteria.get("stackLevel"),
    )
    return {"status": status}, None


def _schedule(st: SimStation, evse: int, duration: int, unit: str | None) -> Payload | None:
    if not 0 <= evse <= len(st.evses):
        return None
    now = st.clock.now().replace(microsecond=0)
    session = st.evses[evse - 1].session if evse else None
    hardware = st.spec.model.max_power_kw * 1000.0 * (len(st.evses) if evse == 0 else 1)
    unit = unit or "W"
    # The CSMS counts in its own seconds; the station's run `acceleration` times faster.
    scale = st.clock.acceleration
    periods = composite(
        st.profiles,
        evse,
        now,
        duration * scale,
        unit,
        st.grid,
        hardware,
        transaction_id=None if session is None else session.transaction_id,
        tx_start=None if session is None else session.plugged_at,
    )
    in_csms_seconds: list[Payload] = []
    for period in periods:
        period["startPeriod"] = int(period["startPeriod"] / scale)
        if in_csms_seconds and in_csms_seconds[-1]["startPeriod"] == period["startPeriod"]:
            in_csms_seconds.pop()  # a change within one of the CSMS's seconds: the later wins
        in_csms_seconds.append(period)
    return {
        "duration": duration,
        "scheduleStart": ocpp_time(st.station_time(now).replace(microsecond=0)),
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": in_csms_seconds,
    }


def _composite_16(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    schedule = _schedule(st, p["connectorId"], p["duration"], p.get("chargingRateUnit"))
    if schedule is None:
        return {"status": "Rejected"}, None
    start = schedule.pop("scheduleStart")
    return {
        "status": "Accepted",
        "connectorId": p["connectorId"],
        "scheduleStart": start,
        "chargingSchedule": {**schedule, "startSchedule": start},
    }, None


def _composite_2(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    schedule = _schedule(st, p["evseId"], p["duration"], p.get("chargingRateUnit"))
    if schedule is None:
        return {"status": "Rejected"}, None
    return {"status": "Accepted", "schedule": {"evseId": p["evseId"], **schedule}}, None


def _get_profiles_2(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    """2.0.1 K09: Accepted and a ReportChargingProfiles per EVSE, or NoProfiles."""
    criteria = p.get("chargingProfile") or {}
    evse = p.get("evseId")
    ids = criteria.get("chargingProfileId")
    purpose = criteria.get("chargingProfilePurpose")
    sources = criteria.get("chargingLimitSource")

    def wanted(profile: Profile) -> bool:
        return (
            (evse is None or profile.evse == evse)
            and (not ids or profile.id in ids)
            and (purpose is None or profile.purpose is purpose_of(purpose))
            and (
                criteria.get("stackLevel") is None or profile.stack_level == criteria["stackLevel"]
            )
            and (not sources or "CSO" in sources)
            and profile.raw is not None
        )

    found = [profile for profile in st.profiles if wanted(profile)]
    if not found:
        return {"status": "NoProfiles"}, None
    by_evse: dict[int, list[Payload]] = {}
    for profile in found:
        assert profile.raw is not None
        by_evse.setdefault(profile.evse, []).append(profile.raw)
    request_id = p["requestId"]

    async def report() -> None:
        evses = sorted(by_evse)
        for i, number in enumerate(evses):
            await st.send_call(
                "ReportChargingProfiles",
                {
                    "requestId": request_id,
                    "chargingLimitSource": "CSO",
                    "evseId": number,
                    "chargingProfile": by_evse[number],
                    "tbc": i < len(evses) - 1,
                },
            )

    return {"status": "Accepted"}, report


HANDLERS_16: dict[str, Handler] = {
    "SetChargingProfile": _set_16,
    "ClearChargingProfile": _clear_16,
    "GetCompositeSchedule": _composite_16,
}
HANDLERS_2: dict[str, Handler] = {
    "SetChargingProfile": _set_2,
    "ClearChargingProfile": _clear_2,
    "GetCompositeSchedule": _composite_2,
    "GetChargingProfiles": _get_profiles_2,
}
