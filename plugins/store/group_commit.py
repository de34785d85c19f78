"""Group commit: one ``fsync`` of a directory makes many renames in it durable at once.

A rename is durable once the directory holding it has been synced. Writers that renamed a
document call :meth:`DirectorySync.wait_durable`; the first of them to find no sync under way
leads: it syncs the directory for every rename registered so far while the others wait, then
wakes them. A writer whose rename came after a sync began waits for the next one, which one of
the waiting writers leads. So each writer returns only after a sync that began after its rename
finished, and a writer's return is the acknowledgment that its document survives a crash.

A failed sync acknowledges no one: its leader raises, and a waiting writer leads a fresh sync.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["DirectorySync", "fsync_directory"]


def fsync_directory(directory: Path) -> None:
    """``fsync`` the directory itself, making the entries renamed into it durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DirectorySync:
    """Batches the directory syncs of writers in several threads; see the module docstring.

    ``sync`` does the sync (default :func:`fsync_directory`; tests pass one that counts).
    With ``grouped=False`` every writer syncs on its own, as before group commit: kept as the
    benchmark's baseline.
    """

    def __init__(
        self,
        directory: Path,
        *,
        sync: Callable[[Path], None] = fsync_directory,
        grouped: bool = True,
    ) -> None:
        self.directory = directory
        self.grouped = grouped
        self._sync = sync
        self._changed = threading.Condition()
        self._registered = 0  # renames registered so far, numbered from 1
        self._durable = 0  # every rename numbered up to this one is durable
        self._syncing = False

    @property
    def waiting(self) -> int:
        """Writers that registered a rename and are not yet acknowledged."""
        with self._changed:
            return self._registered - self._durable

    def wait_durable(self) -> None:
        """Return once every rename this thread finished before the call is durable; raises
        ``OSError`` if the sync that would have made it so failed."""
        if not self.grouped:
            self._sync(self.directory)
            return
        with self._changed:
            self._registered += 1
            mine = self._registered
            while self._durable < mine:
                if self._syncing:
                    self._changed.wait()
                    continue
                self._lead()

    def _lead(self) -> None:
        """Sync for every rename registered until now; the caller holds ``_changed``."""
        covered = self._registered
        self._syncing = True
        self._changed.release()
        try:
            self._sync(self.directory)
        finally:
            self._changed.acquire()
            self._syncing = False
            self._changed.notify_all()
        self._durable = max(self._durable, covered)
