"""cgroup v1 hierarchies, for the ceilings a host offers only there.

A hybrid host mounts cgroup v2 (often at ``/sys/fs/cgroup/unified``) with few controllers or
none, and binds the others (``pids``, ``memory``...) to cgroup v1 hierarchies, one mount each
(``/sys/fs/cgroup/pids``). A controller is bound to one hierarchy at a time, so it is either in
cgroup v2's ``cgroup.controllers`` or in a v1 mount, never both. Where a ceiling's controller is
only on v1, the instance gets a cgroup of its own in that hierarchy, under the daemon's own
cgroup there (``N:CONTROLLERS:PATH`` in ``/proc/self/cgroup``): a v1 cgroup holding processes may
have children, and staying under it keeps any ceiling the daemon itself is under. These cgroups
hold ceilings only; membership and kills stay with the cgroup v2 (``plugins/_cgroup.py``).
Source: the kernel's Documentation/admin-guide/cgroup-v1/cgroups.rst and cgroup-v2.rst
("Mounting").
"""

from __future__ import annotations

import errno
import logging
import os
import time
from pathlib import Path

from . import _cgroup

__all__ = ["SETTINGS", "NotUsable", "make", "mounts", "parent", "remove", "write_ceiling"]

logger = logging.getLogger("instance_rpc_plugins._cgroup_v1")

SETTINGS = {"pids": "pids.max", "memory": "memory.limit_in_bytes"}
"""The interface file of each ceiling's controller on cgroup v1."""

_SWAP = "memory.memsw.limit_in_bytes"  # memory + swap; only with swap accounting
_POLL_SECONDS = 0.02


class NotUsable(LookupError):
    """No cgroup v1 hierarchy of the controller the daemon may create cgroups in; the message
    says why (none mounted, not writable...)."""


def mounts(controller: str) -> list[tuple[str, Path]]:
    """(root within the hierarchy, mount point) of each v1 mount holding ``controller``."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        # mount ID, parent, major:minor, root, mount point, options... " - " fstype source super
        before, _, after = line.partition(" - ")
        fields, rest = before.split(" "), after.split(" ")
        if len(rest) >= 3 and rest[0] == "cgroup" and controller in rest[2].split(","):
            found.append((fields[3], Path(fields[4])))
    return found


def _own_path(controller: str) -> str | None:
    """The daemon's cgroup in the v1 hierarchy of ``controller`` (``/proc/self/cgroup``)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    return None


def parent(controller: str) -> Path:
    """The daemon's own cgroup directory in the v1 hierarchy of ``controller``, where it may
    create cgroups; raises :class:`NotUsable` naming why not."""
    found, own = mounts(controller), _own_path(controller)
    if not found:
        raise NotUsable(f"no cgroup v1 {controller!r} hierarchy is mounted")
    if own is None:
        raise NotUsable(f"/proc/self/cgroup names no cgroup v1 {controller!r} hierarchy")
    for root, mount_point in found:
        inside = os.path.relpath(own, root)
        if inside == ".." or inside.startswith("../"):
            continue  # this mount shows another part of the hierarchy
        directory = mount_point if inside == "." else mount_point / inside
        if not (directory / "cgroup.procs").is_file() or not os.access(directory, os.W_OK):
            raise NotUsable(f"the daemon may not create cgroups in {directory}")
        return directory
    raise NotUsable(f"the daemon's {controller!r} cgroup {own} is not under any mount of it")


def make(parent_dir: Path, instance_id: str) -> Path:
    """Create ``parent_dir/instance-rpc.<ID>``; raises ``OSError``."""
    path = parent_dir / f"instance-rpc.{instance_id}"
    path.mkdir()
    return path


def write_ceiling(cgroup: Path, controller: str, value: str) -> None:
    """Write the ceiling of ``controller`` into the new (empty) v1 ``cgroup``; for ``memory``
    the memory + swap ceiling too, where swap is accounted, so swap does not extend it.
    Raises ``OSError``."""
    _cgroup.write(cgroup, SETTINGS[controller], value)
    if controller == "memory" and (cgroup / _SWAP).exists():
        _cgroup.write(cgroup, _SWAP, value)  # after memory.limit_in_bytes: memsw >= limit


def remove(cgroup: Path, seconds: float) -> None:
    """Remove the v1 ``cgroup`` once its processes are gone, waiting up to ``seconds`` for
    the last ones to leave (a killed process leaves as it exits); one still holding a process
    then is logged and left."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            cgroup.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() >= deadline:
                logger.warning(
                    "cannot remove cgroup %s (processes %s): %s",
                    cgroup,
                    _cgroup.procs(cgroup),
                    exc.strerror or exc,
                )
                return
        time.sleep(_POLL_SECONDS)
