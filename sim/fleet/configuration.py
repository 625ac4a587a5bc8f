"""What a simulated station says of its settings: 1.6 GetConfiguration / ChangeConfiguration
(sections 5.8 / 5.3) over its configuration keys, and the 2.x device model's GetVariables,
SetVariables and GetBaseReport (B06 / B05 / B07) over the few variables it has, each stored under
the 1.6 key of the same meaning."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from csms.payloads.timestamps import ocpp_time

if TYPE_CHECKING:
    from sim.fleet.station import Handler, SimStation

Payload = dict[str, Any]


READ_ONLY = frozenset({"LocalAuthListMaxLength", "SendLocalListMaxLength"})
"""1.6 keys a CSMS may read but not change (section 9.1: R, not RW)."""


def _get_configuration(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    wanted = p.get("key") or list(st.configuration)
    known = [
        {"key": k, "readonly": k in READ_ONLY, "value": st.configuration[k]}
        for k in wanted
        if k in st.configuration
    ]
    response: Payload = {"configurationKey": known}
    unknown = [k for k in wanted if k not in st.configuration]
    if unknown:
        response["unknownKey"] = unknown
    return response, None


def _change_configuration(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    if p["key"] not in st.configuration:
        return {"status": "NotSupported"}, None
    if p["key"] in READ_ONLY:
        return {"status": "Rejected"}, None
    st.configuration[p["key"]] = p["value"]
    return {"status": "Accepted"}, None


_VARIABLES: dict[tuple[str, str], tuple[str, str]] = {
    ("OCPPCommCtrlr", "HeartbeatInterval"): ("HeartbeatInterval", "integer"),
    ("SampledDataCtrlr", "TxUpdatedInterval"): ("MeterValueSampleInterval", "integer"),
    # 2.0.1 D01/D02: whether the station uses its local list.
    ("LocalAuthListCtrlr", "Enabled"): ("LocalAuthListEnabled", "boolean"),
}
"""2.x variables the station has: (component, variable) -> (its configuration key, dataType)."""


def _variable_value(st: SimStation, component: str, variable: str) -> str | None:
    known = _VARIABLES.get((component, variable))
    return None if known is None else st.configuration[known[0]]


def _get_variables(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    results = []
    for data in p["getVariableData"]:
        value = _variable_value(st, data["component"]["name"], data["variable"]["name"])
        result: Payload = {
            "attributeStatus": "Accepted" if value is not None else "UnknownVariable",
            "component": data["component"],
            "variable": data["variable"],
        }
        if value is not None:
            result["attributeValue"] = value
        results.append(result)
    return {"getVariableResult": results}, None


def _set_variables(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    results = []
    for data in p["setVariableData"]:
        key = (data["component"]["name"], data["variable"]["name"])
        known = key in _VARIABLES
        if known:
            st.configuration[_VARIABLES[key][0]] = data["attributeValue"]
        results.append(
            {
                "attributeStatus": "Accepted" if known else "UnknownVariable",
                "component": data["component"],
                "variable": data["variable"],
            }
        )
    return {"setVariableResult": results}, None


def _base_report(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    request_id = p["requestId"]

    async def report() -> None:
        data = [
            {
                "component": {"name": component},
                "variable": {"name": variable},
                "variableAttribute": [
                    {
                        "value": _variable_value(st, component, variable) or "",
                        "mutability": "ReadWrite",
                    }
                ],
                "variableCharacteristics": {
                    "dataType": _VARIABLES[(component, variable)][1],
                    "supportsMonitoring": False,
                },
            }
            for component, variable in sorted(_VARIABLES)
        ]
        await st.send_call(
            "NotifyReport",
            {
                "requestId": request_id,
                "generatedAt": ocpp_time(st.clock.now()),
                "seqNo": 0,
                "tbc": False,
                "reportData": data,
            },
        )

    return {"status": "Accepted"}, report


HANDLERS_16: dict[str, Handler] = {
    "GetConfiguration": _get_configuration,
    "ChangeConfiguration": _change_configuration,
}
HANDLERS_2: dict[str, Handler] = {
    "GetVariables": _get_variables,
    "SetVariables": _set_variables,
    "GetBaseReport": _base_report,
}
