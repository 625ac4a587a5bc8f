"""The per-message cost benchmark: what its chargers send, and one run against the baseline."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from sim.baseline_server import baseline_server
from sim.costs import PROTOCOLS, Charger, id_tag, measure
from sim.fleet.link import CallFailed, Link
from sim.fleet.tally import FleetTally
from sim.servers import ServerKind
from tests.sim.helpers import UNIT
from transport.schemas import schemas_for
from transport.versions import OcppVersion


class Recorder(Charger):
    """A charger without a connection: records what it would send and answers every CALL."""

    def __init__(self, name: str, tag: str) -> None:
        self.name = name
        self.tag = tag
        self.id_token_201 = {"idToken": tag, "type": "ISO14443"}
        self.sent = 0
        self.transactions = 0
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        self.sent += 1
        self.calls.append((action, payload))
        return {"transactionId": self.sent} if action == "StartTransaction" else {}


def record(protocol: str, scenario: str, repeats: int = 2) -> Recorder:
    charger = Recorder("COST00099", id_tag(99))
    count = [0]

    async def run() -> None:
        for _ in range(repeats):
            await PROTOCOLS[protocol].scenarios[scenario](charger, count)

    asyncio.run(run())
    assert count[0] == len(charger.calls)  # every message sent is counted, once
    return charger


@pytest.mark.parametrize(
    ("protocol", "scenario"),
    [(p, s) for p, protocol in PROTOCOLS.items() for s in protocol.scenarios],
)
def test_every_request_is_valid_against_the_official_schema(protocol: str, scenario: str) -> None:
    schemas = schemas_for(OcppVersion(protocol))
    schemas.validate_request("BootNotification", PROTOCOLS[protocol].boot)
    for action, payload in record(protocol, scenario).calls:
        schemas.validate_request(action, payload)


@pytest.mark.parametrize(
    ("protocol", "scenario"),
    [(p, s) for p, protocol in PROTOCOLS.items() for s in protocol.scenarios],
)
def test_each_charger_presents_its_own_id_tag(protocol: str, scenario: str) -> None:
    """Chargers sharing a token would meet ConcurrentTx and measure refusals, not sessions."""
    assert id_tag(1) != id_tag(2)
    tokens = set()
    for _, payload in record(protocol, scenario).calls:
        token = payload.get("idTag") or payload.get("idToken", {}).get("idToken")
        if token is not None:
            tokens.add(token)
    assert tokens <= {id_tag(99)}


def test_201_transactions_have_fresh_ids_and_counted_events() -> None:
    for scenario, events in [
        ("TransactionEvent Started + Ended", 2),
        ("session of 10 TransactionEvent Updated", 12),
    ]:
        calls = record("ocpp2.0.1", scenario).calls
        assert {action for action, _ in calls} == {"TransactionEvent"}
        ids = [payload["transactionInfo"]["transactionId"] for _, payload in calls]
        assert ids == ["COST00099-1"] * events + ["COST00099-2"] * events
        assert all(len(tx) <= 36 for tx in ids)
        seq = [payload["seqNo"] for _, payload in calls]
        assert seq == list(range(events)) * 2
        types = [payload["eventType"] for _, payload in calls[:events]]
        assert types == ["Started"] + ["Updated"] * (events - 2) + ["Ended"]


async def test_a_callerror_raises() -> None:
    async with baseline_server("127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                f"ws://127.0.0.1:{port}/ocpp/COST00001", protocols=["ocpp2.0.1"]
            ) as ws,
        ):
            assert ws.protocol == "ocpp2.0.1"
            link = Link(
                "COST00001",
                "ocpp2.0.1",
                ws,
                FleetTally(),
                lambda *_: None,
                timeout=100 * UNIT,
                validate=False,
            )
            link.start()
            try:
                charger = Charger(link, "COST00001", id_tag(1))
                await charger.call("BootNotification", PROTOCOLS["ocpp2.0.1"].boot)
                with pytest.raises(CallFailed, match="FormatViolation"):
                    await charger.call("Authorize", {"idTag": "COSTTAG"})  # the 1.6 shape
            finally:
                await link.close()


@pytest.mark.slow
def test_201_session_against_baseline_process() -> None:
    cost = measure(
        ServerKind.BASELINE,
        "session of 10 TransactionEvent Updated",
        clients=5,
        seconds=10 * UNIT,
        protocol="ocpp2.0.1",
    )
    assert cost.scenario == "session of 10 TransactionEvent Updated"
    assert cost.msgs_per_s > 20
    assert cost.cpu_us_per_msg > 0
