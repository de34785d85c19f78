"""What the kernel knows of a process: CPU time used and resident memory (Linux ``/proc``)."""

from __future__ import annotations

import os

__all__ = ["cpu_seconds", "memory_kib"]

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user plus system) the process has used so far, all its threads together.

    Read from the scheduler's nanosecond counters (``/proc/PID/task/*/schedstat``) where the
    kernel keeps them, else from ``utime + stime`` in ``/proc/PID/stat`` (10 ms ticks).
    """
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        return sum(_thread_ns(f"/proc/{pid}/task/{task}") for task in tasks) / 1e9
    except OSError:
        return _ticks(pid)


def _thread_ns(task_dir: str) -> int:
    with open(f"{task_dir}/schedstat", encoding="ascii") as schedstat:
        return int(schedstat.read().split()[0])


def _ticks(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        text = stat.read()
    # The command name (field 2) may hold spaces; the fields after it are plain numbers.
    fields = text[text.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _TICKS_PER_SECOND


def memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` (resident now) and ``VmHWM`` (peak resident) in KiB."""
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return found
