"""A cgroup v2 per instance, where the daemon may create one: exact membership, and a kill
that no fork escapes.

The daemon's own cgroup (``0::PATH`` in ``/proc/self/cgroup``, under the ``cgroup2`` mount found
in ``/proc/self/mountinfo``) gets a child per instance. A process enters it by writing ``0`` to
its ``cgroup.procs`` before it runs anything (see :func:`enter_command`), so every process the
instance starts is born inside. ``cgroup.kill`` (Linux 5.14) kills them all at once; without it
each member is signalled. Every function fails soft: no usable cgroup means ``None`` or
``False``, and the caller falls back to sessions (see ``plugins/_members.py``).
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

__all__ = ["enter_command", "kill", "make_instance_cgroup", "procs", "remove", "usable_parent"]

logger = logging.getLogger(__name__)


def _mount_point() -> Path | None:
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        # mount ID, parent, major:minor, root, mount point, options... " - " fstype source ...
        before, _, after = line.partition(" - ")
        if after.split(" ", 1)[0] == "cgroup2" and before.split(" ")[3] == "/":
            return Path(before.split(" ")[4])
    return None


def _own_path() -> str | None:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("0::"):
            return line[3:]
    return None


def usable_parent() -> Path | None:
    """The daemon's own cgroup v2 directory if it may create cgroups there, else ``None``."""
    mount, own = _mount_point(), _own_path()
    if mount is None or own is None:
        return None
    directory = mount / own.lstrip("/")
    if not (directory / "cgroup.procs").is_file() or not os.access(directory, os.W_OK):
        return None
    return directory


def make_instance_cgroup(parent: Path, instance_id: str) -> Path | None:
    """Create ``parent/instance-rpc.<ID>``; ``None`` (logged) if the kernel refuses."""
    path = parent / f"instance-rpc.{instance_id}"
    try:
        path.mkdir()
    except OSError as exc:
        logger.warning("no cgroup for %s (%s): falling back to its session", instance_id, exc)
        return None
    return path


def enter_command(cgroup: Path, init: str) -> list[str]:
    """``/bin/sh -c INIT`` preceded by the shell moving itself into ``cgroup``.

    The shell writes ``0`` (itself) into ``cgroup.procs`` and then ``exec``s the Init shell: same
    pid, same start time, and nothing forked before the move.
    """
    enter = 'echo 0 >"$0" 2>/dev/null; exec /bin/sh -c "$1"'
    return ["/bin/sh", "-c", enter, str(cgroup / "cgroup.procs"), init]


def procs(cgroup: Path) -> list[int]:
    """The pids in ``cgroup`` (empty when it is gone)."""
    try:
        text = (cgroup / "cgroup.procs").read_text()
    except OSError:
        return []
    return [int(line) for line in text.split()]


def kill(cgroup: Path) -> bool:
    """SIGKILL every process in ``cgroup`` and its descendants; False without ``cgroup.kill``."""
    try:
        (cgroup / "cgroup.kill").write_text("1")
    except OSError:
        return False
    return True


def remove(cgroup: Path) -> None:
    """Remove the (empty) cgroup; one still holding a process is logged and left."""
    with contextlib.suppress(FileNotFoundError):
        try:
            cgroup.rmdir()
        except OSError as exc:
            logger.warning("cannot remove cgroup %s: %s", cgroup, exc)
