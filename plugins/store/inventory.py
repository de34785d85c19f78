"""The instances a backend keeps on disk: records in a :class:`DocumentStore`, cached in memory.

The store's lock makes this process the directory's only writer, so the cache loaded at start
stays true. Mutations hold :attr:`Inventory.lock` (an ``asyncio.Lock``) across their
read-modify-write, and their disk I/O runs in a thread; the cache changes only after the disk did.
The one exception is a new record's first write: Provision reserves the ID (and its LogicalID)
under the lock, then writes without it, so concurrent Provisions share one batch of syncs
(``plugins/store/write_queue.py``); until that write is durable the ID is known to no one (not
described, not found), and a Provision of the same LogicalID waits for it.

A tag index (``plugins/store/tag_index.py``) and a LogicalID index are kept in step with the cache
(built at load, changed with every record cached or removed), so DescribeInstances by tag and
an idempotent Provision cost what they find, not what the inventory holds.

Lifecycle: a record is created by :meth:`Inventory.create` and removed by
:meth:`Inventory.destroy`. A backend whose Destroy takes time (it passes ``stop``) first marks
the record destroying (``DestroyReason``, written to disk), stops the instance without holding
the lock, then removes the record. A destroying instance is never handed out by an idempotent
Provision: one with its ``LogicalID`` waits for the Destroy and then creates a new instance, and
one that finds a Destroy interrupted by a daemon stop finishes it first. A second Destroy of a
destroying instance waits for the first and succeeds with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Generic, TypeVar

import msgspec

from instance_rpc.errors import InstanceNotFound

from .documents import DocumentStore, check_instance_id
from .encoded import descriptions_array, encode_description, encode_head
from .random_ids import RandomHex
from .record import Record, RecordAttachment, now_utc, require_object
from .tag_index import TagIndex
from .write_queue import WriteQueue

__all__ = ["Inventory", "Record", "RecordAttachment", "now_utc", "require_object"]

logger = logging.getLogger(__name__)

R = TypeVar("R", bound=Record)


class Inventory(Generic[R]):
    """Records of type ``record_type`` kept in ``directory``; see the module docstring.

    ``stop`` ends an instance for :meth:`destroy` (``None``: nothing to stop, a Destroy only
    removes the record).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        record_type: type[R],
        stop: Callable[[R], Awaitable[None]] | None = None,
    ) -> None:
        self._stop = stop
        self._random = RandomHex()
        self._dying: dict[str, asyncio.Event] = {}
        self._store = DocumentStore(directory)
        self._writes = WriteQueue(self._store)
        self._encoder = msgspec.json.Encoder()
        decoder = msgspec.json.Decoder(record_type)
        self._records: dict[str, R] = {}
        self._index = TagIndex()
        self._by_logical_id: dict[str, set[str]] = {}
        self._heads: dict[str, bytes] = {}  # encoded lazily, dropped on change
        self._creating: dict[str, asyncio.Event] = {}  # IDs reserved, first write under way
        self._creating_logical_id: dict[str, str] = {}
        for file_id, record in self._store.load_all(decoder.decode).items():
            if file_id == record.ID:
                self._cache(record)
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

    def _with_logical_id(self, logical_id: str) -> tuple[R | None, R | None]:
        """The live record with ``logical_id``, and one being destroyed."""
        live: R | None = None
        dying: R | None = None
        for record in map(self._records.__getitem__, self._by_logical_id.get(logical_id, ())):
            if record.LogicalID == logical_id:
                if record.destroying or record.ID in self._dying:
                    dying = record
                else:
                    live = record
        return live, dying

    def _new_id(self, prefix: str) -> str:
        while True:
            candidate = f"{prefix}{self._random.token(8)}"
            if candidate not in self._records and candidate not in self._creating:
                return candidate

    async def create(
        self, logical_id: str | None, id_prefix: str, make: Callable[[str], Awaitable[R]]
    ) -> str:
        """Provision, idempotently: the ID of the live instance with ``logical_id`` if there is
        one; else a new ID (``id_prefix`` and 16 hex digits), whose record ``make`` builds. An
        instance with ``logical_id`` being destroyed, or being created, is waited for first
        (see the module docstring)."""
        while True:
            async with self.lock:
                live, dying, creating = None, None, None
                if logical_id is not None:
                    live, dying = self._with_logical_id(logical_id)
                    pending = self._creating_logical_id.get(logical_id)
                    creating = None if pending is None else self._creating[pending]
                if live is not None:
                    return live.ID
                if dying is None and creating is None:
                    instance_id = self._new_id(id_prefix)
                    record = await make(instance_id)
                    done = self._creating[instance_id] = asyncio.Event()
                    if logical_id is not None:
                        self._creating_logical_id[logical_id] = instance_id
                    break
            if creating is not None:
                await creating.wait()  # then its instance is live, or its write failed
            elif dying is not None:
                with contextlib.suppress(InstanceNotFound):
                    await self.destroy(dying.ID, dying.DestroyReason or "")
        try:
            await self.put(record)  # without the lock: concurrent Provisions share a batch
        finally:
            del self._creating[instance_id]
            if logical_id is not None:
                del self._creating_logical_id[logical_id]
            done.set()
        return instance_id

    async def settled(self, instance_id: str) -> None:
        """Return once ``instance_id`` is not being created: its record is cached, or its
        first write failed. Call it before changing a record its creator may still write."""
        creating = self._creating.get(instance_id)
        if creating is not None:
            await creating.wait()

    async def destroy(self, instance_id: str, reason: str) -> None:
        """Destroy: mark the record destroying, ``stop`` the instance, remove the record.

        Raises :class:`InstanceNotFound` (or ``InvalidInstanceID``) for an unknown ID. While
        another Destroy of the same instance runs, waits for it: done if it removed the record,
        else tries again. Whatever ``stop`` raises leaves the record destroying.
        """
        while True:
            async with self.lock:
                record = self.get(instance_id)
                running = self._dying.get(instance_id)
                if running is None:
                    if self._stop is None:
                        await self.delete(instance_id)
                        return
                    record = msgspec.structs.replace(record, DestroyReason=reason)
                    await self.put(record)
                    done = self._dying[instance_id] = asyncio.Event()
                    break
            await running.wait()
            if instance_id not in self._records:
                return
        try:
            await self._stop(record)
            async with self.lock:
                if instance_id in self._records:
                    await self.delete(instance_id)
        finally:
            del self._dying[instance_id]
            done.set()

    async def merge_tags(self, instance_id: str, labels: Mapping[str, str]) -> None:
        """Label: merge ``labels`` into the instance's tags, overwriting keys that exist."""
        async with self.lock:
            record = self.get(instance_id)
            tags = {**record.Tags, **labels}
            await self.put(msgspec.structs.replace(record, Tags=tags))

    def matching(self, tags: Mapping[str, str] | None) -> list[R]:
        """The records whose tags include all of ``tags``, by ID."""
        if not tags:
            return sorted(self._records.values(), key=lambda record: record.ID)
        candidates = map(self._records.get, self._index.select(tags))
        return sorted(
            (r for r in candidates if r is not None and r.matches(tags)),
            key=lambda record: record.ID,
        )

    def encoded(self, records: list[R], with_properties: bool) -> bytes | Iterator[bytes]:
        """The wire's ``Descriptions`` array of ``records`` (cached ones), spliced from each
        record's encoded head, built once per change (``plugins/store/encoded.py``): bytes, or
        pieces for a large array."""
        heads = self._heads
        objects = []
        for record in records:
            head = heads.get(record.ID)
            if head is None:
                head = heads[record.ID] = encode_head(record.ID, record.LogicalID, record.Tags)
            properties = record.stored_properties() if with_properties else None
            objects.append(encode_description(head, properties))
        return descriptions_array(objects)

    async def put(self, record: R) -> None:
        """Write ``record`` durably, then cache it. Hold :attr:`lock`, except for a new ID
        reserved by :meth:`create`."""
        await self._writes.write(record.ID, self._encoder.encode(record))
        self._cache(record)

    async def delete(self, instance_id: str) -> None:
        """Remove the record of ``instance_id`` from disk, then the cache. Hold :attr:`lock`."""
        await asyncio.to_thread(self._store.remove, instance_id)
        self._uncache(instance_id)

    def _cache(self, record: R) -> None:
        self._uncache(record.ID)
        self._records[record.ID] = record
        self._index.add(record.ID, record.Tags)
        if record.LogicalID is not None:
            self._by_logical_id.setdefault(record.LogicalID, set()).add(record.ID)

    def _uncache(self, instance_id: str) -> None:
        old = self._records.pop(instance_id, None)
        self._heads.pop(instance_id, None)
        if old is None:
            return
        self._index.remove(instance_id, old.Tags)
        if old.LogicalID is not None:
            same = self._by_logical_id[old.LogicalID]
            same.discard(instance_id)
            if not same:
                del self._by_logical_id[old.LogicalID]
