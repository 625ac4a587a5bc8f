"""ReserveNow in one shape for every version, translated at the edge (1.6 section 5.13, 2.0.1
H01): what an operator asks for becomes the payload of the station's version, and a payload a
station accepted becomes the row that is kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.payloads.timestamps import ocpp_time, parse_timestamp
from persistence.records import id_token_key
from persistence.reservations import ReservationAccepted
from transport.versions import OcppVersion

DEFAULT_TOKEN_TYPE = "ISO14443"
"""2.x IdTokenEnumType of a token whose type neither the operator nor the store gives: an RFID
card, what reservations are made for most."""


class ReservationRequestError(ValueError):
    """What the operator asked for cannot be said in the station's version."""


@dataclass(frozen=True, slots=True)
class ReservationRequest:
    """A reservation an operator asks for."""

    reservation_id: int
    id_token: str
    expires_at: datetime
    evse_id: int | None = None
    """2.x evseId; 1.6: the connector (a 1.6 connector N is EVSE N). None or 0: any."""
    connector_id: int | None = None
    """1.6 connectorId only. None or 0: any."""
    connector_type: str | None = None
    """2.x connectorType only."""
    group_id_token: str | None = None
    """1.6 parentIdTag, 2.x groupIdToken."""
    id_token_type: str | None = None
    """2.x IdTokenEnumType; None: ``DEFAULT_TOKEN_TYPE``."""


def reserve_now_payload(request: ReservationRequest, version: OcppVersion) -> dict[str, Any]:
    """The ReserveNow payload of ``version``."""
    if version is OcppVersion.V16:
        if request.connector_type is not None:
            raise ReservationRequestError("connector_type is for OCPP 2.x stations only")
        if (
            request.connector_id is not None
            and request.evse_id is not None
            and request.connector_id != request.evse_id
        ):
            raise ReservationRequestError(
                "on an OCPP 1.6 station connector N is EVSE N: give connector_id or evse_id"
            )
        connector = request.connector_id if request.connector_id is not None else request.evse_id
        payload: dict[str, Any] = {
            "connectorId": connector or 0,
            "expiryDate": ocpp_time(request.expires_at),
            "idTag": request.id_token,
            "reservationId": request.reservation_id,
        }
        if request.group_id_token is not None:
            payload["parentIdTag"] = request.group_id_token
        return payload
    if request.connector_id:
        raise ReservationRequestError(
            "OCPP 2.x reserves an EVSE (evse_id) and a connector type, not a connector_id"
        )
    token_type = request.id_token_type or DEFAULT_TOKEN_TYPE
    payload = {
        "id": request.reservation_id,
        "expiryDateTime": ocpp_time(request.expires_at),
        "idToken": {"idToken": request.id_token, "type": token_type},
    }
    if request.evse_id:
        payload["evseId"] = request.evse_id
    if request.connector_type is not None:
        payload["connectorType"] = request.connector_type
    if request.group_id_token is not None:
        payload["groupIdToken"] = {"idToken": request.group_id_token, "type": "Central"}
    return payload


def accepted_reservation(
    station_id: str, protocol: str, request: Mapping[str, Any]
) -> ReservationAccepted:
    """The reservation a ReserveNow payload (of either version) describes."""
    if protocol == OcppVersion.V16.value:
        connector = int(request["connectorId"])
        parent = request.get("parentIdTag")
        return ReservationAccepted(
            station_id=station_id,
            reservation_id=int(request["reservationId"]),
            id_token=id_token_key(request["idTag"]),
            id_token_type=None,
            group_id_token=id_token_key(parent) if parent else None,
            evse_id=connector or None,
            connector_id=connector,
            connector_type=None,
            expires_at=parse_timestamp(request["expiryDate"]),
            protocol=protocol,
        )
    group = request.get("groupIdToken")
    return ReservationAccepted(
        station_id=station_id,
        reservation_id=int(request["id"]),
        id_token=id_token_key(request["idToken"]["idToken"]),
        id_token_type=request["idToken"].get("type"),
        group_id_token=id_token_key(group["idToken"]) if group else None,
        evse_id=request.get("evseId") or None,
        connector_id=None,
        connector_type=request.get("connectorType"),
        expires_at=parse_timestamp(request["expiryDateTime"]),
        protocol=protocol,
    )
