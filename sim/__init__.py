"""Fleet simulator and load generator for OCPP central systems.

- `sim.fleet`: the fleet simulator (``voltmesh sim``); its stations also carry the benchmarks'
  load shapes (`sim.fleet.load`, run by `sim.fleet.conductor`).
- `sim.loadgen`: one load run from the command line (``python -m sim.loadgen``).
- `sim.bench`: benchmark harness that runs load runs against a server under test.
- `sim.costs`: server CPU per message by kind of exchange, its chargers on the fleet's link.
- `sim.benchreport`: the benchmarks' tables; they and the fleet's reports share
  `sim.fleet.figures` (throughput, CPU per message, medians, number formatting).
- `sim.baseline_server`: reference central system on the plain `ocpp` package.
"""
