"""Minimal valid requests of every CSMS-initiated action of OCPP 2.0.1 and 2.1 (camelCase, as on
the wire), for the tests that send each one."""

from __future__ import annotations

from typing import Any

from transport.versions import OcppVersion

CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUY2hlY2s=\n-----END CERTIFICATE-----\n"
ID_TOKEN = {"idToken": "TAG-1", "type": "ISO14443"}
LATER = "2030-01-01T00:00:00.000Z"
CHECKSUM = "d41d8cd98f00b204e9800998ecf8427e"

# A minimal valid request of every CSMS-initiated action of 2.0.1 (wire form: camelCase), valid
# in 2.1 as well.
REQUESTS_V201: dict[str, dict[str, Any]] = {
    "CancelReservation": {"reservationId": 1},
    "CertificateSigned": {"certificateChain": CERT},
    "ChangeAvailability": {"operationalStatus": "Inoperative", "evse": {"id": 1}},
    "ClearCache": {},
    "ClearChargingProfile": {"chargingProfileId": 1},
    "ClearDisplayMessage": {"id": 1},
    "ClearVariableMonitoring": {"id": [1]},
    "CostUpdated": {"totalCost": 1.25, "transactionId": "TX-1"},
    "CustomerInformation": {"requestId": 1, "report": True, "clear": False, "idToken": ID_TOKEN},
    "DataTransfer": {"vendorId": "acme", "messageId": "ping"},
    "DeleteCertificate": {
        "certificateHashData": {
            "hashAlgorithm": "SHA256",
            "issuerNameHash": "0a1b2c",
            "issuerKeyHash": "3d4e5f",
            "serialNumber": "01",
        }
    },
    "GetBaseReport": {"requestId": 1, "reportBase": "FullInventory"},
    "GetChargingProfiles": {
        "requestId": 1,
        "chargingProfile": {"chargingProfilePurpose": "TxProfile"},
    },
    "GetCompositeSchedule": {"duration": 3600, "evseId": 1, "chargingRateUnit": "A"},
    "GetDisplayMessages": {"requestId": 1},
    "GetInstalledCertificateIds": {},
    "GetLocalListVersion": {},
    "GetLog": {
        "logType": "DiagnosticsLog",
        "requestId": 1,
        "log": {"remoteLocation": "https://example.com/logs"},
    },
    "GetMonitoringReport": {"requestId": 1},
    "GetReport": {"requestId": 2},
    "GetTransactionStatus": {"transactionId": "TX-1"},
    "GetVariables": {
        "getVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
        ]
    },
    "InstallCertificate": {"certificateType": "CSMSRootCertificate", "certificate": CERT},
    "PublishFirmware": {
        "location": "https://example.com/fw.bin",
        "checksum": CHECKSUM,
        "requestId": 1,
    },
    "RequestStartTransaction": {"remoteStartId": 1, "idToken": ID_TOKEN, "evseId": 1},
    "RequestStopTransaction": {"transactionId": "TX-1"},
    "ReserveNow": {"id": 1, "expiryDateTime": LATER, "idToken": ID_TOKEN},
    "Reset": {"type": "Immediate"},
    "SendLocalList": {"versionNumber": 1, "updateType": "Full"},
    "SetChargingProfile": {
        "evseId": 1,
        "chargingProfile": {
            "id": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": [
                {
                    "id": 1,
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
                }
            ],
        },
    },
    "SetDisplayMessage": {
        "message": {
            "id": 1,
            "priority": "NormalCycle",
            "message": {"format": "UTF8", "content": "Hello"},
        }
    },
    "SetMonitoringBase": {"monitoringBase": "All"},
    "SetMonitoringLevel": {"severity": 5},
    "SetNetworkProfile": {
        "configurationSlot": 1,
        "connectionData": {
            "ocppVersion": "OCPP20",
            "ocppTransport": "JSON",
            "ocppCsmsUrl": "wss://csms.example.com/ocpp",
            "messageTimeout": 30,
            "securityProfile": 2,
            "ocppInterface": "Wired0",
        },
    },
    "SetVariableMonitoring": {
        "setMonitoringData": [
            {
                "value": 1.0,
                "type": "Delta",
                "severity": 5,
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "AvailabilityState"},
            }
        ]
    },
    "SetVariables": {
        "setVariableData": [
            {
                "attributeValue": "60",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
            }
        ]
    },
    "TriggerMessage": {
        "requestedMessage": "StatusNotification",
        "evse": {"id": 1, "connectorId": 1},
    },
    "UnlockConnector": {"evseId": 1, "connectorId": 1},
    "UnpublishFirmware": {"checksum": CHECKSUM},
    "UpdateFirmware": {
        "requestId": 1,
        "firmware": {"location": "https://example.com/fw.bin", "retrieveDateTime": LATER},
    },
}
# The actions that 2.1 added.
REQUESTS_V21_ONLY: dict[str, dict[str, Any]] = {
    "AFRRSignal": {"timestamp": LATER, "signal": 1},
    "AdjustPeriodicEventStream": {"id": 1, "params": {"interval": 60}},
    "ChangeTransactionTariff": {
        "transactionId": "TX-1",
        "tariff": {"tariffId": "T-1", "currency": "EUR"},
    },
    "ClearDERControl": {"isDefault": False},
    "ClearTariffs": {"tariffIds": ["T-1"]},
    "GetDERControl": {"requestId": 1},
    "GetPeriodicEventStream": {},
    "GetTariffs": {"evseId": 1},
    "NotifyAllowedEnergyTransfer": {
        "transactionId": "TX-1",
        "allowedEnergyTransfer": ["AC_three_phase"],
    },
    "NotifyWebPaymentStarted": {"evseId": 1, "timeout": 60},
    "RequestBatterySwap": {"requestId": 1, "idToken": ID_TOKEN},
    "SetDERControl": {
        "isDefault": False,
        "controlId": "DER-1",
        "controlType": "EnterService",
        "enterService": {
            "priority": 1,
            "highVoltage": 253.0,
            "lowVoltage": 207.0,
            "highFreq": 50.1,
            "lowFreq": 49.9,
        },
    },
    "SetDefaultTariff": {"evseId": 1, "tariff": {"tariffId": "T-1", "currency": "EUR"}},
    "UpdateDynamicSchedule": {"chargingProfileId": 1, "scheduleUpdate": {"limit": 16.0}},
    "UsePriorityCharging": {"transactionId": "TX-1", "activate": True},
}
REQUESTS: dict[OcppVersion, dict[str, dict[str, Any]]] = {
    OcppVersion.V201: REQUESTS_V201,
    OcppVersion.V21: {**REQUESTS_V201, **REQUESTS_V21_ONLY},
}
