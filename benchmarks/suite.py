"""The whole benchmark: our daemon and the bare baseline, side by side, in one run.

Every figure of the daemon is paired with the same figure of the bare baseline measured in the
same run, so the ratio between them survives a noisy machine. Server CPU is read from ``/proc``
for each server process.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from instance_rpc.client import PluginClient
from instance_rpc.testing.bench import Summary, drive, run_load

from . import requests
from .durable import file_provisions, store_writes
from .inventories import describe_picked, provision_picked, seeded_daemon
from .loadgen import fetch, hammer, http_post, http_request
from .measure import Load, Measurement, Pair, Results, Settings, compare
from .servers import ServerProcess
from .state import state_directory

__all__ = [
    "SMALL_BODIES",
    "Measurement",
    "Pair",
    "Results",
    "Settings",
    "cheap_load",
    "compare",
    "run_suite",
]

Call = Callable[[], Awaitable[object]]


async def _for_seconds(call: Call, concurrency: int, seconds: float) -> Summary:
    deadline = time.perf_counter() + seconds
    sample = await drive(lambda: call if time.perf_counter() < deadline else None, concurrency)
    return sample.summary()


async def _times(call: Call, times: int) -> Summary:
    remaining = itertools.repeat(call, times)
    sample = await drive(lambda: next(remaining, None), 1)
    return sample.summary()


def _plain_session(server: ServerProcess) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=server.socket_path))


async def _post(session: aiohttp.ClientSession, path: str, body: bytes) -> bytes:
    headers = {"Content-Type": "application/json"}
    async with session.post(f"http://h/{path}", data=body, headers=headers) as response:
        return await response.read()


SMALL_BODIES = (("validate", requests.validate_body()), ("provision", requests.provision_body()))


def cheap_load(settings: Settings, server: ServerProcess, body: bytes, concurrency: int) -> Load:
    async def load() -> Summary:
        sample = await hammer(
            server.socket_path, http_post(body), concurrency=concurrency, duration=settings.duration
        )
        return sample.summary()

    return load


async def _small_calls(
    settings: Settings, daemon: ServerProcess, bare: ServerProcess
) -> list[Pair]:
    pairs = []
    for (method, body), concurrency in itertools.product(SMALL_BODIES, settings.concurrencies):

        async def plugin_client(c: int = concurrency, m: str = method) -> Summary:
            report = await run_load(
                daemon.socket_path, method=m, concurrency=c, duration=settings.duration, keep=True
            )
            return report.summary

        async def plain_client(c: int = concurrency, b: bytes = body) -> Summary:
            async with _plain_session(bare) as session:
                return await _for_seconds(lambda: _post(session, "", b), c, settings.duration)

        pairs.append(
            await compare(
                settings,
                f"{method} loadgen c={concurrency}",
                (daemon, cheap_load(settings, daemon, body, concurrency)),
                (bare, cheap_load(settings, bare, body, concurrency)),
            )
        )
        pairs.append(
            await compare(
                settings,
                f"{method} PluginClient c={concurrency}",
                (daemon, plugin_client),
                (bare, plain_client),
            )
        )
    return pairs


async def _quiet_daemon(settings: Settings, scratch: str, bare: ServerProcess) -> list[Pair]:
    """The same small calls at the highest concurrency against a daemon logging only warnings:
    how much of the daemon's CPU is its one log line per call."""
    quiet = await ServerProcess.start(
        "daemon",
        "benchmarks.daemon",
        Path(scratch, "quiet.sock"),
        "--log-level",
        "warning",
        ready="listening on",
    )
    concurrency = max(settings.concurrencies)
    try:
        return [
            await compare(
                settings,
                f"{method} loadgen c={concurrency}, log level warning",
                (quiet, cheap_load(settings, quiet, body, concurrency)),
                (bare, cheap_load(settings, bare, body, concurrency)),
            )
            for method, body in SMALL_BODIES
        ]
    finally:
        await quiet.stop()


async def _provision(daemon: ServerProcess, count: int) -> None:
    request = http_post(requests.provision_body())
    sample = await hammer(daemon.socket_path, request, concurrency=16, count=count)
    if sample.errors:
        raise RuntimeError(f"{sample.errors} of {count} provisions failed")


