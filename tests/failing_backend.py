"""Backends that cannot start: for the start-up failure tests of ``serve``."""

from __future__ import annotations

from instance_rpc_plugins.memory import MemoryPlugin


class FailingPlugin(MemoryPlugin):
    """Its constructor fails, as a backend that cannot reach what it manages does."""

    def __init__(self) -> None:
        raise RuntimeError("cannot reach the cloud")
