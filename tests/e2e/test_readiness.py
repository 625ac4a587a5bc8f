"""Readiness follows the store: a node whose writes fail (a full disk) says it is not ready, so that
Kubernetes sends new chargers and operators elsewhere, and ready again once a write succeeds."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tests.raw_charger import CallErrorReply, RawCharger
from tests.server_fixtures import Running
from tests.timing import eventually

BOOT = {"chargePointVendor": "V", "chargePointModel": "M"}


async def test_readiness_fails_while_writes_fail_and_returns(
    server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, body = await server.get("/readyz")
    assert (status, body["status"]) == (200, "ready")
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-DISK")
    try:
        assert (await charger.call("BootNotification", BOOT))["status"] == "Accepted"
        writer = server.node.writer

        async def disk_full(*_: Any) -> None:
            raise OperationalError("COMMIT", {}, OSError(28, "No space left on device"))

        monkeypatch.setattr(writer, "_commit", disk_full)
        with pytest.raises(CallErrorReply) as refused:
            await charger.call("BootNotification", BOOT)
        assert refused.value.code == "InternalError"  # nothing acknowledged
        status, body = await server.get("/readyz")
        assert status == 503
        assert body == {"status": "not ready", "reason": "store writes fail"}
        # Liveness is not readiness: the process is fine, it must not be restarted for this.
        status, _ = await server.get("/healthz")
        assert status == 200

        monkeypatch.undo()

        # The disk has room again; nobody writes (a node out of rotation gets no traffic): the
        # readiness probe's own write finds it out.
        async def ready() -> bool:
            status, _ = await server.get("/readyz")
            return status == 200

        await eventually(ready, what="ready again without any charger's write")
        answer = await charger.call("BootNotification", BOOT)
        assert answer["status"] == "Accepted"
    finally:
        await charger.close()
