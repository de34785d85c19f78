"""An in-memory Instance backend: for tests, demos and as a reference of the contract.

- IDs are ``inst-1``, ``inst-2``, ... in creation order.
- DescribeInstances returns instances whose tags include *all* the given tags.
- Label merges labels into the tags, overwriting keys that exist.
- Provision with a ``logical_id`` that names a live instance returns that instance's ID, so a
  Provision retried after a timeout does not create a second instance.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import msgspec

from instance_rpc.errors import InstanceNotFound, InvalidProperties
from instance_rpc.spi import EncodedDescriber, Plugin
from instance_rpc.types import (
    Context,
    Description,
    Properties,
    Spec,
    VendorInfo,
    json_kind,
    load_properties,
)

from .store.encoded import PROPERTIES_MEMBER, descriptions_array, encode_description, encode_head
from .store.tag_index import TagIndex

__all__ = ["MemoryPlugin"]


class _Record(msgspec.Struct, gc=False):
    """An instance as kept: its whole description encoded (``plugins/store/encoded.py``, rebuilt on
    Label), whose first ``head_length`` bytes are its head; the Properties are kept only there.
    Untracked by the cyclic collector (``gc=False``): strings, a dict of strings and bytes
    cannot form a cycle, so 100,000 instances add nothing to a collection."""

    id: str
    number: int
    logical_id: str | None
    tags: dict[str, str]
    encoded: bytes
    head_length: int

    @property
    def properties(self) -> msgspec.Raw | None:
        start = self.head_length + len(PROPERTIES_MEMBER)
        return msgspec.Raw(self.encoded[start:-1]) if len(self.encoded) > start else None

    def retagged(self, tags: dict[str, str]) -> None:
        head = encode_head(self.id, self.logical_id, tags)
        self.encoded = head + self.encoded[self.head_length :]
        self.head_length = len(head)
        self.tags = tags


_SHARED_TAG_SETS = 1024
"""Distinct tag sets the backend keeps one dict of (it starts afresh beyond that)."""


def _interned(tags: Mapping[str, str]) -> dict[str, str]:
    return {sys.intern(key): sys.intern(value) for key, value in tags.items()}


class MemoryPlugin:
    """Instances kept in a dict; nothing survives the process."""

    properties_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    """Any JSON object; absent Properties (``null``) are accepted by Validate and Provision."""

    example_properties: ClassVar[dict[str, Any]] = {"instanceType": "small", "disk": {"sizeGb": 10}}

    def __init__(self, *, id_prefix: str = "inst-") -> None:
        self._id_prefix = id_prefix
        self._next_number = itertools.count(1)
        self._instances: dict[str, _Record] = {}
        # Each instance's record.encoded too, in creation order: all of them are one list() away.
        self._encoded: dict[str, bytes] = {}
        self._by_logical_id: dict[str, str] = {}
        self._index = TagIndex()
        # Many instances carry the same tags (a group's): one dict for all of them, never changed
        # in place (Label gives an instance a new one; describe hands out copies).
        self._tag_sets: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}

    def _shared(self, tags: Mapping[str, str]) -> dict[str, str]:
        key = tuple(tags.items())
        found = self._tag_sets.get(key)
        if found is None:
            if len(self._tag_sets) >= _SHARED_TAG_SETS:
                self._tag_sets.clear()
            found = self._tag_sets[key] = _interned(tags)
        return found

    def vendor_info(self) -> VendorInfo:
        return VendorInfo(name="instance-rpc-memory", version="0.1.0")

    def instance_count(self) -> int:
        return len(self._instances)

    async def validate(self, properties: Properties) -> None:
        value = load_properties(properties)
        if value is not None and not isinstance(value, dict):
            raise InvalidProperties(f"must be a JSON object, got {json_kind(value)}")

    async def provision(self, spec: Spec) -> str:
        if spec.logical_id is not None:
            existing = self._by_logical_id.get(spec.logical_id)
            if existing is not None:
                return existing
        number = next(self._next_number)
        instance_id = f"{self._id_prefix}{number}"
        tags = self._shared(spec.tags)
        head = encode_head(instance_id, spec.logical_id, tags)
        encoded = encode_description(head, spec.properties)
        self._instances[instance_id] = _Record(
            instance_id, number, spec.logical_id, tags, encoded, len(head)
        )
        self._encoded[instance_id] = encoded
        self._index.add(instance_id, tags)
        if spec.logical_id is not None:
            self._by_logical_id[spec.logical_id] = instance_id
        return instance_id

    async def label(self, instance: str, labels: Mapping[str, str]) -> None:
        record = self._get(instance)
        tags = self._shared({**record.tags, **labels})
        self._index.retag(instance, record.tags, tags)
        record.retagged(tags)
        self._encoded[instance] = record.encoded

    async def destroy(self, instance: str, context: Context) -> None:
        record = self._instances.pop(instance, None)
        if record is None:
            raise InstanceNotFound(instance)
        del self._encoded[instance]
        self._index.remove(instance, record.tags)
        if record.logical_id is not None:
            self._by_logical_id.pop(record.logical_id, None)

    def _matching(self, tags: Mapping[str, str] | None) -> list[_Record]:
        """Instances whose tags include all of ``tags``, in creation order."""
        if not tags:
            return list(self._instances.values())
        # The index names candidates; each is checked, so an instance whose tags were changed
        # behind the index's back (a subclass assigning ``tags``) is never wrongly described.
        wanted = tags.items()
        found = [
            record
            for record in map(self._instances.get, self._index.select(tags))
            if record is not None and all(record.tags.get(k) == v for k, v in wanted)
        ]
        found.sort(key=lambda record: record.number)
        return found

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        return [
            Description(
                id=r.id,
                logical_id=r.logical_id,
                tags=dict(r.tags),
                properties=r.properties if properties else None,
            )
            for r in self._matching(tags)
        ]

    async def describe_encoded(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> bytes | Iterator[bytes]:
        """What :meth:`describe_instances` answers, as the wire's ``Descriptions`` array (see
        :class:`~instance_rpc.spi.EncodedDescriber`): the descriptions as they are now, sent
        in slices when there are many."""
        if properties and not tags:
            return descriptions_array(list(self._encoded.values()))
        found = self._matching(tags)
        if properties:
            return descriptions_array([r.encoded for r in found])
        return descriptions_array([r.encoded[: r.head_length] + b"}" for r in found])

    def _get(self, instance: str) -> _Record:
        try:
            return self._instances[instance]
        except KeyError:
            raise InstanceNotFound(instance) from None


_: type[Plugin] = MemoryPlugin  # mypy checks that MemoryPlugin satisfies the protocol
__: type[EncodedDescriber] = MemoryPlugin
