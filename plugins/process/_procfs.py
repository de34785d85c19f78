"""What Linux's ``/proc`` says about a process: enough to tell a process from a recycled pid.

A pid is reused once its process is gone, so a pid alone does not name a process. The start
time (``/proc/<pid>/stat`` field 22, clock ticks since boot) together with the boot ID does.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

__all__ = [
    "ProcStat",
    "ProcessIdentity",
    "boot_id",
    "environ_value",
    "identity_of",
    "is_running",
    "scan",
    "stat_of",
    "still_holds",
]

_PROC = Path("/proc")


class ProcessIdentity(NamedTuple):
    """Who a pid is: its start time in clock ticks since boot, and the boot."""

    pid: int
    start_ticks: int
    boot_id: str


class ProcStat(NamedTuple):
    """A process as ``/proc/<pid>/stat`` shows it (fields 1, 3, 4, 5, 6 and 22)."""

    pid: int
    state: str
    ppid: int
    pgrp: int
    session: int
    start_ticks: int

    @property
    def ended(self) -> bool:
        """A zombie (or a dying task): it has ended and waits to be reaped."""
        return self.state in ("Z", "X", "x")


def boot_id() -> str:
    """This boot's random ID (empty where ``/proc`` does not offer it)."""
    try:
        return (_PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except OSError:
        return ""


def stat_of(pid: int) -> ProcStat | None:
    """What ``/proc/<pid>/stat`` says now, or ``None`` if there is no such process."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) is in parentheses and may itself hold spaces and ')'.
    fields = text[text.rindex(")") + 2 :].split()
    return ProcStat(
        pid=pid,
        state=fields[0],
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        session=int(fields[3]),
        start_ticks=int(fields[19]),
    )


def scan() -> list[ProcStat]:
    """Every process (thread group) in ``/proc`` now; those that end meanwhile are left out."""
    found: list[ProcStat] = []
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            stat = stat_of(int(entry.name))
            if stat is not None:
                found.append(stat)
    return found


def environ_value(pid: int, name: str) -> str | None:
    """The value of ``name`` in the environment ``pid`` was started with.

    ``None`` when it is not set or cannot be read (the process ended, is a zombie, or is not
    ours to read).
    """
    try:
        environ = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    prefix = name.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None


def identity_of(pid: int) -> ProcessIdentity | None:
    """The identity of the process now holding ``pid``, or ``None`` if there is none."""
    stat = stat_of(pid)
    if stat is None:
        return None
    return ProcessIdentity(pid, stat.start_ticks, boot_id())


def _same(identity: ProcessIdentity) -> ProcStat | None:
    if identity.pid <= 0 or identity.start_ticks <= 0 or identity.boot_id != boot_id():
        return None
    stat = stat_of(identity.pid)
    return stat if stat is not None and stat.start_ticks == identity.start_ticks else None


def still_holds(identity: ProcessIdentity) -> bool:
    """True while ``identity.pid`` belongs to that very process, running or a zombie."""
    return _same(identity) is not None


def is_running(identity: ProcessIdentity) -> bool:
    """True if the very process ``identity`` names still runs (a zombie has ended)."""
    stat = _same(identity)
    return stat is not None and not stat.ended
