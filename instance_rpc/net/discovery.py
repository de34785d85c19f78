"""Plugin names and the plugins directory, as InfraKit lays them out.

A plugin's socket lives in the plugins directory under the plugin's name. A name is
``lookup[/type]``: ``lookup`` is the socket's file name, ``type`` picks a backend inside a daemon
that hosts several (the ``Type`` param; empty for the default).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from ..errors import DiscoveryError, PluginNotFound

__all__ = [
    "PluginAddress",
    "PluginName",
    "list_plugins",
    "plugins_dir",
    "resolve",
]


def plugins_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$INFRAKIT_PLUGINS_DIR``, else ``$INFRAKIT_HOME/plugins``, else ``~/.infrakit/plugins``."""
    env = os.environ if environ is None else environ
    if env.get("INFRAKIT_PLUGINS_DIR"):
        return Path(env["INFRAKIT_PLUGINS_DIR"]).expanduser()
    if env.get("INFRAKIT_HOME"):
        return Path(env["INFRAKIT_HOME"]).expanduser() / "plugins"
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".infrakit" / "plugins"


class PluginName(NamedTuple):
    """``lookup/type`` split in two."""

    lookup: str
    type: str = ""

    @classmethod
    def parse(cls, name: str) -> PluginName:
        lookup, _, type_name = name.partition("/")
        if not lookup or "/" in type_name or lookup in (".", ".."):
            raise DiscoveryError(f"not a plugin name (want lookup or lookup/type): {name!r}")
        return cls(lookup, type_name)

    def __str__(self) -> str:
        return f"{self.lookup}/{self.type}" if self.type else self.lookup


class PluginAddress(NamedTuple):
    """Where to connect and which ``Type`` to send."""

    socket_path: Path
    type: str = ""


def _looks_like_path(target: str) -> bool:
    return target.startswith(("/", "./", "../", "~")) or os.path.exists(target)


def resolve(target: str | os.PathLike[str], *, directory: Path | None = None) -> PluginAddress:
    """Resolve a socket path or a plugin name to a socket path and a type.

    A path (absolute, relative with ``./``, or anything that exists) is used as it is; anything
    else is a plugin name looked up in ``directory`` (default: :func:`plugins_dir`).
    """
    if isinstance(target, os.PathLike) or _looks_like_path(target):
        return PluginAddress(Path(target).expanduser())
    name = PluginName.parse(target)
    where = directory if directory is not None else plugins_dir()
    path = where / name.lookup
    if not path.exists():
        raise PluginNotFound(str(name), str(where))
    return PluginAddress(path, name.type)


def list_plugins(directory: Path | None = None) -> list[Path]:
    """The sockets in the plugins directory, sorted by name (missing directory: none)."""
    where = directory if directory is not None else plugins_dir()
    try:
        entries = sorted(where.iterdir())
    except FileNotFoundError:
        return []
    return [entry for entry in entries if stat.S_ISSOCK(entry.lstat().st_mode)]
