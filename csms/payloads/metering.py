"""Meter values: parsing the 1.6 and 2.x shapes into one sample type, and the energy they imply.

Energy delivered is end register minus start register. Chargers report the register in Wh or kWh, as a
total or per phase only; all of that is normalised here, once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from csms.payloads.timestamps import parse_timestamp
from persistence.records import MeterSample

ENERGY_REGISTER = "Energy.Active.Import.Register"

# OCPP 1.6 section 7.31 (SampledValue): the defaults of the optional fields.
DEFAULT_MEASURAND = ENERGY_REGISTER
DEFAULT_CONTEXT = "Sample.Periodic"
DEFAULT_UNIT_V16 = "Wh"
# 1.6 ValueFormat: the value is a signed blob (OCMF, EDL...) to keep as sent, never a number.
SIGNED_DATA = "SignedData"

_TO_WH = {"Wh": 1.0, "kWh": 1000.0}
# Per-phase registers that together make the total when no total is reported.
_LINE_PHASES = ("L1", "L2", "L3", "L1-N", "L2-N", "L3-N")


def _number(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw)
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


def samples_v16(meter_value: Sequence[Mapping[str, Any]]) -> list[MeterSample]:
    """OCPP 1.6 MeterValue[] (values are decimal strings)."""
    samples = []
    for entry in meter_value:
        timestamp = parse_timestamp(entry["timestamp"])
        for sv in entry["sampledValue"]:
            raw = sv["value"]
            signed = sv.get("format", "Raw") == SIGNED_DATA
            number = None if signed else _number(raw)
            samples.append(
                MeterSample(
                    timestamp=timestamp,
                    measurand=sv.get("measurand", DEFAULT_MEASURAND),
                    phase=sv.get("phase"),
                    unit=sv.get("unit", DEFAULT_UNIT_V16),
                    value=number,
                    context=sv.get("context", DEFAULT_CONTEXT),
                    location=sv.get("location"),
                    raw_value=None if number is not None else str(raw),
                    signed={"signedMeterData": str(raw)} if signed else None,
                )
            )
    return samples


def samples_v2(meter_value: Sequence[Mapping[str, Any]]) -> list[MeterSample]:
    """OCPP 2.0.1/2.1 MeterValueType[] (values are numbers with a unitOfMeasure and multiplier)."""
    samples = []
    for entry in meter_value:
        timestamp = parse_timestamp(entry["timestamp"])
        for sv in entry["sampledValue"]:
            unit_of_measure = sv.get("unitOfMeasure") or {}
            multiplier = int(unit_of_measure.get("multiplier", 0))
            number = _number(sv["value"])
            if number is not None and multiplier:
                number *= 10.0**multiplier
            samples.append(
                MeterSample(
                    timestamp=timestamp,
                    measurand=sv.get("measurand", DEFAULT_MEASURAND),
                    phase=sv.get("phase"),
                    unit=unit_of_measure.get("unit", "Wh"),
                    value=number,
                    context=sv.get("context", DEFAULT_CONTEXT),
                    location=sv.get("location"),
                    signed=_signed_v2(sv.get("signedMeterValue")),
                )
            )
    return samples


def _signed_v2(signed: Any) -> dict[str, Any] | None:
    """SignedMeterValueType as sent (2.0.1: signedMeterData, signingMethod, encodingMethod,
    publicKey; 2.1 may leave the last ones out): every field kept, verbatim."""
    return dict(signed) if isinstance(signed, Mapping) else None


def to_wh(value: float, unit: str | None) -> float | None:
    factor = _TO_WH.get(unit or "Wh")
    return None if factor is None else value * factor


def energy_register_wh(samples: Iterable[MeterSample]) -> float | None:
    """The latest energy register reading in Wh: the total if reported, else the sum of line phases.

    Readings located at the EV are ignored: they measure the car, not the charger's meter.
    """
    latest: datetime | None = None
    total: float | None = None
    phases: dict[str, float] = {}
    for s in samples:
        if s.measurand != ENERGY_REGISTER or s.value is None or s.location == "EV":
            continue
        wh = to_wh(s.value, s.unit)
        if wh is None:
            continue
        if latest is None or s.timestamp > latest:
            latest, total, phases = s.timestamp, None, {}
        elif s.timestamp < latest:
            continue
        if s.phase is None:
            total = wh
        elif s.phase in _LINE_PHASES:
            phases[s.phase] = wh
    if total is not None:
        return total
    return sum(phases.values()) if phases else None


def sample_rows(
    samples: Iterable[MeterSample],
    *,
    station_id: str,
    transaction_id: str | None,
    evse_id: int | None,
    connector_id: int | None,
) -> list[dict[str, Any]]:
    """Rows for the meter_values table; sample_key makes a resent sample land once. A transaction's
    samples must be given the transaction's own EVSE and connector, whichever message carried them
    (the key includes them)."""
    rows = []
    for s in samples:
        identity = "\x1f".join(
            (
                station_id,
                transaction_id or "",
                str(evse_id),
                str(connector_id),
                s.timestamp.isoformat(),
                s.measurand,
                s.phase or "",
                s.location or "",
                s.context or "",
                repr(s.value) if s.value is not None else (s.raw_value or ""),
            )
        )
        row: dict[str, Any] = {
            "station_id": station_id,
            "transaction_id": transaction_id,
            "evse_id": evse_id,
            "connector_id": connector_id,
            "timestamp": s.timestamp,
            "measurand": s.measurand,
            "phase": s.phase,
            "unit": s.unit,
            "value": s.value,
            "raw_value": s.raw_value,
            "context": s.context,
            "location": s.location,
            "sample_key": hashlib.blake2b(identity.encode(), digest_size=16).hexdigest(),
        }
        if s.signed is not None:
            # Only then: the common unsigned rows keep one shape (one executemany per batch).
            row["signed"] = dict(s.signed)
        rows.append(row)
    return rows
