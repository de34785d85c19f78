"""Shared fixtures: a short socket directory, a memory backend served on a real socket, a client."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from instance_rpc import PluginClient
from instance_rpc.testing import running_server
from plugins.memory import MemoryPlugin


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A short directory for sockets: Unix socket paths are limited to about 100 bytes."""
    path = Path(tempfile.mkdtemp(prefix="irpc-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def memory() -> MemoryPlugin:
    return MemoryPlugin()


@pytest.fixture
async def served(memory: MemoryPlugin, sock_dir: Path) -> AsyncIterator[Path]:
    """The memory backend served as the default type; yields the socket path."""
    async with running_server(memory, sock_dir / "plugin.sock") as path:
        yield path


@pytest.fixture
async def client(served: Path) -> AsyncIterator[PluginClient]:
    async with PluginClient(served) as plugin:
        yield plugin
