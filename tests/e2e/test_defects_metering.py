"""Meter samples as the bill needs them: signed readings kept verbatim with their encoding and
public key (German calibration law), and a sample sent twice stored once, on 1.6 and 2.0.1."""

from __future__ import annotations

from typing import Any

import pytest

from persistence.transactions import transaction_meter_values
from tests.raw_charger import RawCharger
from tests.server_fixtures import Running
from tests.v2_calls import boot_payload, energy, transaction_event, ts

BOOT16 = {"chargePointVendor": "V", "chargePointModel": "M"}
# An OCMF reading as Eichrecht meters sign it (shortened).
OCMF = (
    'OCMF|{"FV":"1.0","GI":"SEAL AG","GS":"1A2B","PG":"T1","RD":[{"TM":"2026-11-01T12:05:00,000+0000 S",'
    '"TX":"B","RV":1.6,"RI":"1-b:1.8.0","RU":"kWh","ST":"G"}]}|{"SA":"ECDSA-secp256r1-SHA256",'
    '"SD":"3045022100C7A1"}'
)
PUBLIC_KEY = "3059301306072A8648CE3D020106082A8648CE3D03010703420004A1B2C3"


@pytest.fixture
def server(server_on_each_db: Running) -> Running:
    """Every test of this module runs on SQLite and on PostgreSQL."""
    return server_on_each_db


async def _samples(server: Running, transaction_id: str) -> list[dict[str, Any]]:
    status, view = await server.get(f"/api/v1/transactions/{transaction_id}")
    assert status == 200, view
    samples: list[dict[str, Any]] = view["meter_values"]
    return samples


async def test_v16_signed_data_is_kept_verbatim(server: Running) -> None:
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-EICH")
    try:
        await charger.call("BootNotification", BOOT16)
        start = await charger.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "E", "meterStart": 1000, "timestamp": ts()},
        )
        tx = str(start["transactionId"])
        reading = {
            "timestamp": ts(5),
            "sampledValue": [
                {"value": "1600", "context": "Sample.Periodic"},
                {
                    "value": OCMF,
                    "format": "SignedData",
                    "context": "Sample.Periodic",
                    "measurand": "Energy.Active.Import.Register",
                },
            ],
        }
        meter = {"connectorId": 1, "transactionId": int(tx), "meterValue": [reading]}
        assert await charger.call("MeterValues", meter) == {}
    finally:
        await charger.close()
    shown = await _samples(server, tx)
    assert sorted(str(s["value"]) for s in shown) == sorted(["1600.0", OCMF])
    stored = await transaction_meter_values(server.node.reads, tx)
    (signed,) = [s for s in stored if s.signed is not None]
    assert signed.signed == {"signedMeterData": OCMF}
    assert signed.raw_value == OCMF and signed.value is None


async def test_v201_signed_meter_value_is_kept_with_its_encoding_and_key(server: Running) -> None:
    charger = await RawCharger.connect(f"{server.ocpp_url}/CS-EICH", subprotocols=["ocpp2.0.1"])
    signed_value = {
        "signedMeterData": "T0NNRnx7IkZWIjoiMS4wIn18eyJTRCI6IjMwNDUifQ==",
        "signingMethod": "ECDSA-secp256r1-SHA256",
        "encodingMethod": "OCMF",
        "publicKey": PUBLIC_KEY,
    }
    sample = energy(1600, 5)
    sample["sampledValue"][0]["signedMeterValue"] = signed_value
    try:
        await charger.call("BootNotification", boot_payload())
        started = transaction_event(
            "Started",
            0,
            "S-1",
            minutes=0,
            trigger="CablePluggedIn",
            evse={"id": 1, "connectorId": 1},
            meter=[energy(1000, 0, "Transaction.Begin")],
        )
        assert await charger.call("TransactionEvent", started) == {}
        updated = transaction_event(
            "Updated", 1, "S-1", minutes=5, trigger="MeterValuePeriodic", meter=[sample]
        )
        assert await charger.call("TransactionEvent", updated) == {}
    finally:
        await charger.close()
    stored = await transaction_meter_values(server.node.reads, "CS-EICH,S-1")
    (signed,) = [s for s in stored if s.signed is not None]
    assert signed.signed == signed_value
    assert signed.value == 1600.0  # the reading itself stays a number for the energy


async def test_v16_a_begin_sample_sent_again_with_the_stop_is_stored_once(
    server: Running,
) -> None:
    """The reported duplicate: the Transaction.Begin sample of a MeterValues came again in the
    StopTransaction's transactionData, which names no connector."""
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-TWICE")
    begin = {
        "timestamp": ts(),
        "sampledValue": [{"value": "1000", "context": "Transaction.Begin"}],
    }
    periodic = {"timestamp": ts(5), "sampledValue": [{"value": "1500"}]}
    end = {"timestamp": ts(9), "sampledValue": [{"value": "1900", "context": "Transaction.End"}]}
    try:
        await charger.call("BootNotification", BOOT16)
        start = await charger.call(
            "StartTransaction",
            {"connectorId": 2, "idTag": "B", "meterStart": 1000, "timestamp": ts()},
        )
        tx = start["transactionId"]
        meter = {"connectorId": 2, "transactionId": tx, "meterValue": [begin, periodic]}
        assert await charger.call("MeterValues", meter) == {}
        # The same MeterValues resent (its answer was lost) lands once as well.
        assert await charger.call("MeterValues", meter) == {}
        stop = {
            "transactionId": tx,
            "meterStop": 1900,
            "timestamp": ts(9),
            "transactionData": [begin, periodic, end],
        }
        assert await charger.call("StopTransaction", stop) == {}
    finally:
        await charger.close()
    shown = await _samples(server, str(tx))
    assert [(s["context"], s["value"]) for s in shown] == [
        ("Transaction.Begin", 1000.0),
        ("Sample.Periodic", 1500.0),
        ("Transaction.End", 1900.0),
    ]


async def test_v201_a_sample_repeated_in_a_later_event_is_stored_once(server: Running) -> None:
    """Events after the first may leave out the EVSE; the samples they repeat are the same."""
    charger = await RawCharger.connect(f"{server.ocpp_url}/CS-TWICE", subprotocols=["ocpp2.0.1"])
    begin = energy(1000, 0, "Transaction.Begin")
    try:
        await charger.call("BootNotification", boot_payload())
        started = transaction_event(
            "Started",
            0,
            "R-1",
            minutes=0,
            trigger="CablePluggedIn",
            evse={"id": 1, "connectorId": 1},
            meter=[begin],
        )
        assert await charger.call("TransactionEvent", started) == {}
        ended = transaction_event(
            "Ended",
            1,
            "R-1",
            minutes=9,
            trigger="EVCommunicationLost",
            meter=[begin, energy(1900, 9, "Transaction.End")],
            info={"stoppedReason": "EVDisconnected"},
        )
        assert await charger.call("TransactionEvent", ended) == {}
    finally:
        await charger.close()
    shown = await _samples(server, "CS-TWICE,R-1")
    assert [(s["context"], s["value"]) for s in shown] == [
        ("Transaction.Begin", 1000.0),
        ("Transaction.End", 1900.0),
    ]
