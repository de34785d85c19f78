"""Stopping an instance of the process backend: SIGTERM to every process it has (those forked
during the grace period too), SIGKILL to those left after it, and waiting until none is left.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from . import _cgroup
from ._child import Child
from ._members import InstanceGroup, Snapshot, live, reap, send
from ._procfs import ProcStat

__all__ = ["KILL_WAIT_SECONDS", "POLL_SECONDS", "members_now", "stop_members", "wait_gone"]

# The backend's logger name, from before the split.
logger = logging.getLogger("instance_rpc_plugins.process")

KILL_WAIT_SECONDS = 5.0  # after SIGKILL; only an uninterruptible sleep takes this long
POLL_SECONDS = 0.05


async def stop_members(
    instance_id: str, group: InstanceGroup, child: Child | None, grace_seconds: float
) -> None:
    """SIGTERM every process of the instance, SIGKILL those left after ``grace_seconds``;
    return once none is left (or warn, naming the survivors)."""
    known: set[tuple[int, int]] = set()
    members = await members_now(group, child, known)
    if live(members):
        send(members, signal.SIGTERM)
        terminated = {(stat.pid, stat.start_ticks) for stat in members}
        members = await wait_gone(group, child, known, grace_seconds, terminated=terminated)
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    while live(members) and time.monotonic() < deadline:
        if group.cgroup is not None:
            _cgroup.kill(group.cgroup)  # also those forked since the last look
        send(members, signal.SIGKILL)
        members = await wait_gone(group, child, known, POLL_SECONDS)
    if live(members):
        logger.warning("%s: processes %s survived SIGKILL", instance_id, live(members))


async def members_now(
    group: InstanceGroup, child: Child | None, known: set[tuple[int, int]]
) -> list[ProcStat]:
    """The instance's processes now, adding them to ``known``; those that ended and were
    re-parented to us are reaped."""
    skip = group.leader.pid if child is not None else None  # the Child reaps that one

    def look() -> list[ProcStat]:
        members = Snapshot().members(group, known)
        known.update((stat.pid, stat.start_ticks) for stat in members)
        reap(members, skip)
        return members

    return await asyncio.to_thread(look)


async def wait_gone(
    group: InstanceGroup,
    child: Child | None,
    known: set[tuple[int, int]],
    seconds: float,
    *,
    terminated: set[tuple[int, int]] | None = None,
) -> list[ProcStat]:
    """Up to ``seconds``, until no process of the instance lives; the members left.

    With ``terminated`` (the processes sent SIGTERM so far), a member forked after that
    signal was sent gets SIGTERM too: the grace period is for every process of the instance.
    """
    deadline = time.monotonic() + seconds
    while True:
        members = await members_now(group, child, known)
        if terminated is not None:
            late = [m for m in members if (m.pid, m.start_ticks) not in terminated]
            send(late, signal.SIGTERM)
            terminated.update((m.pid, m.start_ticks) for m in late)
        if not live(members) or time.monotonic() >= deadline:
            return members
        await asyncio.sleep(POLL_SECONDS)
