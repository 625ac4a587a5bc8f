"""CPU time and resident memory of a process tree, read from Linux `/proc`.

`/proc/<pid>/stat` fields (proc(5)): 14 utime, 15 stime, 16 cutime, 17 cstime, in clock ticks;
`utime`/`stime` cover every thread of the process, `cutime`/`cstime` its reaped children.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class _Stat:
    ppid: int
    own_ticks: int
    reaped_children_ticks: int


def _read_stat(pid: int) -> _Stat | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) is in parentheses and may contain spaces and ')'.
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state), so field n is fields[n - 3].
    return _Stat(
        ppid=int(fields[1]),
        own_ticks=int(fields[11]) + int(fields[12]),
        reaped_children_ticks=int(fields[13]) + int(fields[14]),
    )


def descendants(pid: int) -> list[int]:
    """`pid` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        stat = _read_stat(int(entry.name))
        if stat is not None:
            children.setdefault(stat.ppid, []).append(int(entry.name))
    tree = [pid]
    for parent in tree:  # the list grows while we walk it: breadth first
        tree.extend(children.get(parent, []))
    return tree


def tree_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of the tree rooted at `pid` so far.

    Counts every live process of the tree and the children each one has reaped; a difference of
    two samples is the tree's CPU time between them.
    """
    ticks = 0
    for member in descendants(pid):
        stat = _read_stat(member)
        if stat is not None:
            ticks += stat.own_ticks + stat.reaped_children_ticks
    return ticks / _TICKS_PER_SECOND


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (`VmRSS` in `/proc/<pid>/status`); 0 if it is gone."""
    try:
        text = (PROC / str(pid) / "status").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def tree_rss_bytes(pid: int) -> int:
    """Sum of the resident set sizes of the tree rooted at `pid` (shared pages count twice)."""
    return sum(rss_bytes(member) for member in descendants(pid))
