"""The simulated charger's payloads obey the official OCPP 1.6 JSON schemas."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs installed
import ocpp.v16
import pytest

from sim.traffic import SessionScript, Step, session_steps

SCHEMAS = Path(ocpp.v16.__file__).parent / "schemas"


def validate(action: str, payload: dict[str, Any]) -> None:
    schema = json.loads((SCHEMAS / f"{action}.json").read_text())
    jsonschema.validate(payload, schema)


def answer_for(action: str, transaction_id: int) -> dict[str, Any]:
    if action == "StartTransaction":
        return {"transactionId": transaction_id, "idTagInfo": {"status": "Accepted"}}
    return {}


def test_two_sessions_follow_the_script_and_validate() -> None:
    script = SessionScript(
        connector_id=1, id_tag="TAG00000100", rng=random.Random(3), meter_values_per_session=3
    )
    steps = session_steps(3)
    actions = []
    registers = []
    for n in range(2 * len(steps)):
        request = script.next_request()
        validate(request.action, request.payload)
        actions.append(request.action)
        if request.action == "MeterValues":
            assert request.payload["transactionId"] == 100 + n // len(steps)
            sampled = request.payload["meterValue"][0]["sampledValue"]
            assert {s["measurand"] for s in sampled} == {
                "Energy.Active.Import.Register",
                "Power.Active.Import",
                "Current.Import",
            }
            assert {s.get("phase") for s in sampled} >= {"L1", "L2", "L3"}
            assert all(s["context"] == "Sample.Periodic" for s in sampled)
            registers.append(int(sampled[0]["value"]))
        script.on_result(answer_for(request.action, 100 + n // len(steps)))
    assert actions.count("StartTransaction") == 2
    assert actions.count("MeterValues") == 6
    assert registers == sorted(registers)
    assert script.transaction_id is None


def test_failed_start_skips_the_transaction_steps() -> None:
    script = SessionScript(connector_id=2, id_tag="T", rng=random.Random(1))
    seen = []
    for _ in range(len(session_steps(8))):
        request = script.next_request()
        seen.append(request.action)
        if request.action == "StartTransaction":
            script.on_failure()
        else:
            script.on_result({})
    start = seen.index("StartTransaction")
    # Charging, MeterValues and StopTransaction need a transaction: Finishing and Available
    # follow directly, then the next session begins.
    assert seen[start + 1 : start + 4] == ["StatusNotification", "StatusNotification", "Heartbeat"]


def test_one_request_in_flight() -> None:
    script = SessionScript(connector_id=1, id_tag="T", rng=random.Random(1))
    script.next_request()
    with pytest.raises(RuntimeError):
        script.next_request()
    script.on_result({})
    with pytest.raises(RuntimeError):
        script.on_result({})
    assert Step.HEARTBEAT in session_steps(0)
