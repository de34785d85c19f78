"""Group commit from the event loop: the documents written while a batch is on its way to disk
go together as the next batch, in one thread hop (:meth:`DocumentStore.write_many`).

So 1,000 concurrent Provisions cost a few batches of syncs, not 1,000 of them, and not as many
threads as writes: the default executor has few threads (``min(32, CPUs + 4)``), so writes
that each took a thread of their own could never batch more than that many at once.

Each writer's :meth:`WriteQueue.write` returns only once its batch is durable (or raises the
error that kept its document from being written). A store with group commit off
(``DocumentStore(group_commit=False)``, the benchmark's baseline) gets batches of one: one
record at a time, each with its own directory sync, as the store was before group commit.
"""

from __future__ import annotations

import asyncio
import logging

from .documents import DocumentStore

__all__ = ["WriteQueue"]

logger = logging.getLogger(__name__)

_Pending = tuple[str, bytes, "asyncio.Future[None]"]


class WriteQueue:
    """Writes documents of ``store`` in batches; see the module docstring. Use it from one
    event loop."""

    def __init__(self, store: DocumentStore) -> None:
        self._store = store
        self._queued: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, instance_id: str, document: bytes) -> None:
        """Replace the document of ``instance_id``; return once it is durable. Raises what
        :meth:`DocumentStore.write` raises. Documents of one ID are written in call order.

        A caller cancelled while waiting does not stop the write (it may still be acknowledged
        to no one, as a write whose answer was lost)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((instance_id, document, done))
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        await asyncio.shield(done)

    async def _flush(self) -> None:
        try:
            while self._queued:
                size = len(self._queued) if self._store.group_commit else 1
                batch, self._queued = self._queued[:size], self._queued[size:]
                await self._write(batch)
        finally:
            self._flusher = None
            if self._queued:  # the loop is closing: nobody will write them
                _fail(self._queued, RuntimeError("the document store stopped writing"))
                self._queued = []

    async def _write(self, batch: list[_Pending]) -> None:
        documents = [(instance_id, document) for instance_id, document, _ in batch]
        try:
            errors = await asyncio.to_thread(self._store.write_many, documents)
        except Exception as exc:  # the directory sync failed: no document is acknowledged
            _fail(batch, exc)
            return
        except BaseException as exc:
            _fail(batch, RuntimeError(f"the write was interrupted: {exc!r}"))
            raise
        for (_, _, done), error in zip(batch, errors, strict=True):
            if done.done():
                continue
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)


def _fail(batch: list[_Pending], error: Exception) -> None:
    for _, _, done in batch:
        if not done.done():
            done.set_exception(error)
