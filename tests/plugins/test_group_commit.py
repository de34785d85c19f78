"""Group commit in the document store: concurrent writes share a directory sync, and each is
acknowledged only after a sync that began once its document was in place. The syncs are counted
through the store's ``sync_directory`` hook (which still syncs for real); nothing is timed."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from instance_rpc_plugins.store.documents import DocumentStore
from instance_rpc_plugins.store.group_commit import fsync_directory

WRITERS = 16
DEADLINE_S = 10.0


class SyncLog:
    """A ``sync_directory`` hook that records what each sync saw and can hold the first one."""

    def __init__(self, hold_first_until: Callable[[], bool] | None = None) -> None:
        self.hold_first_until = hold_first_until
        self.fail_first = False
        self.events: list[tuple[str, object]] = []
        self._lock = threading.Lock()
        self.calls = 0

    def record(self, kind: str, what: object) -> int:
        with self._lock:
            self.events.append((kind, what))
            return len(self.events) - 1

    def __call__(self, directory: Path) -> None:
        self.calls += 1
        first = self.calls == 1
        self.record("sync-start", frozenset(os.listdir(directory)))
        if first and self.hold_first_until is not None:
            deadline = time.monotonic() + DEADLINE_S
            while not self.hold_first_until():
                assert time.monotonic() < deadline, "writers never all waited"
                time.sleep(0.001)
        if first and self.fail_first:
            self.record("sync-failed", None)
            raise OSError(5, "injected directory sync failure")
        fsync_directory(directory)
        self.record("sync-end", None)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def _write_all(store: DocumentStore, log: SyncLog, count: int) -> list[BaseException | None]:
    def write(index: int) -> BaseException | None:
        instance_id = f"i-{index}"
        try:
            store.write(instance_id, f'{{"ID":"{instance_id}"}}'.encode())
        except OSError as exc:
            return exc
        log.record("acknowledged", instance_id)
        return None

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(write, range(count)))


def _acknowledged_after_a_covering_sync(log: SyncLog, instance_id: str) -> bool:
    """Some sync began with the document in place and ended before its acknowledgment."""
    name = f"{instance_id}.json"
    acknowledged = log.events.index(("acknowledged", instance_id))
    started_with_it = [
        i
        for i, (kind, seen) in enumerate(log.events)
        if kind == "sync-start" and isinstance(seen, frozenset) and name in seen
    ]
    for start in started_with_it:
        end = next(
            (i for i in range(start + 1, len(log.events)) if log.events[i][0] == "sync-end"),
            None,
        )
        if end is not None and end < acknowledged:
            return True
    return False


def _write_with_the_first_sync_held(
    state: Path, *, fail_first: bool = False
) -> tuple[SyncLog, list[BaseException | None]]:
    """WRITERS concurrent writes, the first directory sync held until all of them wait for one
    (and failing if ``fail_first``): the log and each writer's failure."""
    store_box: list[DocumentStore] = []
    log = SyncLog(hold_first_until=lambda: store_box[0].waiting_writers() == WRITERS)
    log.fail_first = fail_first
    store = DocumentStore(state, sync_directory=log)
    store_box.append(store)
    try:
        return log, _write_all(store, log, WRITERS)
    finally:
        store.close()


def test_concurrent_writes_share_the_directory_sync_and_are_all_durable(state: Path) -> None:
    log, failures = _write_with_the_first_sync_held(state)
    assert failures == [None] * WRITERS
    # The first sync covers whoever had registered when it began; the second covers the rest.
    assert 1 <= log.calls <= 2
    for index in range(WRITERS):
        assert _acknowledged_after_a_covering_sync(log, f"i-{index}")
    reopened = DocumentStore(state)
    try:
        documents = reopened.load_all(bytes)
    finally:
        reopened.close()
    assert documents == {f"i-{i}": f'{{"ID":"i-{i}"}}'.encode() for i in range(WRITERS)}


def test_without_group_commit_every_write_syncs_the_directory(state: Path) -> None:
    log = SyncLog()
    store = DocumentStore(state, sync_directory=log, group_commit=False)
    try:
        assert not store.group_commit
        assert _write_all(store, log, WRITERS) == [None] * WRITERS
    finally:
        store.close()
    assert log.calls == WRITERS
    for index in range(WRITERS):
        assert _acknowledged_after_a_covering_sync(log, f"i-{index}")


def test_a_failed_sync_acknowledges_no_one_and_a_waiting_writer_syncs_again(
    state: Path,
) -> None:
    log, failures = _write_with_the_first_sync_held(state, fail_first=True)
    failed = [f for f in failures if f is not None]
    assert len(failed) == 1  # the writer that led the failed sync
    assert "injected directory sync failure" in str(failed[0])
    assert log.calls == 2
    for index, failure in enumerate(failures):
        if failure is None:
            assert _acknowledged_after_a_covering_sync(log, f"i-{index}")


def test_remove_syncs_only_when_something_was_removed(state: Path) -> None:
    log = SyncLog()
    store = DocumentStore(state, sync_directory=log)
    try:
        store.write("i-1", b"{}")
        store.remove("i-1")
        store.remove("i-1")
    finally:
        store.close()
    assert log.calls == 2  # the write and the first remove
    assert not (state / "i-1.json").exists()
