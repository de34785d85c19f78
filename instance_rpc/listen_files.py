"""``<name>.listen`` files: how a daemon on TCP tells discovery where it listens.

InfraKit's local discovery (``pkg/discovery/local/dir.go``) takes a regular file named
``<name>.listen`` in the plugins directory as the plugin ``<name>``, parsing the whole content
with Go's ``url.Parse``: so the file holds the URL alone, ``tcp://HOST:PORT`` (plain HTTP) or
``https://HOST:PORT``, with no newline (a control character makes ``url.Parse`` fail). Its
``pkg/rpc/client`` turns ``tcp://`` into ``http://``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

__all__ = [
    "LISTEN_SUFFIX",
    "ListenFile",
    "list_listen_files",
    "listen_file_for",
    "read_listen_file",
]

LISTEN_SUFFIX = ".listen"
SCHEMES = ("tcp", "https", "http")


def listen_file_for(socket_path: Path) -> Path:
    """``<name>.listen`` beside where the socket ``<name>`` is (or would be)."""
    return socket_path.with_name(socket_path.name + LISTEN_SUFFIX)


def read_listen_file(path: Path) -> str:
    """The URL in a ``.listen`` file; ValueError when it holds no ``scheme://HOST:PORT``."""
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in SCHEMES or not rest:
        raise ValueError(f"{path} does not hold tcp://HOST:PORT or https://HOST:PORT")
    return text


def list_listen_files(directory: Path) -> list[Path]:
    """The regular ``*.listen`` files in ``directory``, sorted (missing directory: none)."""
    try:
        entries = sorted(directory.iterdir())
    except FileNotFoundError:
        return []
    return [
        entry
        for entry in entries
        if entry.name.endswith(LISTEN_SUFFIX)
        and len(entry.name) > len(LISTEN_SUFFIX)
        and stat.S_ISREG(entry.lstat().st_mode)
    ]


_TEMPORARY_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _create_temporary(directory_fd: int, name: str) -> tuple[str, int]:
    """A new file ``.<name>.<128 random bits>.tmp`` in the directory, mode 0600: its name and
    descriptor. Never opens what was there before (``O_EXCL``: ``FileExistsError``)."""
    temporary = f".{name}.{secrets.token_hex(16)}.tmp"
    return temporary, os.open(temporary, _TEMPORARY_FLAGS, 0o600, dir_fd=directory_fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class ListenFile:
    """The ``.listen`` file a daemon writes once all its listeners are up and removes at stop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._identity: tuple[int, int] | None = None

    def write(self, url: str) -> None:
        """Write ``url`` atomically (readers never see half a file), readable by all.

        No symbolic link is followed: the temporary file has a random name and is created
        with ``O_EXCL | O_NOFOLLOW``, its mode set through its descriptor, and the rename
        replaces whatever entry has the final name (a planted link itself, not its target).
        Raises ``OSError`` when the directory refuses."""
        directory_fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            temporary, fd = _create_temporary(directory_fd, self.path.name)
            try:
                try:
                    _write_all(fd, url.encode("utf-8"))
                    os.fchmod(fd, 0o644)
                    status = os.fstat(fd)
                finally:
                    os.close(fd)
                os.replace(
                    temporary, self.path.name, src_dir_fd=directory_fd, dst_dir_fd=directory_fd
                )
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary, dir_fd=directory_fd)
                raise
        finally:
            os.close(directory_fd)
        self._identity = (status.st_dev, status.st_ino)

    def remove(self) -> None:
        """Unlink the file only if it is still the one we wrote (not a successor's)."""
        identity, self._identity = self._identity, None
        if identity is None:
            return
        with contextlib.suppress(FileNotFoundError):
            status = self.path.lstat()
            if (status.st_dev, status.st_ino) == identity:
                self.path.unlink()
