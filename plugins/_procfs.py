"""What Linux's ``/proc`` says about a process: enough to tell a process from a recycled pid.

A pid is reused once its process is gone, so a pid alone does not name a process. The start
time (``/proc/<pid>/stat`` field 22, clock ticks since boot) together with the boot ID does.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

__all__ = ["ProcessIdentity", "boot_id", "identity_of", "is_running", "still_holds"]

_PROC = Path("/proc")


class ProcessIdentity(NamedTuple):
    """Who a pid is: its start time in clock ticks since boot, and the boot."""

    pid: int
    start_ticks: int
    boot_id: str


class _Stat(NamedTuple):
    state: str
    start_ticks: int


def boot_id() -> str:
    """This boot's random ID (empty where ``/proc`` does not offer it)."""
    try:
        return (_PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except OSError:
        return ""


def _stat(pid: int) -> _Stat | None:
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) is in parentheses and may itself hold spaces and ')'.
    fields = text[text.rindex(")") + 2 :].split()
    return _Stat(state=fields[0], start_ticks=int(fields[19]))


def identity_of(pid: int) -> ProcessIdentity | None:
    """The identity of the process now holding ``pid``, or ``None`` if there is none."""
    stat = _stat(pid)
    if stat is None:
        return None
    return ProcessIdentity(pid, stat.start_ticks, boot_id())


def _same(identity: ProcessIdentity) -> _Stat | None:
    if identity.pid <= 0 or identity.start_ticks <= 0 or identity.boot_id != boot_id():
        return None
    stat = _stat(identity.pid)
    return stat if stat is not None and stat.start_ticks == identity.start_ticks else None


def still_holds(identity: ProcessIdentity) -> bool:
    """True while ``identity.pid`` belongs to that very process, running or a zombie."""
    return _same(identity) is not None


def is_running(identity: ProcessIdentity) -> bool:
    """True if the very process ``identity`` names still runs (a zombie has ended)."""
    stat = _same(identity)
    return stat is not None and stat.state not in ("Z", "X", "x")
