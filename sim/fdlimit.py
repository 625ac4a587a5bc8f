"""Raise the open-file limit so one process can hold thousands of sockets."""

from __future__ import annotations

import resource


def raise_open_file_limit(at_least: int = 0) -> int:
    """Lift the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force.

    When the hard limit is below ``at_least``, both are raised to ``at_least`` if the process
    may (root, or CAP_SYS_RESOURCE; up to the kernel's fs.nr_open), else left as they are.
    Child processes inherit the limit, so calling this before starting a server under test
    lifts its limit too.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < at_least:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (at_least, at_least))
        except (ValueError, OSError):
            pass
        else:
            return at_least
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            return soft
        return hard
    return soft
