"""How this pod's actor system is set up: on its own address only, short membership periods.

Thespian binds every actor's socket on all interfaces and unpickles what arrives, so anyone who can
reach those ports can run code in the node. Its actors here bind this node's own address instead
(``cluster_host``: loopback alone, or the pod IP that only voltmesh pods may reach, see
``k8s/networkpolicy.yaml``). Applied in the launcher before the actor system starts: its processes
are forked from it and inherit the setting.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from datetime import timedelta
from typing import Any

from thespian.system.admin import convention
from thespian.system.transport import IPBase

from voltmesh.config import Settings

REREGISTRATION_PERIOD = timedelta(seconds=3)
"""A node that joined re-registers with the leader this often; three misses and it is gone, so a
dead pod leaves the convention within 10 s."""

_original_init = IPBase.IPActorAddress.__init__


def _bind_own_address(self: Any, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    if self.bindname[0] == "":
        self.bindname = (self.sockname[0], self.bindname[1])


PR_SET_PDEATHSIG = 1
"""prctl option: the signal this process gets when its parent dies."""
PR_SET_CHILD_SUBREAPER = 36
"""prctl option: orphans below this process are re-parented to it, not to init."""


def prctl(option: int, value: int) -> None:
    """Linux's prctl(2) for the node's processes; elsewhere (or refused) nothing happens."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(option, value)


def prepare(settings: Settings) -> dict[str, Any]:
    """Set the process up for the actor system and return its capabilities."""
    os.environ["THESPIAN_BASE_IPADDR"] = settings.cluster_host
    IPBase.IPActorAddress.__init__ = _bind_own_address
    convention.CONVENTION_REREGISTRATION_PERIOD = REREGISTRATION_PERIOD
    capabilities: dict[str, Any] = {
        "Admin Port": settings.cluster_port,
        "voltmesh node": settings.node_name,
    }
    if settings.leader is not None:
        capabilities["Convention Address.IPv4"] = settings.leader
    return capabilities


def actor_address_text(address: Any) -> str:
    """host:port of a Thespian actor address (what other members send to)."""
    host, port = address.addressDetails.sockname[:2]
    return f"{host}:{port}"


def actor_address(text: str) -> Any:
    """The Thespian address of host:port."""
    from thespian.system.transport.TCPTransport import TCPTransport

    return TCPTransport.getAddressFromString(text)


def logging_config(level: str) -> dict[str, Any]:
    """Thespian's logger process: the actors' records on standard error, as the shards write them."""
    return {
        "version": 1,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "plain", "level": level}
        },
        "root": {"handlers": ["stderr"], "level": level},
    }
