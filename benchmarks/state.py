"""Where the benchmark keeps the file and process backends' state directories.

By default under the state root ``serve --plugin file`` uses (``$XDG_STATE_HOME/instance-rpc``,
else ``~/.local/state/instance-rpc``), not in ``/tmp``. It matters for the durable-writes
figures: every Provision creates a file, and on ext4 without a journal creating a file skips
each free inode of the directory's block group that was deleted in the last minute (the
kernel's ``recently_deleted``: 60 s, 360 s while the inode table is not yet written back).
``/tmp``'s group is where test runs create and delete files all day: on the machine the
figures in docs/performance.md come from, a file creation there cost about 1,100 µs of CPU,
against 35 µs in a directory nothing had deleted from in the last minute, and the figure measured
that churn instead of group commit.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from instance_rpc_plugins.store.documents import default_state_dir

__all__ = [
    "default_state_root",
    "filesystem_of",
    "prepare_state_root",
    "state_directory",
    "state_root",
]


def default_state_root() -> Path:
    """``$XDG_STATE_HOME/instance-rpc``, else ``~/.local/state/instance-rpc``."""
    return default_state_dir("bench").parent


def state_root(root: str | None) -> Path:
    """``root`` (``--state-root``) as an absolute path; ``None``: :func:`default_state_root`."""
    return (Path(root) if root is not None else default_state_root()).absolute()


def prepare_state_root(root: str | None) -> Path:
    """:func:`state_root` of ``root``, made if missing. Raises ``OSError`` (with the path as its
    ``filename``) when it cannot be made or is not a directory this process may write in."""
    path = state_root(root)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "not writable", str(path))
    return path


@contextmanager
def state_directory(root: str | None) -> Iterator[Path]:
    """A fresh directory in :func:`prepare_state_root` of ``root``, removed with everything in
    it on exit."""
    parent = prepare_state_root(root)
    with tempfile.TemporaryDirectory(prefix="bench-", dir=parent) as directory:
        yield Path(directory)


def filesystem_of(path: str | os.PathLike[str]) -> str:
    """The type of the file system ``path`` is on (``ext4``, ``tmpfs``...), from
    ``/proc/self/mounts``; ``unknown`` where that cannot be read."""
    target = os.path.realpath(path)
    found, longest = "unknown", -1
    try:
        with open("/proc/self/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) < 3:
                    continue
                mount_point = fields[1].replace("\\040", " ")
                inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
                if inside and len(mount_point) > longest:
                    found, longest = fields[2], len(mount_point)
    except OSError:
        pass
    return found
