"""``syncfs(2)``: one call that makes every file written so far in a filesystem durable.

Used by :meth:`~plugins._store.DocumentStore.write_many` in place of one ``fsync`` per file:
each ``fsync`` ends with a flush of the disk's write cache, so a batch of 100 documents cost
100 flushes; ``syncfs`` writes them all and flushes once.

Sound only where ``syncfs`` reports write-back errors: Linux 5.8 and later return the first
error any file of the filesystem hit since the descriptor passed was opened (the superblock's
error sequence, as ``fsync`` does per file). Before 5.8 it returned 0 even when write-back
failed, so there, and where libc has no ``syncfs``, :func:`syncfs_usable` is false and the
store syncs each file instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import itertools
import os
import sys
from collections.abc import Callable

__all__ = ["syncfs", "syncfs_usable"]

_REPORTS_ERRORS_SINCE = (5, 8)


def _kernel_release(release: str) -> tuple[int, int]:
    """``(major, minor)`` of a release such as ``6.18.44-fc``."""
    major, _, rest = release.partition(".")
    minor = "".join(itertools.takewhile(str.isdigit, rest))
    return int(major or 0), int(minor or 0)


@functools.cache
def _libc_syncfs() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    if _kernel_release(os.uname().release) < _REPORTS_ERRORS_SINCE:
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        function: Callable[[int], int] = libc.syncfs
    except (OSError, AttributeError):
        return None
    return function


def syncfs_usable() -> bool:
    """Whether :func:`syncfs` is available and reports write-back errors (see the module)."""
    return _libc_syncfs() is not None


def syncfs(fd: int) -> None:
    """Sync the filesystem holding ``fd``; raise ``OSError`` for a write-back error since
    ``fd`` was opened. Only when :func:`syncfs_usable`."""
    function = _libc_syncfs()
    if function is None:
        raise OSError("syncfs is not usable here")
    if function(fd) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"syncfs: {os.strerror(errno)}")
