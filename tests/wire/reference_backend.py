"""The reference backend behind the Go server when tests/wire/golden/ was recorded: our memory
backend, except that its Validate refused absent Properties (``null``), which its Provision
accepted. Ours accepts them in both; the recorded answers stay as they were recorded."""

from __future__ import annotations

from instance_rpc.errors import InvalidProperties
from instance_rpc.types import Properties
from instance_rpc_plugins.memory import MemoryPlugin


class ReferenceBackend(MemoryPlugin):
    async def validate(self, properties: Properties) -> None:
        if properties is None:
            raise InvalidProperties("must be a JSON object, got null")
        await super().validate(properties)
