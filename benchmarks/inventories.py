"""DescribeInstances matching a few instances of many, against the same query on an inventory
of only those few: does a filtered describe cost what it answers, or what the backend holds?

The memory backend's large inventory is the suite's main daemon; the file and process
backends' are written straight into their state directories, as Provision leaves them, and
loaded by a daemon started on them (provisioning through the wire would take most of the run:
the file backend syncs each record to disk, the process backend starts a process per record).
The process records are of instances whose ``Init`` (``exit 0``) has ended.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec

from instance_rpc.testing.bench import Summary
from instance_rpc_plugins.process import EXITED, ProcessRecord
from instance_rpc_plugins.store.inventory import Record, now_utc

from . import requests
from .loadgen import fetch, hammer, http_post
from .measure import Pair, Settings, compare
from .servers import ServerProcess

__all__ = ["describe_picked", "provision_picked", "seeded_daemon", "write_records"]


def _record(backend: str, index: int, picked: bool) -> Record:
    record_id = f"{backend}-{index:016x}"
    tags = {**requests.TAGS, **(requests.PICKED if picked else {})}
    created = now_utc()
    if backend == "process":
        return ProcessRecord(
            ID=record_id,
            Tags=tags,
            Properties=requests.PROPERTIES,
            Created=created,
            Init="exit 0",
            State=EXITED,
            ExitCode=0,
            StartedAt=created,
            EndedAt=created,
        )
    return Record(ID=record_id, Tags=tags, Properties=requests.PROPERTIES, Created=created)


def write_records(directory: Path, backend: str, total: int, picked: int) -> None:
    """``total`` records of ``backend`` in ``directory``, the last ``picked`` of them tagged
    :data:`requests.PICKED`. Not synced: a benchmark's fixture, not data to keep."""
    directory.mkdir(parents=True)
    encoder = msgspec.json.Encoder()
    for index in range(total):
        record = _record(backend, index, picked=index >= total - picked)
        (directory / f"{record.ID}.json").write_bytes(encoder.encode(record))


async def seeded_daemon(
    scratch: Path, state: Path, backend: str, total: int, picked: int, *options: str
) -> ServerProcess:
    """A daemon serving ``backend`` on a state directory in ``state`` seeded with ``total``
    records, its socket in ``scratch``."""
    name = f"{backend}-{total}"
    directory = state / name
    await asyncio.to_thread(write_records, directory, backend, total, picked)
    return await ServerProcess.start(
        name,
        "benchmarks.daemon",
        scratch / f"{name}.sock",
        "--plugin",
        backend,
        "--dir",
        str(directory),
        *options,
        ready="listening on",
    )


async def provision_picked(daemon: ServerProcess, count: int) -> None:
    """Provision ``count`` instances tagged :data:`requests.PICKED` through the wire."""
    request = http_post(requests.provision_body(requests.PICKED))
    sample = await hammer(daemon.socket_path, request, concurrency=16, count=count)
    if sample.errors:
        raise RuntimeError(f"{sample.errors} of {count} provisions failed")


async def describe_picked(
    settings: Settings,
    backend: str,
    total: int,
    picked: int,
    large: ServerProcess,
    small: ServerProcess,
) -> Pair:
    """The filtered DescribeInstances (with properties) on ``large`` (``total`` instances) and
    on ``small`` (only the ``picked`` ones), one call at a time."""
    request = http_post(requests.describe_body(requests.PICKED))
    for server in (large, small):
        found = (await fetch(server.socket_path, request)).count(b'"ID":')
        if found != picked:
            raise RuntimeError(f"{server.name} described {found} instances, expected {picked}")

    async def on(server: ServerProcess) -> Summary:
        sample = await hammer(
            server.socket_path, request, concurrency=1, count=settings.filter_repeats
        )
        return sample.summary()

    return await compare(
        settings,
        f"describe {picked} of {total} by tag, {backend}",
        (large, lambda: on(large)),
        (small, lambda: on(small)),
    )
