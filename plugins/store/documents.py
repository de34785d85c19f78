"""A directory of JSON documents, one per instance, that survives crashes.

Used by the ``file`` and ``process`` backends. Its rules:

- A document is ``<dir>/<ID>.json``. Only plain names are IDs (:func:`check_instance_id`), so no
  path built from a caller's ID can leave the directory; symbolic links are never followed.
- Writes are atomic: a hidden temporary file in the same directory, ``fsync``, ``rename`` over
  the document, ``fsync`` of the directory. A crash at any moment leaves either the old document
  or the new one, plus perhaps a stray temporary file, which loading ignores and removes.
- Writes are durable when :meth:`DocumentStore.write` returns. Writes from several threads at
  once share the directory ``fsync`` (group commit, ``plugins/store/group_commit.py``): each still
  writes and syncs its own file and renames it, then waits for one directory sync begun after
  its rename. :meth:`DocumentStore.write_many` writes a batch in one thread: every file, then
  one ``syncfs`` (else every ``fsync``), every rename, and one directory sync; it names files
  relative to one directory descriptor and keeps no file open while a batch waits for
  ``syncfs``, so a batch of 1,000 needs no more descriptors than a batch of one.
- A document that cannot be read or decoded is logged and skipped, never fatal.
- One process at a time: an exclusive ``flock`` on ``<dir>/.lock`` is held while the store is
  open; a second daemon on the same directory gets :class:`StateDirectoryLocked`.

Methods block: async callers run them in a thread (:meth:`DocumentStore.write` and
:meth:`DocumentStore.remove` may run in several at once).
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import logging
import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from instance_rpc.errors import PluginError

from .group_commit import DirectorySync, fsync_directory
from .paths import MAX_ID_LENGTH, InvalidInstanceID, check_instance_id, default_state_dir
from .syncfs import syncfs, syncfs_usable

__all__ = [
    "MAX_ID_LENGTH",
    "DocumentStore",
    "InvalidInstanceID",
    "StateDirectoryLocked",
    "check_instance_id",
    "default_state_dir",
]

logger = logging.getLogger(__name__)

_SUFFIX = ".json"
_TEMP_PREFIX = ".tmp-"
_LOCK_NAME = ".lock"
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
_T = TypeVar("_T")


def _write_all(fd: int, document: bytes) -> None:
    view = memoryview(document)
    while view:
        view = view[os.write(fd, view) :]


class StateDirectoryLocked(PluginError):
    """Another process holds the state directory (a client rebuilding it gets ``directory`` as
    a ``Path`` too)."""

    FIELDS = ("directory",)

    def __init__(self, directory: Path | str) -> None:
        directory = Path(directory)
        super().__init__(
            f"state directory {directory} is in use by another daemon "
            f"(lock held on {directory / _LOCK_NAME})"
        )
        self.directory = directory


class DocumentStore:
    """The documents in ``directory`` (created if missing), locked for this process until
    :meth:`close`.

    ``sync_directory`` syncs the directory (tests count its calls); ``group_commit=False``
    syncs it once per write instead of once per batch of concurrent writes (the benchmark's
    baseline).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        sync_directory: Callable[[Path], None] = fsync_directory,
        group_commit: bool = True,
    ) -> None:
        self.directory = Path(directory).expanduser().absolute()
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._directory_sync = DirectorySync(
            self.directory, sync=sync_directory, grouped=group_commit
        )
        self._lock_fd: int | None = self._lock()
        # Temporary names: unique while this process holds the lock (next() on a count is
        # atomic under the GIL); the random part keeps them apart from any temporary an earlier
        # process left behind. No getrandom call, so no GIL hand-off, per document.
        self._temporary_tag = secrets.token_hex(4)
        self._temporary_numbers = itertools.count()
        self._remove_temporaries()

    def _lock(self) -> int:
        fd = os.open(self.directory / _LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateDirectoryLocked(self.directory) from None
        except BaseException:
            os.close(fd)
            raise
        return fd

    def close(self) -> None:
        """Release the directory (the documents stay)."""
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    @property
    def closed(self) -> bool:
        return self._lock_fd is None

    def path_of(self, instance_id: str) -> Path:
        """Where the document of ``instance_id`` lives; raises for IDs that are not plain names."""
        return self.directory / (check_instance_id(instance_id) + _SUFFIX)

    def _remove_temporaries(self) -> None:
        for entry in os.scandir(self.directory):
            if entry.name.startswith(_TEMP_PREFIX) and entry.is_file(follow_symlinks=False):
                logger.info("removing unfinished write %s", entry.path)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)

    def load_all(self, decode: Callable[[bytes], _T]) -> dict[str, _T]:
        """Every readable document, decoded, by ID; the others are logged and skipped."""
        found: dict[str, _T] = {}
        for entry in os.scandir(self.directory):
            name = entry.name
            if not name.endswith(_SUFFIX) or name.startswith("."):
                continue
            instance_id = name[: -len(_SUFFIX)]
            try:
                check_instance_id(instance_id)
            except InvalidInstanceID:
                logger.warning("ignoring %s: not an instance document", entry.path)
                continue
            if not entry.is_file(follow_symlinks=False):
                logger.warning("ignoring %s: not a regular file", entry.path)
                continue
            try:
                found[instance_id] = decode(self._read(Path(entry.path)))
            except Exception as exc:
                logger.error("ignoring unreadable instance document %s: %s", entry.path, exc)
        return found

    @staticmethod
    def _read(path: Path) -> bytes:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as file:
            return file.read()

    @property
    def group_commit(self) -> bool:
        return self._directory_sync.grouped

    def waiting_writers(self) -> int:
        """Writes in place but not yet acknowledged (waiting for a directory sync)."""
        return self._directory_sync.waiting

    def write(self, instance_id: str, document: bytes) -> None:
        """Replace the document of ``instance_id`` atomically; return once it is durable.

        Raises ``OSError`` when the disk refuses; the old document then stays, or the new one
        is in place but was not acknowledged.
        """
        [error] = self.write_many([(instance_id, document)])
        if error is not None:
            raise error

    def write_many(self, documents: Sequence[tuple[str, bytes]]) -> list[Exception | None]:
        """Replace several documents, each atomically; return once every one is durable, with
        ``None`` for each written and the error for each that was not (its old document stays).

        Every temporary file is written first, then all are synced, then renamed, then one
        directory sync covers every rename (see :class:`DirectorySync`). Each document is
        still synced before its rename, and acknowledged only after the directory sync, so
        the guarantee is :meth:`write`'s. A batch is synced with one ``syncfs`` where that
        reports write-back errors (``plugins/store/syncfs.py``; a failure then fails the whole
        batch), else with one ``fsync`` per file. Raises ``OSError`` if the directory cannot
        be opened or its sync fails: then none is acknowledged.
        """
        errors: list[Exception | None] = [None] * len(documents)
        written: list[tuple[int, str, str]] = []  # index, temporary, target (in the directory)
        unsynced: list[tuple[int, int]] = []  # index, fd: files still to fsync one by one
        together = len(documents) > 1 and syncfs_usable()
        # Every name below is relative to this descriptor: no path walk, no Path per document.
        # Opened before any write, so syncfs reports every write-back error since (syncfs.py).
        directory_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            try:
                for index, (instance_id, document) in enumerate(documents):
                    try:
                        target = check_instance_id(instance_id) + _SUFFIX
                        number = next(self._temporary_numbers)
                        temporary = f"{_TEMP_PREFIX}{instance_id}-{self._temporary_tag}-{number}"
                        fd = os.open(temporary, _TEMP_FLAGS, 0o600, dir_fd=directory_fd)
                    except Exception as exc:
                        errors[index] = exc
                        continue
                    written.append((index, temporary, target))
                    try:
                        _write_all(fd, document)
                    except Exception as exc:
                        errors[index] = exc
                    if together or errors[index] is not None:
                        os.close(fd)  # syncfs needs no descriptor: a batch holds none open
                    else:
                        unsynced.append((index, fd))
                if together:
                    try:
                        syncfs(directory_fd)  # every document's data at once: one disk flush
                    except Exception as exc:
                        errors = [error or exc for error in errors]
                else:
                    for index, fd in unsynced:
                        try:
                            os.fsync(fd)
                        except Exception as exc:
                            errors[index] = exc
            finally:
                for _, fd in unsynced:
                    os.close(fd)
            renamed = 0
            for index, temporary, target in written:
                try:
                    if errors[index] is None:
                        os.replace(
                            temporary, target, src_dir_fd=directory_fd, dst_dir_fd=directory_fd
                        )
                        renamed += 1
                        continue
                except Exception as exc:
                    errors[index] = exc
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary, dir_fd=directory_fd)
        finally:
            os.close(directory_fd)
        if renamed:
            self._directory_sync.wait_durable()
        return errors

    def remove(self, instance_id: str) -> None:
        """Remove the document of ``instance_id`` (missing is fine)."""
        try:
            os.unlink(self.path_of(instance_id))
        except FileNotFoundError:
            return
        self._directory_sync.wait_durable()
