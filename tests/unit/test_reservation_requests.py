"""ReserveNow translated at the edge: an operator's request as each version's payload, valid
against the official schemas, and read back into the same reservation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from csms.reservations.requests import (
    ReservationRequest,
    ReservationRequestError,
    accepted_reservation,
    reserve_now_payload,
)
from transport.schemas import schemas_for
from transport.versions import OcppVersion

EXPIRY = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def test_v16_connector_and_parent() -> None:
    request = ReservationRequest(7, "tag", EXPIRY, connector_id=2, group_id_token="G")
    payload = reserve_now_payload(request, OcppVersion.V16)
    schemas_for(OcppVersion.V16).validate_request("ReserveNow", payload)
    assert payload == {
        "connectorId": 2,
        "expiryDate": "2030-01-01T12:00:00.000Z",
        "idTag": "tag",
        "reservationId": 7,
        "parentIdTag": "G",
    }
    kept = accepted_reservation("CP", "ocpp1.6", payload)
    assert (kept.reservation_id, kept.evse_id, kept.connector_id) == (7, 2, 2)
    assert (kept.id_token, kept.group_id_token, kept.expires_at) == ("TAG", "G", EXPIRY)
    # Any connector: 0, and no EVSE.
    any_connector = reserve_now_payload(ReservationRequest(8, "t", EXPIRY), OcppVersion.V16)
    assert any_connector["connectorId"] == 0
    assert accepted_reservation("CP", "ocpp1.6", any_connector).evse_id is None
    # evse_id names the 1.6 connector too.
    assert (
        reserve_now_payload(ReservationRequest(9, "t", EXPIRY, evse_id=3), OcppVersion.V16)[
            "connectorId"
        ]
        == 3
    )


@pytest.mark.parametrize("version", [OcppVersion.V201, OcppVersion.V21])
def test_v2_evse_type_and_group(version: OcppVersion) -> None:
    request = ReservationRequest(
        11,
        "tag",
        EXPIRY,
        evse_id=1,
        connector_type="cCCS2",
        group_id_token="G",
        id_token_type="eMAID",
    )
    payload = reserve_now_payload(request, version)
    schemas_for(version).validate_request("ReserveNow", payload)
    assert payload["idToken"] == {"idToken": "tag", "type": "eMAID"}
    assert payload["evseId"] == 1 and payload["connectorType"] == "cCCS2"
    kept = accepted_reservation("CP", version.value, payload)
    assert (kept.reservation_id, kept.evse_id, kept.connector_id) == (11, 1, None)
    assert (kept.connector_type, kept.id_token_type, kept.group_id_token) == ("cCCS2", "eMAID", "G")
    anywhere = reserve_now_payload(ReservationRequest(12, "t", EXPIRY), version)
    assert "evseId" not in anywhere and anywhere["idToken"]["type"] == "ISO14443"


def test_what_a_version_cannot_say() -> None:
    with pytest.raises(ReservationRequestError):
        reserve_now_payload(
            ReservationRequest(1, "t", EXPIRY, connector_type="cType2"), OcppVersion.V16
        )
    with pytest.raises(ReservationRequestError):
        reserve_now_payload(
            ReservationRequest(1, "t", EXPIRY, evse_id=1, connector_id=2), OcppVersion.V16
        )
    with pytest.raises(ReservationRequestError):
        reserve_now_payload(ReservationRequest(1, "t", EXPIRY, connector_id=2), OcppVersion.V201)
