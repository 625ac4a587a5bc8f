"""Messages between the load-run parent and its worker processes (pickled over a pipe).

Sequence::

    worker -> WorkerReady
    parent -> StartConnecting        workers connect and boot their chargers
    worker -> FleetBooted
    parent -> StartTraffic | Stop    workers run traffic until the window ends
    worker -> WorkerDone

A worker that fails sends `WorkerFailed` instead of its next message and exits.
All times are `time.monotonic()` seconds, which is one clock for every process on Linux.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.stats import BootReport, WorkerReport


@dataclass(frozen=True, slots=True)
class WorkerReady:
    """The worker has started its event loop."""

    worker: int
    """Index of the worker."""


@dataclass(frozen=True, slots=True)
class StartConnecting:
    """Begin the connect ramp."""

    at: float
    """When charger 0 connects; charger i connects at `at + i / connect_rate`."""


@dataclass(frozen=True, slots=True)
class FleetBooted:
    """The worker's chargers have connected and booted (or failed to)."""

    worker: int
    """Index of the worker."""
    boot: BootReport
    """How the boot phase went."""


@dataclass(frozen=True, slots=True)
class StartTraffic:
    """Begin the traffic phase."""

    start_at: float
    """When the warm-up begins."""
    window_start: float
    """When the measured window begins (end of warm-up)."""
    window_end: float
    """When the measured window ends; no CALL is started after it (saturate mode)."""
    first_lane: int
    """Rate mode: rank of this worker's first session script among all of them."""
    total_lanes: int
    """Rate mode: session scripts over all workers, which share the offered rate."""


@dataclass(frozen=True, slots=True)
class Stop:
    """Close the chargers and exit without traffic."""


@dataclass(frozen=True, slots=True)
class WorkerDone:
    """The worker's final numbers."""

    report: WorkerReport
    """Everything the worker measured."""


@dataclass(frozen=True, slots=True)
class WorkerFailed:
    """The worker hit an error it could not handle."""

    worker: int
    """Index of the worker."""
    message: str
    """What went wrong."""


ToWorker = StartConnecting | StartTraffic | Stop
FromWorker = WorkerReady | FleetBooted | WorkerDone | WorkerFailed
