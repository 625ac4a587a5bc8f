"""What the CSMS learns from the answers to its own calls: every command and its answer go to the
station's event log (who asked a station to reset, and what it said), the results of GetVariables
and SetVariables update the stored device model, and those of the certificate commands the station's
list of certificates."""

from __future__ import annotations

from typing import Any

from csms.payloads.device_model import get_variables_rows, set_variables_rows
from csms.pki.answers import certificate_ops
from persistence.device_model import device_values_changed
from persistence.events import station_event
from persistence.writer import WriteOp, Writer

COMMAND_EVENT_PREFIX = "Command:"
"""Station events of CSMS-initiated calls are named ``Command:<Action>``."""


class CommandLog:
    """Records the answered commands of one node's stations."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer

    async def answered(
        self, station_id: str, action: str, request: dict[str, Any], response: dict[str, Any]
    ) -> None:
        """Store a command the station answered with a CALLRESULT; returns after the commit."""
        ops: list[WriteOp] = [
            station_event(
                station_id,
                COMMAND_EVENT_PREFIX + action,
                {"request": request, "response": response},
            )
        ]
        rows = []
        if action == "GetVariables":
            rows = get_variables_rows(station_id, response)
        elif action == "SetVariables":
            rows = set_variables_rows(station_id, request, response)
        if rows:
            ops.extend(device_values_changed(rows))
        ops.extend(certificate_ops(station_id, action, request, response))
        await self._writer.submit(*ops)
