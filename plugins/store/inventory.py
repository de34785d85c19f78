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
:meth:`Inventory.destroy`. A backend whose Destroy takes time (it passes ``stop``) has the
Destroy answer once it is committed: the record is marked destroying (``DestroyReason``,
written to disk, durably); from then on the instance is no longer described, counted or
labelled. Stopping it and removing its record finish in the background
(``plugins/store/background.py``, retried until they succeed), and :meth:`Inventory.resume`
restarts those a daemon stop interrupted. A destroying instance is never handed out by an
idempotent Provision: one with its ``LogicalID`` waits for the Destroy to finish and then
creates a new instance. A Destroy of a destroying instance succeeds at once (it joins the one
under way); once the record is gone, Destroy is ``instance not found``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Generic, TypeVar

import msgspec

from instance_rpc.errors import InstanceNotFound

from .background import BackgroundDestroys
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
        self._dying = BackgroundDestroys()
        self._destroying: set[str] = set()  # IDs of cached records marked destroying
        self._resumed = False
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

    def resume(self) -> None:
        """Start, in the background, the Destroys committed but not finished (a daemon stop
        interrupted them). Call it on the event loop; only the first call does anything."""
        if self._resumed:
            return
        self._resumed = True
        for instance_id in sorted(self._destroying):
            record = self._records[instance_id]
            logger.info("resuming the Destroy of %s", instance_id)
            self._finish(record)

    async def aclose(self) -> None:
        """Cancel the Destroys under way (their records stay destroying: :meth:`resume`)."""
        await self._dying.aclose()

    async def destroys_finished(self) -> None:
        """Return once no Destroy is under way in the background."""
        await self._dying.wait_all()

    def records(self) -> list[R]:
        """Every record, those being destroyed included."""
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
        """The instances not being destroyed."""
        return len(self._records) - len(self._destroying)

    def _with_logical_id(self, logical_id: str) -> tuple[R | None, R | None]:
        """The live record with ``logical_id``, and one being destroyed."""
        live: R | None = None
        dying: R | None = None
        for record in map(self._records.__getitem__, self._by_logical_id.get(logical_id, ())):
            if record.LogicalID == logical_id:
                if record.destroying:
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
                if dying is not None:
                    finished = self._finish(dying)
            if creating is not None:
                await creating.wait()  # then its instance is live, or its write failed
            elif dying is not None:
                await finished.wait()
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
        """Destroy: without ``stop``, remove the record; with it, commit the Destroy (mark the
        record destroying, durably) and return, the rest finishing in the background (see the
        module docstring). A Destroy of a destroying instance returns at once.

        Raises :class:`InstanceNotFound` (or ``InvalidInstanceID``) for an unknown ID, or one
        whose Destroy has finished.
        """
        async with self.lock:
            record = self.get(instance_id)
            if self._stop is None:
                await self.delete(instance_id)
                return
            if not record.destroying:
                record = msgspec.structs.replace(record, DestroyReason=reason)
                await self.put(record)
            self._finish(record)

    def _finish(self, record: R) -> asyncio.Event:
        """Start (unless under way) the background end of ``record``'s committed Destroy;
        the event set once it has finished."""
        stop, instance_id = self._stop, record.ID

        async def finish() -> None:
            current = self._records.get(instance_id)
            if current is None:
                return
            if stop is not None:
                await stop(current)
            async with self.lock:
                if instance_id in self._records:
                    await self.delete(instance_id)

        return self._dying.start(instance_id, finish)

    async def finished(self, instance_id: str) -> None:
        """Return once ``instance_id`` is not being destroyed in the background."""
        record = self._records.get(instance_id)
        if record is not None and record.destroying:
            await self._finish(record).wait()

    async def merge_tags(self, instance_id: str, labels: Mapping[str, str]) -> None:
        """Label: merge ``labels`` into the instance's tags, overwriting keys that exist.
        Raises :class:`InstanceNotFound` for an instance being destroyed too."""
        async with self.lock:
            record = self.get(instance_id)
            if record.destroying:
                raise InstanceNotFound(instance_id)
            tags = {**record.Tags, **labels}
            await self.put(msgspec.structs.replace(record, Tags=tags))

    def matching(self, tags: Mapping[str, str] | None) -> list[R]:
        """The records whose tags include all of ``tags``, by ID; not those being destroyed."""
        if not tags:
            everything = self._records.values()
            found = [r for r in everything if not r.destroying] if self._destroying else everything
            return sorted(found, key=lambda record: record.ID)
        candidates = map(self._records.get, self._index.select(tags))
        return sorted(
            (r for r in candidates if r is not None and not r.destroying and r.matches(tags)),
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
        if record.destroying:
            self._destroying.add(record.ID)
        self._index.add(record.ID, record.Tags)
        if record.LogicalID is not None:
            self._by_logical_id.setdefault(record.LogicalID, set()).add(record.ID)

    def _uncache(self, instance_id: str) -> None:
        old = self._records.pop(instance_id, None)
        self._heads.pop(instance_id, None)
        self._destroying.discard(instance_id)
        if old is None:
            return
        self._index.remove(instance_id, old.Tags)
        if old.LogicalID is not None:
            same = self._by_logical_id[old.LogicalID]
            same.discard(instance_id)
            if not same:
                del self._by_logical_id[old.LogicalID]
