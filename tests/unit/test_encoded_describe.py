"""DescribeInstances through a backend's encoded descriptions, and when they are not used."""

from __future__ import annotations

import json
from collections.abc import Mapping

import msgspec
import pytest

from instance_rpc.rpc.service import InstanceService
from instance_rpc.types import Description, Spec
from instance_rpc.wire import WireDescription
from instance_rpc_plugins.memory import MemoryPlugin
from instance_rpc_plugins.store.encoded import SLICE

DESCRIBE = b'{"jsonrpc":"2.0","method":"Instance.DescribeInstances","params":{"Tags":{}},"id":1}'


class EncodesItsOwn(MemoryPlugin):
    """Answers each way differently, so the answer shows which way the daemon asked."""

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        return []

    async def describe_encoded(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> bytes:
        return b'[{"ID":"encoded-1","LogicalID":null,"Tags":{"way":"encoded"}}]'


class OverridesDescribe(MemoryPlugin):
    """Overrides describe_instances only: its override must answer, not the inherited bytes."""

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        found = await super().describe_instances(tags, properties)
        return [Description(id=d.id, tags={**d.tags, "seen": "override"}) for d in found]


async def describe(backend: MemoryPlugin) -> list[dict[str, object]]:
    answer = await InstanceService({"": backend}).handle(DESCRIBE)
    assert answer is not None
    descriptions: list[dict[str, object]] = json.loads(answer)["result"]["Descriptions"]
    return descriptions


async def test_a_backend_that_encodes_its_descriptions_is_answered_with_those_bytes() -> None:
    assert await describe(EncodesItsOwn()) == [
        {"ID": "encoded-1", "LogicalID": None, "Tags": {"way": "encoded"}}
    ]


async def test_a_subclass_overriding_describe_instances_alone_is_described_by_it() -> None:
    backend = OverridesDescribe()
    await backend.provision(Spec(tags={"a": "b"}))
    assert await describe(backend) == [
        {"ID": "inst-1", "LogicalID": None, "Tags": {"a": "b", "seen": "override"}}
    ]


@pytest.mark.parametrize("count", [0, 1, SLICE, SLICE + 1, 3 * SLICE])
@pytest.mark.parametrize("properties", [True, False])
async def test_the_encoded_array_is_the_wire_encoding_whole_or_in_slices(
    count: int, properties: bool
) -> None:
    backend = MemoryPlugin()
    for number in range(count):
        spec = Spec(tags={"n": str(number)}, properties={"n": number} if number % 2 else None)
        await backend.provision(spec)
    if count:
        await backend.label("inst-1", {"labelled": "yes"})
    encoded = await backend.describe_encoded(None, properties=properties)
    pieces = [encoded] if isinstance(encoded, bytes) else list(encoded)
    assert len(pieces) == (1 if count <= SLICE else -(-count // SLICE) + 1)
    described = await backend.describe_instances(None, properties=properties)
    wire = WireDescription.from_descriptions(described, properties)
    assert b"".join(pieces) == msgspec.json.encode(wire)
