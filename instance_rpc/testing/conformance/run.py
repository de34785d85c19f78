"""What the checks share: the client, the run's tags, and every instance the run made."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

import msgspec

from ...client import PluginClient
from ...errors import InstanceRPCError, PluginError
from ...types import TERMINATION, Context, Description, Spec
from .report import CheckFailed, expect

__all__ = [
    "CHECK_TAG",
    "DEFAULT_BAD_PROPERTIES",
    "DEFAULT_PROPERTIES",
    "RUN_TAG",
    "Run",
]


RUN_TAG = "instance-rpc.conformance.run"
"""Tag key on every instance the suite creates; its value is unique to the run."""

CHECK_TAG = "instance-rpc.conformance.check"
"""Tag key naming the check that created an instance."""

DEFAULT_PROPERTIES = msgspec.Raw(b"{}")
"""Properties the suite provisions with unless told otherwise and the plugin declares no
example Properties for the type (``ExampleProperties`` in ``GET /info/api.json``)."""

DEFAULT_BAD_PROPERTIES = msgspec.Raw(b'["not", "an", "object"]')
"""Properties the suite expects Validate to refuse unless told otherwise."""


class Run:
    """What the checks share: the client, the run's tag, and every instance it made."""

    def __init__(
        self,
        client: PluginClient,
        properties: msgspec.Raw,
        bad_properties: msgspec.Raw,
        concurrency: int,
    ) -> None:
        self.client = client
        self.properties = properties
        self.bad_properties = bad_properties
        self.concurrency = concurrency
        self.run_id = f"{int(time.time())}-{secrets.token_hex(4)}"
        self.live: set[str] = set()

    def tags(self, check: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {RUN_TAG: self.run_id, CHECK_TAG: check, **(extra or {})}

    def logical_id(self, check: str) -> str:
        return f"conformance-{self.run_id}-{check}"

    async def provision(self, check: str, **spec: Any) -> str:
        tags = self.tags(check, spec.pop("tags", None))
        instance_id = await self.client.provision(
            Spec(properties=self.properties, tags=tags, **spec)
        )
        expect(
            isinstance(instance_id, str) and instance_id != "",
            f"Provision answered ID {instance_id!r}, want a non-empty string",
        )
        assert instance_id is not None
        self.live.add(instance_id)
        return instance_id

    async def destroy(self, instance_id: str, context: Context = TERMINATION) -> None:
        await self.client.destroy(instance_id, context)
        self.live.discard(instance_id)

    async def describe(
        self, check: str, extra: Mapping[str, str] | None = None, properties: bool = False
    ) -> list[Description]:
        return await self.client.describe_instances(self.tags(check, extra), properties=properties)

    async def ids(self, check: str, extra: Mapping[str, str] | None = None) -> set[str]:
        return {d.id for d in await self.describe(check, extra)}

    async def cleanup(self) -> None:
        """Destroy everything this run made; raise if anything is left."""
        leftovers = set(self.live)
        leftovers.update(d.id for d in await self.client.describe_instances({RUN_TAG: self.run_id}))
        problems: list[str] = []
        for instance_id in sorted(leftovers):
            try:
                await self.client.destroy(instance_id, TERMINATION)
            except PluginError:
                pass  # destroyed already by the check that made it
            except InstanceRPCError as exc:
                problems.append(f"{instance_id}: {exc}")
        remaining = await self.client.describe_instances({RUN_TAG: self.run_id})
        problems.extend(f"{d.id}: still described after Destroy" for d in remaining)
        if problems:
            raise CheckFailed("could not destroy: " + "; ".join(problems))
