"""An in-memory Instance backend: for tests, demos and as a reference of the contract.

- IDs are ``inst-1``, ``inst-2``, ... in creation order.
- DescribeInstances returns instances whose tags include *all* the given tags.
- Label merges labels into the tags, overwriting keys that exist.
- Provision with a ``logical_id`` that names a live instance returns that instance's ID, so a
  Provision retried after a timeout does not create a second instance.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec

from instance_rpc.errors import InstanceNotFound, InvalidProperties
from instance_rpc.spi import Plugin
from instance_rpc.types import (
    Context,
    Description,
    Properties,
    Spec,
    VendorInfo,
    json_kind,
    load_properties,
)

__all__ = ["MemoryPlugin"]


class _Record(msgspec.Struct, gc=False):
    """An instance as kept. Untracked by the cyclic collector (``gc=False``): strings, a dict of
    strings and raw JSON cannot form a cycle, so 100,000 instances add nothing to a collection."""

    id: str
    logical_id: str | None
    tags: dict[str, str]
    properties: msgspec.Raw | None


class MemoryPlugin:
    """Instances kept in a dict; nothing survives the process."""

    properties_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    """Any JSON object (absent Properties are accepted by Provision, refused by Validate)."""

    example_properties: ClassVar[dict[str, Any]] = {"instanceType": "small", "disk": {"sizeGb": 10}}

    def __init__(self, *, id_prefix: str = "inst-") -> None:
        self._id_prefix = id_prefix
        self._next_number = itertools.count(1)
        self._instances: dict[str, _Record] = {}

    def vendor_info(self) -> VendorInfo:
        return VendorInfo(name="instance-rpc-memory", version="0.1.0")

    def instance_count(self) -> int:
        return len(self._instances)

    async def validate(self, properties: Properties) -> None:
        value = load_properties(properties)
        if not isinstance(value, dict):
            raise InvalidProperties(f"must be a JSON object, got {json_kind(value)}")

    async def provision(self, spec: Spec) -> str:
        if spec.logical_id is not None:
            for existing in self._instances.values():
                if existing.logical_id == spec.logical_id:
                    return existing.id
        instance_id = f"{self._id_prefix}{next(self._next_number)}"
        # A decoded Raw is a view of the whole request body: copy it to keep only its bytes.
        properties = None if spec.properties is None else spec.properties.copy()
        self._instances[instance_id] = _Record(
            instance_id, spec.logical_id, dict(spec.tags), properties
        )
        return instance_id

    async def label(self, instance: str, labels: Mapping[str, str]) -> None:
        self._get(instance).tags.update(labels)

    async def destroy(self, instance: str, context: Context) -> None:
        if self._instances.pop(instance, None) is None:
            raise InstanceNotFound(instance)

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        wanted = tuple((tags or {}).items())
        found = list(self._instances.values())
        if wanted:
            found = [r for r in found if all(r.tags.get(k) == v for k, v in wanted)]
        return [
            Description(
                id=r.id,
                logical_id=r.logical_id,
                tags=dict(r.tags),
                properties=r.properties if properties else None,
            )
            for r in found
        ]

    def _get(self, instance: str) -> _Record:
        try:
            return self._instances[instance]
        except KeyError:
            raise InstanceNotFound(instance) from None


_: type[Plugin] = MemoryPlugin  # mypy checks that MemoryPlugin satisfies the protocol
