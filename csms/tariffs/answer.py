"""The cost fields of a TransactionEventResponse (2.0.1 I02, I03): ``totalCost`` and
``updatedPersonalMessage``."""

from __future__ import annotations

from typing import Any

from csms.session.transaction_event import TransactionEventReport
from csms.station.charge_point import ChargePointActor


async def transaction_response_fields(
    cp: ChargePointActor, transaction_id: str, report: TransactionEventReport
) -> dict[str, Any]:
    """Fields to add to the response to ``report`` (already committed) of ``transaction_id``."""
    return {}
