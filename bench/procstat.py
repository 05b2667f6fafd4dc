"""CPU time and memory of a process and its children, read from /proc (Linux only)."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses


def tree(pid: int) -> list[int]:
    """`pid` and its live descendants (uvicorn workers when --workers > 1)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents.setdefault(int(_stat_fields(int(entry))[1]), []).append(int(entry))
            except (OSError, ValueError, IndexError):
                continue  # it exited while we looked
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of `pid` and its live descendants, all threads included."""
    total = 0
    for member in tree(pid):
        try:
            fields = _stat_fields(member)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / TICK


def _status_kb(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def rss_mb(pid: int) -> float:
    """Current resident memory of the largest process in the tree (one worker's RSS)."""
    return max((_status_kb(p, "VmRSS") for p in tree(pid)), default=0) / 1024


def peak_rss_mb(pid: int) -> float:
    """VmHWM of the largest process in the tree: the peak since the last `reset_peak`."""
    return max((_status_kb(p, "VmHWM") for p in tree(pid)), default=0) / 1024


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (writing 5 to clear_refs); False where the kernel refuses."""
    ok = True
    for member in tree(pid):
        try:
            Path(f"/proc/{member}/clear_refs").write_text("5")
        except OSError:
            ok = False
    return ok


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy (steal included: time the hypervisor gave to others) since boot."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICK
