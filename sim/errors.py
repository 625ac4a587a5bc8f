"""Errors raised by the simulator and the benchmark harness.

Tree::

    SimError
    ├── RemoteTargetRefused      the target is not a loopback address and remote targets are off
    └── ServerStartError         the server under test exited or never became ready
"""

from __future__ import annotations


class SimError(Exception):
    """Root of every error raised by `sim`."""


class RemoteTargetRefused(SimError):
    """The target host is not loopback and `allow_remote` was not given.

    A load run can saturate a server; aiming it at another machine must be a deliberate choice.
    """


class ServerStartError(SimError):
    """The server under test exited early or did not become ready in time."""
