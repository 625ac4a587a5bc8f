"""The handlers of charger-initiated requests, one table per OCPP version."""