async def _describe(
    settings: Settings, daemon: ServerProcess, bare: ServerProcess, size: int
) -> Pair:
    """DescribeInstances of every instance (``size``) with properties, into typed Descriptions;
    the baseline sends the daemon's own answer, pre-encoded, to a client that only reads it."""
    answer = await fetch(daemon.socket_path, http_post(requests.describe_body()))
    name = f"describe-{size}"
    await fetch(bare.socket_path, http_request("PUT", f"/body/{name}", answer))

    async def typed(client: PluginClient) -> None:
        found = await client.describe_instances(None, properties=True)
        if len(found) != size:
            raise RuntimeError(f"described {len(found)} instances, expected {size}")

    async def ours() -> Summary:
        async with PluginClient(daemon.socket_path) as client:
            await client.handshake()
            return await _times(lambda: typed(client), settings.describe_repeats)

    async def theirs() -> Summary:
        async with _plain_session(bare) as session:
            return await _times(lambda: _post(session, name, b"{}"), settings.describe_repeats)

    return await compare(
        settings,
        f"describe {size} properties=True",
        (daemon, ours),
        (bare, theirs),
    )


async def _memory_picked(settings: Settings, scratch: Path, daemon: ServerProcess) -> Pair:
    """The filtered describe on the main daemon against a memory daemon holding only the few."""
    few = await ServerProcess.start(
        "memory-few", "benchmarks.daemon", scratch / "few.sock", ready="listening on"
    )
    try:
        await provision_picked(few, settings.picked)
        return await describe_picked(
            settings, "memory", settings.instances, settings.picked, daemon, few
        )
    finally:
        await few.stop()


async def _stored_picked(settings: Settings, scratch: Path, state: Path) -> list[Pair]:
    """The filtered describe on the file and process backends, large against few."""
    pairs = []
    for backend, total in (
        ("file", settings.instances),
        ("process", settings.process_instances),
    ):
        large = await seeded_daemon(scratch, state, backend, total, settings.picked)
        try:
            few = await seeded_daemon(scratch, state, backend, settings.picked, settings.picked)
            try:
                pairs.append(
                    await describe_picked(settings, backend, total, settings.picked, large, few)
                )
            finally:
                await few.stop()
        finally:
            await large.stop()
    return pairs


async def run_suite(settings: Settings) -> Results:
    results = Results()
    with tempfile.TemporaryDirectory(prefix="instance-rpc-bench-") as directory:
        scratch = Path(directory)
        bare = await ServerProcess.start("bare", "benchmarks.bare", scratch / "bare.sock")
        try:
            daemon = await ServerProcess.start(
                "daemon", "benchmarks.daemon", scratch / "daemon.sock", ready="listening on"
            )
            try:
                results.memory_kib["bare_idle_rss"] = bare.memory_kib()["VmRSS"]
                results.memory_kib["daemon_idle_rss"] = daemon.memory_kib()["VmRSS"]
                small = settings.instances // 10
                await _provision(daemon, small)
                results.pairs.append(await _describe(settings, daemon, bare, small))
                await _provision(daemon, settings.instances - small - settings.picked)
                await provision_picked(daemon, settings.picked)
                held = daemon.memory_kib()
                results.memory_kib["daemon_holding_rss"] = held["VmRSS"]
                results.memory_kib["daemon_holding_hwm"] = held["VmHWM"]
                results.pairs.append(await _describe(settings, daemon, bare, settings.instances))
                results.memory_kib["daemon_after_describe_hwm"] = daemon.memory_kib()["VmHWM"]
                results.pairs.append(await _memory_picked(settings, scratch, daemon))
                results.pairs.extend(await _small_calls(settings, daemon, bare))
            finally:
                await daemon.stop()
            results.pairs.extend(await _quiet_daemon(settings, str(scratch), bare))
        finally:
            await bare.stop()
        with state_directory(settings.state_root) as state:
            results.pairs.extend(await _stored_picked(settings, scratch, state))
            results.pairs.append(await file_provisions(settings, scratch, state))
            results.pairs.append(await store_writes(settings, state))
    return results
