"""Fleet simulator and load generator for OCPP central systems.

- `sim.loadgen`: OCPP 1.6 load driver (library and `python -m sim.loadgen`).
- `sim.bench`: benchmark harness that runs the load driver against a server under test.
- `sim.baseline_server`: reference central system on the plain `ocpp` package.
"""
