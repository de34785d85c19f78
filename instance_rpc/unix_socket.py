"""Claiming a Unix socket path: never over a live daemon's socket, never over what is not a
socket; the directories made for it, and a lock so that two daemons starting at once cannot both
claim it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import shutil
import socket
import stat
import sys
from pathlib import Path

from .errors import InstanceRPCError

__all__ = [
    "AddressInUse",
    "PathLock",
    "claim_path",
    "make_parents",
    "probe_socket",
    "remove_directories",
    "set_socket_owner_and_mode",
]

# The server's logger name, which log configurations filter on, from before the split.
logger = logging.getLogger("instance_rpc.server")


class AddressInUse(InstanceRPCError):
    """The socket path is taken: a live daemon answers there, or it is not a socket."""


def probe_socket(path: Path) -> bool:
    """True if a process accepts connections on the Unix socket at ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            return False
        except OSError as exc:
            logger.debug("probe of %s: %s", path, exc)
            return False
        return True


def claim_path(path: Path) -> None:
    """Make ``path`` free to bind, or raise :class:`AddressInUse` leaving it untouched."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise AddressInUse(f"{path} exists and is not a socket; refusing to replace it")
    if probe_socket(path):
        raise AddressInUse(f"another daemon is already listening on {path}")
    logger.warning("removing stale socket %s", path)
    path.unlink(missing_ok=True)


def make_parents(directory: Path) -> list[Path]:
    """Create ``directory`` and missing parents (mode 0700); return those created, deepest first."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        if directory.parent == directory:
            break
        directory = directory.parent
    created: list[Path] = []
    try:
        for path in reversed(missing):
            path.mkdir(mode=0o700)
            created.insert(0, path)
    except OSError:
        remove_directories(created)
        raise
    return created


def remove_directories(directories: list[Path]) -> None:
    """Remove the (empty) directories we created, deepest first; one in use is left."""
    for directory in directories:
        with contextlib.suppress(OSError):
            directory.rmdir()


def set_socket_owner_and_mode(
    path: Path, identity: tuple[int, int] | None, group: str | int | None, mode: int
) -> None:
    """Give the socket we bound at ``path`` (``identity``: its device and inode) to ``group``
    (a name or number; ``None``: keep it) and ``mode``, never following a link: whatever else is
    at ``path`` by now (a link planted in the directory) is refused with ``OSError``, untouched.
    Raises ``LookupError`` for an unknown group."""
    fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        status = os.fstat(fd)
        if not stat.S_ISSOCK(status.st_mode) or (status.st_dev, status.st_ino) != identity:
            raise OSError(errno.EEXIST, f"{path} was replaced after it was bound")
        # The descriptor's /proc link names the inode itself (glibc's fchmodat does the same).
        through_fd = f"/proc/self/fd/{fd}"
        if group is not None:
            numeric = isinstance(group, str) and group.isdigit()
            shutil.chown(through_fd, group=int(group) if numeric else group)
        os.chmod(through_fd, mode)
    finally:
        os.close(fd)


class PathLock:
    """Held while a daemon owns a socket path, so two daemons starting at once cannot both claim it.

    An abstract Unix socket (Linux): no file to leave behind, released by the kernel when the
    process dies, even by SIGKILL. Where abstract sockets do not exist the probe alone guards.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:40]
        self._name = f"\0instance-rpc-lock-{digest}"
        self._socket: socket.socket | None = None

    def acquire(self) -> None:
        if not sys.platform.startswith("linux"):
            return
        lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            lock.bind(self._name)
        except OSError as exc:
            lock.close()
            if exc.errno == errno.EADDRINUSE:
                raise AddressInUse(f"another daemon is already serving {self._path}") from None
            raise
        self._socket = lock

    def release(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
