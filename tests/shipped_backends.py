"""The backends we ship that run without a Docker engine, one at a time, for tests that run the
same checks against each."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from instance_rpc.spi import Plugin
from instance_rpc_plugins.file import FilePlugin
from instance_rpc_plugins.memory import MemoryPlugin
from instance_rpc_plugins.process import ProcessPlugin

SHIPPED = ["memory", "file", "process"]
"""Their entry-point names."""


@contextlib.contextmanager
def shipped_backend(name: str, directory: Path) -> Iterator[Plugin]:
    """The backend ``name`` (one of :data:`SHIPPED`), keeping any state in ``directory``,
    closed afterwards."""
    if name == "memory":
        yield MemoryPlugin()
        return
    plugin = FilePlugin(dir=directory) if name == "file" else ProcessPlugin(dir=directory)
    try:
        yield plugin
    finally:
        plugin.close()
