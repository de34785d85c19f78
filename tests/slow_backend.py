"""A backend whose Provision takes a while: for shutdown and signal tests."""

from __future__ import annotations

import asyncio
import os

from instance_rpc.types import Spec
from instance_rpc_plugins.memory import MemoryPlugin


class SlowPlugin(MemoryPlugin):
    """Provision waits ``SLOW_PLUGIN_SECONDS`` (default 1) before answering."""

    async def provision(self, spec: Spec) -> str:
        await asyncio.sleep(float(os.environ.get("SLOW_PLUGIN_SECONDS", "1")))
        return await super().provision(spec)
