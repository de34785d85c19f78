"""Which processes belong to an instance of the ``process`` backend, and signalling them safely.

An instance's Init shell leads a session of its own (session ID = its pid). A process belongs to
the instance if, on this boot and started no earlier than the Init shell, it is

- in the instance's cgroup (``plugins/_cgroup.py``), when it has one; or
- marked: its environment holds ``INSTANCE_RPC_INSTANCE=<ID>``, which the Init shell is given
  and every descendant inherits unless it replaces its environment; or
- in the instance's session while that session is known to still be the instance's: its leader
  (the Init shell, recognised by pid and start time) still exists, or a marked process is in it.
  A session ID is a pid, and Linux does not reuse a pid while a process is in the session it
  names; only once the session was empty could another process take the number.

A process that left the session (``setsid``), dropped the marker from its environment and has no
cgroup around it is not recognised: the escape the docs name. Signals go through a pidfd
opened on the pid and checked against the start time seen, so a pid recycled in between is never
hit.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import NamedTuple

from . import _cgroup
from ._procfs import ProcessIdentity, ProcStat, boot_id, environ_value, scan, stat_of, still_holds

__all__ = [
    "MARKER_VARIABLE",
    "InstanceGroup",
    "Snapshot",
    "enable_subreaper",
    "live",
    "reap",
    "send",
]

logger = logging.getLogger(__name__)

MARKER_VARIABLE = "INSTANCE_RPC_INSTANCE"
_PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


class InstanceGroup(NamedTuple):
    """What identifies an instance's processes, as recorded when it started."""

    instance_id: str
    leader: ProcessIdentity
    session: int
    cgroup: Path | None


class Snapshot:
    """The processes of this boot at one moment, asked about several instances."""

    def __init__(self) -> None:
        self._me = os.getpid()
        self._boot = boot_id()
        self._table = [stat for stat in scan() if stat.pid != self._me]
        self._markers: dict[int, str | None] = {}

    def _marker_of(self, stat: ProcStat) -> str | None:
        if stat.pid not in self._markers:
            value = None if stat.ended else environ_value(stat.pid, MARKER_VARIABLE)
            self._markers[stat.pid] = value
        return self._markers[stat.pid]

    def orphans(self) -> list[int]:
        """Live children of this process (as the subreaper, orphans re-parented to it too)."""
        return [stat.pid for stat in self._table if stat.ppid == self._me and not stat.ended]

    def members(
        self, group: InstanceGroup, known: Collection[tuple[int, int]] = ()
    ) -> list[ProcStat]:
        """The instance's processes, zombies included (they are reaped, not signalled).

        ``known``: ``(pid, start ticks)`` of processes found to be members before; they stay
        members. An exiting process no longer shows its environment (its memory is released
        before it becomes a zombie, which for a large process takes a while) nor, once ended,
        its cgroup, so this is how it is still known. A zombie child of this process in the
        instance's session is a member too: only a descendant of the daemon's own processes
        becomes its child.
        """
        leader = group.leader
        if leader.boot_id != self._boot or leader.start_ticks <= 0:
            return []  # started on another boot: nothing of it survives a reboot
        in_cgroup = set(_cgroup.procs(group.cgroup)) if group.cgroup is not None else set()
        candidates = [stat for stat in self._table if stat.start_ticks >= leader.start_ticks]
        marked = {stat.pid for stat in candidates if self._marker_of(stat) == group.instance_id}
        session_ours = still_holds(leader) or any(
            stat.session == group.session for stat in candidates if stat.pid in marked
        )
        return sorted(
            (
                stat
                for stat in candidates
                if stat.pid in in_cgroup
                or stat.pid in marked
                or (session_ours and stat.session == group.session)
                or (stat.pid, stat.start_ticks) in known
                or (stat.ended and stat.ppid == self._me and stat.session == group.session)
            ),
            key=lambda stat: stat.pid,
        )


def live(members: Iterable[ProcStat]) -> list[int]:
    """The pids of the members that have not ended."""
    return [stat.pid for stat in members if not stat.ended]


def send(members: Iterable[ProcStat], signum: signal.Signals) -> None:
    """Signal each live member that still is the process seen (same pid and start time)."""
    for stat in members:
        if not stat.ended:
            _send_one(stat, signum)


def _send_one(stat: ProcStat, signum: signal.Signals) -> None:
    try:
        pidfd = os.pidfd_open(stat.pid)
    except ProcessLookupError:
        return
    except (AttributeError, OSError):
        pidfd = -1  # no pidfds here: check, then signal by pid (a far smaller window)
    try:
        now = stat_of(stat.pid)
        if now is None or now.start_ticks != stat.start_ticks:
            return  # ended, and the pid is another process's now
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if pidfd >= 0:
                signal.pidfd_send_signal(pidfd, signum)
            else:
                os.kill(stat.pid, signum)
    finally:
        if pidfd >= 0:
            os.close(pidfd)


def reap(members: Iterable[ProcStat], skip: int | None = None) -> None:
    """Reap the ended members that are this process's children (re-parented to it as the
    subreaper), except ``skip`` (a child that another part of the daemon waits for)."""
    me = os.getpid()
    for stat in members:
        if stat.ended and stat.ppid == me and stat.pid != skip:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(stat.pid, os.WNOHANG)


def enable_subreaper() -> bool:
    """Make this process the subreaper of its descendants (``PR_SET_CHILD_SUBREAPER``,
    prctl(2)): an instance's orphaned grandchildren then become its children, not init's, so
    their pids stay held until it reaps them. False where the kernel refuses."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False
