"""Helpers for testing Instance plugins: a daemon running in the test's event loop.

    async with running_server({"": MemoryPlugin()}, tmp_path / "p.sock") as path:
        async with PluginClient(path) as client:
            ...

The conformance suite, which checks any live plugin against the Instance contract, is in
:mod:`instance_rpc.testing.conformance`; :mod:`instance_rpc.testing.pytest_plugin` turns it into
pytest tests for a backend's own test suite.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from ..rpc.service import InstanceService
from ..server import PluginServer
from ..spi import Plugin

__all__ = ["running_server"]


@contextlib.asynccontextmanager
async def running_server(
    backends: Mapping[str, Plugin] | Plugin,
    socket_path: str | os.PathLike[str],
    **server_options: Any,
) -> AsyncIterator[Path]:
    """Serve ``backends`` (or one plugin as the default) on ``socket_path`` until the block ends.

    The socket accepts connections as soon as the block is entered.
    """
    mapping = backends if isinstance(backends, Mapping) else {"": backends}
    server = PluginServer(InstanceService(mapping), socket_path, **server_options)
    async with server:
        yield server.socket_path
