"""Errors raised by the simulator and the benchmark harness.

Tree::

    SimError
    ├── RemoteTargetRefused      the target is not a loopback address and remote targets are off
    ├── ConnectionLost           a charger's websocket closed while a CALL waited for its reply
    ├── FleetError               the load run could not complete (a worker died or stalled)
    └── ServerStartError         the server under test exited or never became ready
"""

from __future__ import annotations


class SimError(Exception):
    """Root of every error raised by `sim`."""


class RemoteTargetRefused(SimError):
    """The target host is not loopback and `allow_remote` was not given.

    A load run can saturate a server; aiming it at another machine must be a deliberate choice.
    """


class ConnectionLost(SimError):
    """A simulated charger's websocket closed while a CALL was waiting for its reply."""


class FleetError(SimError):
    """A worker process died, stalled or reported a failure, so no result can be merged."""


class ServerStartError(SimError):
    """The server under test exited early or did not become ready in time."""
