"""The codec as the charger's end: it accepts what a CSMS sends and sends what a charger sends."""

from __future__ import annotations

import pytest

from tests.transport.helpers import BOOT, RESET, RESET_ACCEPTED, call, charger, csms, exchange
from transport.errors import UnknownAction
from transport.messages import Call
from transport.versions import OcppVersion, Role

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
DATA_TRANSFER = {"vendorId": "acme", "data": "hello"}


def test_default_role_is_csms() -> None:
    assert csms(V16).role is Role.CSMS
    assert charger(V16).role is Role.CHARGER
    assert charger(V201).version is V201


@pytest.mark.parametrize("version", list(OcppVersion))
def test_charger_accepts_csms_calls_and_refuses_charger_calls(version: OcppVersion) -> None:
    codec = charger(version)
    action, payload = RESET[version]
    events, replies = exchange(codec, call("r1", action, payload))
    assert events == [Call("r1", action, payload)]
    assert replies == []
    _, replies = exchange(codec, call("b1", "BootNotification", BOOT[version]))
    assert replies[0][:3] == [4, "b1", "NotSupported"]
    assert "csms" in replies[0][3]


@pytest.mark.parametrize("version", list(OcppVersion))
def test_charger_sends_charger_calls_only(version: OcppVersion) -> None:
    codec = charger(version)
    with pytest.raises(UnknownAction):
        codec.send_call(*RESET[version])
    assert codec.send_call("BootNotification", BOOT[version]) == "c1"


@pytest.mark.parametrize("version", list(OcppVersion))
def test_csms_refuses_to_send_charger_calls(version: OcppVersion) -> None:
    with pytest.raises(UnknownAction):
        csms(version).send_call("BootNotification", BOOT[version])


@pytest.mark.parametrize("version", list(OcppVersion))
def test_data_transfer_goes_both_ways(version: OcppVersion) -> None:
    for codec in (csms(version), charger(version)):
        events, replies = exchange(codec, call("d1", "DataTransfer", DATA_TRANSFER))
        assert events == [Call("d1", "DataTransfer", DATA_TRANSFER)]
        assert replies == []
        assert codec.send_call("DataTransfer", DATA_TRANSFER)
        codec.send_result("d1", {"status": "Accepted"})


def test_charger_validates_what_it_answers() -> None:
    codec = charger(V16)
    exchange(codec, call("r1", "Reset", {"type": "Soft"}))
    codec.send_result("r1", RESET_ACCEPTED)
    assert codec.to_send() == ['[3,"r1",{"status":"Accepted"}]']
