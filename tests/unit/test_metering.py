from __future__ import annotations

from datetime import UTC, datetime

import pytest

from csms.payloads.metering import energy_register_wh, sample_rows, samples_v2, samples_v16
from csms.payloads.timestamps import ocpp_time, parse_timestamp


def mv(ts: str, *sampled: dict[str, object]) -> dict[str, object]:
    return {"timestamp": ts, "sampledValue": list(sampled)}


def test_v16_defaults_follow_the_spec() -> None:
    (s,) = samples_v16([mv("2026-01-01T00:00:00Z", {"value": "12.5"})])
    assert (s.measurand, s.unit, s.context, s.value) == (
        "Energy.Active.Import.Register",
        "Wh",
        "Sample.Periodic",
        12.5,
    )


def test_signed_data_keeps_raw_value() -> None:
    (s,) = samples_v16([mv("2026-01-01T00:00:00Z", {"value": "AB12==", "format": "SignedData"})])
    assert s.value is None
    assert s.raw_value == "AB12=="
    assert s.signed == {"signedMeterData": "AB12=="}
    (row,) = sample_rows([s], station_id="S", transaction_id="1", evse_id=1, connector_id=1)
    assert row["signed"] == {"signedMeterData": "AB12=="}


def test_raw_values_are_not_signed() -> None:
    (s,) = samples_v16([mv("2026-01-01T00:00:00Z", {"value": "AB12==", "format": "Raw"})])
    assert (s.value, s.raw_value, s.signed) == (None, "AB12==", None)


def test_v2_signed_meter_value_is_kept_verbatim() -> None:
    signed = {
        "signedMeterData": "T0NNRg==",
        "signingMethod": "ECDSA-secp256r1-SHA256",
        "encodingMethod": "OCMF",
        "publicKey": "3059301306",
    }
    (s,) = samples_v2([mv("2026-01-01T00:00:00Z", {"value": 1.5, "signedMeterValue": signed})])
    assert (s.value, s.signed) == (1.5, signed)
    (row,) = sample_rows([s], station_id="S", transaction_id="1", evse_id=1, connector_id=1)
    assert row["signed"] == signed
    (unsigned,) = samples_v2([mv("2026-01-01T00:00:00Z", {"value": 1.5})])
    assert unsigned.signed is None


@pytest.mark.parametrize(
    ("sampled", "expected"),
    [
        ([{"value": "1500"}], 1500.0),
        ([{"value": "1.5", "unit": "kWh"}], 1500.0),
        ([{"value": "1", "unit": "kWh", "phase": p} for p in ("L1", "L2", "L3")], 3000.0),
        ([{"value": "900", "phase": "L1"}, {"value": "1000"}], 1000.0),
        ([{"value": "5", "measurand": "Power.Active.Import", "unit": "W"}], None),
        ([{"value": "7000", "location": "EV"}], None),
        ([{"value": "7", "unit": "varh"}], None),
    ],
)
def test_energy_register(sampled: list[dict[str, object]], expected: float | None) -> None:
    assert energy_register_wh(samples_v16([mv("2026-01-01T00:00:00Z", *sampled)])) == expected


def test_latest_register_wins() -> None:
    samples = samples_v16(
        [
            mv("2026-01-01T00:10:00Z", {"value": "2000"}),
            mv("2026-01-01T00:05:00Z", {"value": "1000"}),
        ]
    )
    assert energy_register_wh(samples) == 2000.0


def test_v2_multiplier_and_unit() -> None:
    (s,) = samples_v2(
        [mv("2026-01-01T00:00:00Z", {"value": 3, "unitOfMeasure": {"unit": "Wh", "multiplier": 3}})]
    )
    assert s.value == 3000.0
    assert energy_register_wh([s]) == 3000.0


def test_sample_key_is_stable_and_distinguishes() -> None:
    a = samples_v16([mv("2026-01-01T00:00:00Z", {"value": "1"}, {"value": "1", "phase": "L1"})])
    rows1 = sample_rows(a, station_id="S", transaction_id="1", evse_id=1, connector_id=1)
    rows2 = sample_rows(a, station_id="S", transaction_id="1", evse_id=1, connector_id=1)
    assert [r["sample_key"] for r in rows1] == [r["sample_key"] for r in rows2]
    assert rows1[0]["sample_key"] != rows1[1]["sample_key"]


def test_naive_timestamp_is_utc() -> None:
    assert parse_timestamp("2026-01-01T00:00:00") == datetime(2026, 1, 1, tzinfo=UTC)


def test_times_for_chargers_are_utc_milliseconds_z() -> None:
    from datetime import timedelta, timezone

    local = datetime(2026, 1, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert ocpp_time(local) == "2026-01-01T12:00:00.123Z"
