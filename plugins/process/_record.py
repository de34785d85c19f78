"""The process backend's record of an instance (what the inventory keeps), and the Properties
DescribeInstances reports for it: the process now, and what it was provisioned with.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from ..store.inventory import Record
from ._members import InstanceGroup, Snapshot, live, reap
from ._procfs import ProcessIdentity, is_running

__all__ = ["DESTROYING", "EXITED", "RUNNING", "ProcessRecord", "describe_view"]

RUNNING = "running"
EXITED = "exited"
DESTROYING = "destroying"
"""Reported by no description any more: an instance being destroyed is not described."""


class ProcessRecord(Record, kw_only=True):
    Pid: int = 0
    StartTicks: int = 0
    BootID: str = ""
    SessionID: int = 0  # 0 in records of older daemons: the session was the Init shell's pid
    Cgroup: str = ""
    CgroupsV1: list[str] = msgspec.field(default_factory=list)
    State: str = RUNNING
    ExitCode: int | None = None
    StartedAt: str = ""
    EndedAt: str | None = None
    StopGraceSeconds: float = 10.0

    @property
    def identity(self) -> ProcessIdentity:
        return ProcessIdentity(self.Pid, self.StartTicks, self.BootID)

    @property
    def group(self) -> InstanceGroup:
        cgroup = Path(self.Cgroup) if self.Cgroup else None
        return InstanceGroup(self.ID, self.identity, self.SessionID or self.Pid, cgroup)


class _View(msgspec.Struct):
    """What DescribeInstances reports as an instance's Properties."""

    pid: int
    state: str
    exit_code: int | None
    started_at: str
    ended_at: str | None
    processes: list[int]
    cgroup: str | None
    cgroups_v1: list[str]
    properties: msgspec.Raw


_VIEW_ENCODER = msgspec.json.Encoder()


def describe_view(
    record: ProcessRecord, snapshot: Snapshot, watched_pid: int | None
) -> msgspec.Raw:
    """The Properties described: the process now, and what it was provisioned with."""
    state = record.State
    if state == RUNNING and watched_pid is None and not is_running(record.identity):
        state = EXITED
    members = snapshot.members(record.group)
    reap(members, skip=watched_pid)
    view = _View(
        pid=record.Pid,
        state=state,
        exit_code=record.ExitCode,
        started_at=record.StartedAt,
        ended_at=record.EndedAt,
        processes=live(members),
        cgroup=record.Cgroup or None,
        cgroups_v1=record.CgroupsV1,
        properties=record.Properties,
    )
    return msgspec.Raw(_VIEW_ENCODER.encode(view))
