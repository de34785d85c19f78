"""Process-backend instances whose shell ignores SIGTERM, and waiting until it does."""

from __future__ import annotations

from instance_rpc.types import load_properties
from instance_rpc_plugins.process import ProcessPlugin
from tests.daemon import eventually


async def ignoring_sigterm(plugin: ProcessPlugin, instance_id: str) -> None:
    """Wait until the instance's shell has set its trap (``trap '' TERM`` before starting a
    child): it has started the child. A SIGTERM sent before that ends the shell at once, and
    its Destroy with it."""

    async def started_child() -> bool:
        for described in await plugin.describe_instances({}, properties=True):
            view = load_properties(described.properties)
            if described.id == instance_id and len(view.get("processes") or []) >= 2:
                return True
        return False

    await eventually(started_child, what=f"{instance_id} ignoring SIGTERM")
