"""A cgroup v2 per instance, where the daemon may create one: exact membership, and a kill
that no fork escapes.

The daemon's own cgroup (``0::PATH`` in ``/proc/self/cgroup``, under the ``cgroup2`` mount found
in ``/proc/self/mountinfo``), or a parent the operator names, gets a child per instance. The
Init's shell waits until the daemon has moved it in (see :func:`enter_command`), so every
process the instance starts is born inside, and it may run as a user who could not move itself.
``cgroup.kill`` (Linux 5.14) kills them all at once; without it each member is signalled. Finding
and making cgroups fails soft: no usable cgroup means ``None`` or ``False``, and the caller falls
back to sessions (see ``plugins/_members.py``); :func:`move`, :func:`enable` and :func:`write`
raise ``OSError``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

__all__ = [
    "GO",
    "controllers",
    "enable",
    "enter_command",
    "kill",
    "make_instance_cgroup",
    "mount_point",
    "move",
    "procs",
    "remove",
    "usable_parent",
    "write",
]

logger = logging.getLogger(__name__)


def mount_point() -> Path | None:
    """Where the cgroup v2 hierarchy is mounted (its root, as this process sees it)."""
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


def usable_parent(given: Path | None = None) -> Path | None:
    """``given``, else the daemon's own cgroup v2 directory, if it is a cgroup v2 directory
    the daemon may create cgroups in; else ``None``."""
    directory = given
    if directory is None:
        mount, own = mount_point(), _own_path()
        if mount is None or own is None:
            return None
        directory = mount / own.lstrip("/")
    if not (directory / "cgroup.controllers").is_file() or not os.access(directory, os.W_OK):
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


GO = b"go\n"
"""What the daemon writes to the waiting shell's standard input once it is in its cgroup."""


def enter_command(init: str) -> list[str]:
    """``/bin/sh -c INIT``, preceded by a shell that waits on its standard input (a pipe) for
    :data:`GO`, which the daemon writes once it has moved the shell into the instance's cgroup
    (:func:`move`); the shell then ``exec``s the Init shell with ``/dev/null`` as its input:
    same pid, same start time, and nothing forked before the move. Anything but ``GO`` (the
    daemon died first) ends it with 125 and runs nothing.
    """
    wait = 'read -r go; [ "$go" = go ] || exit 125; exec /bin/sh -c "$1" </dev/null'
    return ["/bin/sh", "-c", wait, "sh", init]


def move(cgroup: Path, pid: int) -> None:
    """Move process ``pid`` into ``cgroup``; raises ``OSError``."""
    (cgroup / "cgroup.procs").write_text(str(pid))


def controllers(cgroup: Path, which: str = "cgroup.controllers") -> set[str]:
    """The controllers ``cgroup`` offers (``cgroup.controllers``) or gives its children
    (``which="cgroup.subtree_control"``); empty when the file cannot be read."""
    try:
        return set((cgroup / which).read_text().split())
    except OSError:
        return set()


def enable(cgroup: Path, controller: str) -> None:
    """Give ``controller`` to the children of ``cgroup`` (``+NAME`` to its
    ``cgroup.subtree_control``); raises ``OSError`` (``EBUSY``: ``cgroup`` holds processes)."""
    (cgroup / "cgroup.subtree_control").write_text(f"+{controller}")


def write(cgroup: Path, name: str, value: str) -> None:
    """Write ``value`` to the interface file ``name`` of ``cgroup``; raises ``OSError``."""
    (cgroup / name).write_text(value)


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
