from __future__ import annotations

import os
import time

from sim.procstat import descendants, rss_bytes, tree_cpu_seconds, tree_rss_bytes


def test_cpu_time_of_this_process_grows_with_work() -> None:
    pid = os.getpid()
    before = tree_cpu_seconds(pid)
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    # Clock ticks are 10 ms; 50 ms of work shows as at least 30 ms.
    assert tree_cpu_seconds(pid) - before >= 0.03


def test_rss_of_this_process() -> None:
    pid = os.getpid()
    own = rss_bytes(pid)
    assert own > 1024 * 1024
    # The process may grow or shrink a little between the two reads.
    assert tree_rss_bytes(pid) >= own * 0.9
    assert descendants(pid)[0] == pid


def test_a_vanished_process_reads_as_zero() -> None:
    gone = 2**22 + 12345  # above the default pid_max
    assert rss_bytes(gone) == 0
    assert tree_cpu_seconds(gone) == 0.0
