"""The instances a backend keeps on disk: records in a :class:`DocumentStore`, cached in memory.

The store's lock makes this process the directory's only writer, so the cache loaded at start
stays true. Mutations hold :attr:`Inventory.lock` (an ``asyncio.Lock``) across their
read-modify-write, and their disk I/O runs in a thread; the cache changes only after the disk did.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

import msgspec

from instance_rpc.errors import InstanceNotFound, InvalidProperties
from instance_rpc.types import Description, Spec, json_kind, load_properties

from ._store import DocumentStore, check_instance_id

__all__ = ["Inventory", "Record", "RecordAttachment", "now_utc", "require_object"]

logger = logging.getLogger(__name__)

_NULL = msgspec.Raw(b"null")


def _null() -> msgspec.Raw:
    return _NULL


def now_utc() -> str:
    """The current time, RFC 3339 in UTC with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def require_object(properties: Any) -> dict[str, Any]:
    """The decoded Properties if they are a JSON object; :class:`InvalidProperties` if not."""
    value = load_properties(properties)
    if not isinstance(value, dict):
        raise InvalidProperties(f"must be a JSON object, got {json_kind(value)}")
    return value


class RecordAttachment(msgspec.Struct, kw_only=True):
    ID: str
    Type: str = ""


class Record(msgspec.Struct, kw_only=True):
    """One instance as stored: the Spec it was made from (``Properties`` byte for byte)."""

    ID: str
    LogicalID: str | None = None
    Tags: dict[str, str] = msgspec.field(default_factory=dict)
    Properties: msgspec.Raw = msgspec.field(default_factory=_null)
    Init: str = ""
    Attachments: list[RecordAttachment] = msgspec.field(default_factory=list)
    Created: str = ""

    @classmethod
    def fields_of(cls, instance_id: str, spec: Spec) -> dict[str, Any]:
        """The fields a record takes from ``spec``, for subclasses to extend."""
        return {
            "ID": instance_id,
            "LogicalID": spec.logical_id,
            "Tags": dict(spec.tags),
            "Properties": _NULL if spec.properties is None else spec.properties,
            "Init": spec.init,
            "Attachments": [RecordAttachment(ID=a.id, Type=a.type) for a in spec.attachments],
            "Created": now_utc(),
        }

    def matches(self, tags: Mapping[str, str]) -> bool:
        return all(self.Tags.get(key) == value for key, value in tags.items())

    def describe(self, properties: msgspec.Raw | None) -> Description:
        return Description(
            id=self.ID, logical_id=self.LogicalID, tags=dict(self.Tags), properties=properties
        )

    def stored_properties(self) -> msgspec.Raw | None:
        return None if self.Properties == _NULL else self.Properties


R = TypeVar("R", bound=Record)


class Inventory(Generic[R]):
    """Records of type ``record_type`` kept in ``directory``; see the module docstring."""

    def __init__(self, directory: str | os.PathLike[str], record_type: type[R]) -> None:
        self._store = DocumentStore(directory)
        self._encoder = msgspec.json.Encoder()
        decoder = msgspec.json.Decoder(record_type)
        self._records: dict[str, R] = {}
        for file_id, record in self._store.load_all(decoder.decode).items():
            if file_id == record.ID:
                self._records[file_id] = record
            else:
                logger.error("ignoring %s.json: it holds instance %r", file_id, record.ID)
        self.lock = asyncio.Lock()

    @property
    def directory(self) -> Path:
        return self._store.directory

    def close(self) -> None:
        self._store.close()

    def records(self) -> list[R]:
        return list(self._records.values())

    def get(self, instance_id: str) -> R:
        """The record of ``instance_id``; raises for malformed and for unknown IDs."""
        check_instance_id(instance_id)
        try:
            return self._records[instance_id]
        except KeyError:
            raise InstanceNotFound(instance_id) from None

    def __contains__(self, instance_id: str) -> bool:
        return instance_id in self._records

    def __len__(self) -> int:
        return len(self._records)

    def _with_logical_id(self, logical_id: str) -> R | None:
        for record in self._records.values():
            if record.LogicalID == logical_id:
                return record
        return None

    def _new_id(self, prefix: str) -> str:
        while True:
            candidate = f"{prefix}{secrets.token_hex(8)}"
            if candidate not in self._records:
                return candidate

    async def create(
        self, logical_id: str | None, id_prefix: str, make: Callable[[str], Awaitable[R]]
    ) -> str:
        """Provision, idempotently: the ID of the instance with ``logical_id`` if there is one;
        else a new ID (``id_prefix`` and 16 hex digits), whose record ``make`` builds."""
        async with self.lock:
            if logical_id is not None:
                existing = self._with_logical_id(logical_id)
                if existing is not None:
                    return existing.ID
            instance_id = self._new_id(id_prefix)
            await self.put(await make(instance_id))
            return instance_id

    async def merge_tags(self, instance_id: str, labels: Mapping[str, str]) -> None:
        """Label: merge ``labels`` into the instance's tags, overwriting keys that exist."""
        async with self.lock:
            record = self.get(instance_id)
            tags = {**record.Tags, **labels}
            await self.put(msgspec.structs.replace(record, Tags=tags))

    def matching(self, tags: Mapping[str, str] | None) -> list[R]:
        wanted = tags or {}
        return sorted(
            (record for record in self._records.values() if record.matches(wanted)),
            key=lambda record: record.ID,
        )

    async def put(self, record: R) -> None:
        """Write ``record`` durably, then cache it. Hold :attr:`lock`."""
        document = self._encoder.encode(record)
        await asyncio.to_thread(self._store.write, record.ID, document)
        self._records[record.ID] = record

    async def delete(self, instance_id: str) -> None:
        """Remove the record of ``instance_id`` from disk, then the cache. Hold :attr:`lock`."""
        await asyncio.to_thread(self._store.remove, instance_id)
        self._records.pop(instance_id, None)
