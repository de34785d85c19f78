"""Group commit from the event loop: concurrent writes go to disk as one batch (one thread hop,
one directory sync), each acknowledged only after a sync that began with its document in place;
a document that cannot be written fails alone. Syncs are counted, nothing is timed."""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Iterator
from pathlib import Path

import pytest

from instance_rpc_plugins.store.documents import DocumentStore, InvalidInstanceID
from instance_rpc_plugins.store.syncfs import _kernel_release, syncfs_usable
from instance_rpc_plugins.store.write_queue import WriteQueue
from tests.plugins.test_group_commit import SyncLog, _acknowledged_after_a_covering_sync

WRITES = 200


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


async def _write_all(queue: WriteQueue, log: SyncLog, ids: list[str]) -> list[BaseException | None]:
    async def write(instance_id: str) -> None:
        await queue.write(instance_id, f'{{"ID":"{instance_id}"}}'.encode())
        log.record("acknowledged", instance_id)

    return await asyncio.gather(*(write(i) for i in ids), return_exceptions=True)


def _stored(state: Path) -> dict[str, bytes]:
    reopened = DocumentStore(state)
    try:
        return reopened.load_all(bytes)
    finally:
        reopened.close()


def _temporaries(state: Path) -> list[str]:
    return [path.name for path in state.iterdir() if path.name.startswith(".tmp-")]


async def test_concurrent_writes_share_one_batch_and_are_each_durable(state: Path) -> None:
    log = SyncLog()
    store = DocumentStore(state, sync_directory=log)
    try:
        ids = [f"i-{n}" for n in range(WRITES)]
        assert await _write_all(WriteQueue(store), log, ids) == [None] * WRITES
    finally:
        store.close()
    # The first write goes alone (nothing else was queued yet), the rest as the next batch.
    assert log.calls <= 2
    for instance_id in ids:
        assert _acknowledged_after_a_covering_sync(log, instance_id)
    assert _stored(state) == {i: f'{{"ID":"{i}"}}'.encode() for i in ids}


async def test_without_group_commit_each_write_is_its_own_batch(state: Path) -> None:
    log = SyncLog()
    store = DocumentStore(state, sync_directory=log, group_commit=False)
    try:
        ids = [f"i-{n}" for n in range(20)]
        assert await _write_all(WriteQueue(store), log, ids) == [None] * 20
    finally:
        store.close()
    assert log.calls == 20
    for instance_id in ids:
        assert _acknowledged_after_a_covering_sync(log, instance_id)


async def test_a_document_that_cannot_be_written_fails_alone(state: Path) -> None:
    log = SyncLog()
    store = DocumentStore(state, sync_directory=log)
    try:
        results = await _write_all(WriteQueue(store), log, ["i-1", "../escape", "i-2"])
    finally:
        store.close()
    assert results[0] is None
    assert results[2] is None
    assert isinstance(results[1], InvalidInstanceID)
    assert set(_stored(state)) == {"i-1", "i-2"}
    assert not _temporaries(state)


async def test_a_failed_directory_sync_acknowledges_no_one_in_its_batch(state: Path) -> None:
    log = SyncLog()
    log.fail_first = True
    store = DocumentStore(state, sync_directory=log)
    try:
        results = await _write_all(WriteQueue(store), log, ["i-1"])
        again = await _write_all(WriteQueue(store), log, ["i-2"])
    finally:
        store.close()
    assert isinstance(results[0], OSError)
    assert "injected directory sync failure" in str(results[0])
    assert again == [None]
    assert ("acknowledged", "i-1") not in log.events


async def test_writes_of_one_id_land_in_call_order(state: Path) -> None:
    store = DocumentStore(state)
    try:
        queue = WriteQueue(store)
        await asyncio.gather(*(queue.write("i-1", f'{{"n":{n}}}'.encode()) for n in range(10)))
    finally:
        store.close()
    assert _stored(state) == {"i-1": b'{"n":9}'}


@pytest.fixture
def few_descriptors() -> Iterator[int]:
    """This process may open only 64 more descriptors than it has open now, for the test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    allowed = len(list(Path("/proc/self/fd").iterdir())) + 64
    resource.setrlimit(resource.RLIMIT_NOFILE, (allowed, hard))
    try:
        yield allowed
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.skipif(not syncfs_usable(), reason="batches are synced file by file here")
def test_a_batch_synced_at_once_holds_no_descriptor_per_document(
    state: Path, few_descriptors: int
) -> None:
    """1,000 concurrent Provisions come with up to 1,000 connections: a batch that kept each
    document's file open until its sync would run out of descriptors (EMFILE)."""
    store = DocumentStore(state)
    try:
        documents = [(f"i-{n}", f'{{"n":{n}}}'.encode()) for n in range(few_descriptors * 2)]
        errors = store.write_many(documents)
    finally:
        store.close()
    assert errors == [None] * len(documents)
    assert _stored(state) == {i: document for i, document in documents}
    assert not _temporaries(state)


@pytest.mark.parametrize(
    ("release", "expected"),
    [("6.18.44-fc-v782", (6, 18)), ("5.8.0", (5, 8)), ("5.4.0-150-generic", (5, 4)), ("4", (4, 0))],
)
def test_the_kernel_release_decides_whether_syncfs_reports_errors(
    release: str, expected: tuple[int, int]
) -> None:
    assert _kernel_release(release) == expected
