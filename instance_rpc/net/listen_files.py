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


class ListenFile:
    """The ``.listen`` file a daemon writes once all its listeners are up and removes at stop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._identity: tuple[int, int] | None = None

    def write(self, url: str) -> None:
        """Write ``url`` atomically (readers never see half a file), readable by all."""
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(url, encoding="utf-8")
            os.chmod(temporary, 0o644)
            os.replace(temporary, self.path)
        finally:
            temporary.unlink(missing_ok=True)
        status = self.path.stat()
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
