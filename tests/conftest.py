"""Shared fixtures: a short socket directory, a memory backend served on a real socket, a client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from instance_rpc import PluginClient
from instance_rpc.testing import running_server
from instance_rpc_plugins.memory import MemoryPlugin
from tests.daemon import short_tmp_dir


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A short directory for sockets: Unix socket paths are limited to about 100 bytes."""
    with short_tmp_dir() as path:
        yield path


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
