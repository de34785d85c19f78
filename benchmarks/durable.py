"""The file backend's durable writes: many concurrent Provisions, each on disk before it is
acknowledged, with group commit (one directory ``fsync`` for a batch) against one directory
``fsync`` per record (``--per-record-fsync``, the store as it was before group commit).

Two figures: end to end through a file-backend daemon (what callers see), and the document
store alone, written through a :class:`WriteQueue` as the backends write it (what group commit
itself moves, without HTTP and JSON-RPC).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from pathlib import Path

from instance_rpc.testing.bench import Sample, Summary
from instance_rpc_plugins.store.documents import DocumentStore
from instance_rpc_plugins.store.write_queue import WriteQueue

from . import requests
from .daemon import PER_RECORD_FSYNC
from .loadgen import hammer, http_post
from .measure import LOCAL, Pair, Settings, compare
from .servers import ServerProcess

__all__ = ["file_provisions", "store_writes"]


async def _file_daemon(scratch: Path, state: Path, name: str, *options: str) -> ServerProcess:
    return await ServerProcess.start(
        name,
        "benchmarks.daemon",
        scratch / f"{name}.sock",
        "--plugin",
        "file",
        "--dir",
        str(state / name),
        *options,
        ready="listening on",
    )


_IN_FLIGHT = 100
"""Connections at once, each making its share of the Provisions in turn. With 1,000 connections
of one call each, accepting and closing them costs the daemon about as much CPU as the calls
(here 4,300 against 5,900 Provisions/s with group commit, 1,200 against 1,300 without): the
figure would measure connection set-up more than group commit."""


async def file_provisions(settings: Settings, scratch: Path, state: Path) -> Pair:
    """``settings.provisions`` Provisions to a file daemon, 100 in flight at once; sockets in
    ``scratch``, state directories in ``state``."""
    # Earlier figures leave their seeded records (110,000 files at the default sizes) to be
    # written back: the first batch's syncfs would wait for all of them, and the kernel's
    # write-back would compete with the rounds. Start from a file system with nothing to write.
    await asyncio.to_thread(os.sync)
    grouped = await _file_daemon(scratch, state, "file-grouped")
    try:
        single = await _file_daemon(scratch, state, "file-per-record", PER_RECORD_FSYNC)
        try:
            request = http_post(requests.provision_body())
            count = settings.provisions
            in_flight = min(count, _IN_FLIGHT)

            async def load(server: ServerProcess) -> Summary:
                sample = await hammer(
                    server.socket_path, request, concurrency=in_flight, count=count
                )
                return sample.summary()

            return await compare(
                settings,
                f"file provision {count}, {in_flight} at a time, group commit vs per-record fsync",
                (grouped, lambda: load(grouped)),
                (single, lambda: load(single)),
            )
        finally:
            await single.stop()
    finally:
        await grouped.stop()


async def store_writes(settings: Settings, state: Path) -> Pair:
    """``settings.provisions`` concurrent writes to a :class:`DocumentStore` through a
    :class:`WriteQueue` (batches in one thread hop; one at a time with per-record fsync), in
    this process."""
    document = requests.provision_body()
    numbers = itertools.count()

    async def load(store: DocumentStore) -> Summary:
        latencies: list[float] = []
        queue = WriteQueue(store)

        async def write() -> None:
            instance_id = f"w-{next(numbers)}"
            sent = time.perf_counter()
            await queue.write(instance_id, document)
            latencies.append(time.perf_counter() - sent)

        started = time.perf_counter()
        await asyncio.gather(*(write() for _ in range(settings.provisions)))
        return Sample(latencies, 0, time.perf_counter() - started).summary()

    grouped = DocumentStore(state / "store-grouped")
    single = DocumentStore(state / "store-per-record", group_commit=False)
    try:
        return await compare(
            settings,
            f"file store {settings.provisions} concurrent writes, group commit vs per-record fsync",
            (LOCAL, lambda: load(grouped)),
            (LOCAL, lambda: load(single)),
        )
    finally:
        grouped.close()
        single.close()
