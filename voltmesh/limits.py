"""The open-file limit of the node: every charger holds a socket, and the soft limit that a shell or
a container runtime starts a process with (often 1,024) is far below what one node serves."""

from __future__ import annotations

import logging
import resource

log = logging.getLogger(__name__)

# Linux refuses a soft limit above fs.nr_open even when the hard limit is "unlimited".
_UNLIMITED_CAP = 1 << 20


def raise_open_file_limit() -> tuple[int, int]:
    """Lift the soft RLIMIT_NOFILE to the hard limit and log both; returns (soft, hard) in force.

    Call once at start, before listening. A limit that cannot be raised is logged and kept: the
    node still serves as many chargers as it allows, and refuses the rest at accept."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard, _UNLIMITED_CAP) if hard == resource.RLIM_INFINITY else hard
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("open-file limit kept at %d (hard %d): %s", soft, hard, exc)
            return soft, hard
        log.info("open-file limit raised from %d to %d (hard limit %d)", soft, target, hard)
        return target, hard
    log.info("open-file limit %d (hard limit %d)", soft, hard)
    return soft, hard


def charger_capacity(soft_limit: int) -> int:
    """How many OCPP connections a process with ``soft_limit`` descriptors takes: the rest stay free
    for the stores, the listeners, the API's clients and probes, and the brief accept of a refused
    connection (a tenth, at least 64 and at most 1,024). A shard process holds about 40 before its
    first charger: its actor system's sockets and pipes, the stores' files, the event loop's."""
    reserve = max(64, min(1024, soft_limit // 10))
    return max(1, soft_limit - reserve)
