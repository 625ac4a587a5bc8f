"""The OCPP domain of the central system: per connected station a charge point actor, per active
transaction a session actor, the handlers of each OCPP version, and the readers of their payloads.
It speaks to chargers only through `gateway` and stores only through `persistence`."""
