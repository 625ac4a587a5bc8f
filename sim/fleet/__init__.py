"""The fleet simulator: ``voltmesh sim SCENARIO``.

A scenario file describes a fleet (stations per model, OCPP version mix, EVSEs, power), the central
system to drive, the EV traffic and the faults; every simulated station is an actor with its own
mailbox, driven by a deterministic plan drawn from the scenario's seed. Worker processes share the
fleet; the parent merges their numbers into a live progress line and, at the end, a JSON summary, a
CSV of sessions and an HTML report.
"""
