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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from instance_rpc.bench import Summary, drive, run_load
from instance_rpc.client import PluginClient

from . import requests
from .loadgen import fetch, hammer, http_post, http_request
from .servers import ServerProcess

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
Load = Callable[[], Awaitable[Summary]]


@dataclass(frozen=True)
class Settings:
    duration: float = 2.0
    instances: int = 100_000
    describe_repeats: int = 5
    concurrencies: tuple[int, ...] = (1, 64)
    rounds: int = 2


@dataclass(frozen=True)
class Measurement:
    """One server under one load: the client's figures, server CPU and collector pauses."""

    summary: Summary
    cpu_us_per_call: float
    gc_max_ms: float
    gc_over_limit: int


_RATIOS = ("calls_per_second", "p50_ms", "p99_ms")


@dataclass(frozen=True)
class Pair:
    """A figure of the daemon and the same figure of the baseline it is compared with."""

    figure: str
    ours: Measurement
    bare: Measurement

    @property
    def ratios(self) -> dict[str, float]:
        found = {
            key: _ratio(getattr(self.ours.summary, key), getattr(self.bare.summary, key))
            for key in _RATIOS
        }
        found["cpu_us_per_call"] = _ratio(self.ours.cpu_us_per_call, self.bare.cpu_us_per_call)
        return found

    def as_dict(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "ours": asdict(self.ours),
            "bare": asdict(self.bare),
            "ratios": self.ratios,
        }


def _ratio(ours: float, theirs: float) -> float:
    return round(ours / theirs, 2) if theirs else 0.0


@dataclass
class Results:
    pairs: list[Pair] = field(default_factory=list)
    memory_kib: dict[str, int] = field(default_factory=dict)
    metrics: list[Pair] = field(default_factory=list)
    """The daemon with metrics ("ours") against the daemon without ("bare")."""
    metrics_in_process_us: dict[str, float] = field(default_factory=dict)
    """A Validate through the JSON-RPC layer in one process, µs: "with" and "without" metrics."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "pairs": [pair.as_dict() for pair in self.pairs],
            "memory_kib": self.memory_kib,
            "metrics": [pair.as_dict() for pair in self.metrics],
            "metrics_in_process_us": self.metrics_in_process_us,
        }


async def _measure(server: ServerProcess, load: Load) -> Measurement:
    await server.collector()  # start the collector figures afresh
    cpu_before = server.cpu_seconds()
    summary = await load()
    cpu = server.cpu_seconds() - cpu_before
    collector = await server.collector()
    return Measurement(
        summary=summary,
        cpu_us_per_call=round(cpu * 1e6 / summary.calls, 1) if summary.calls else 0.0,
        gc_max_ms=collector["max_ms"],
        gc_over_limit=int(collector["over_limit"]),
    )


async def compare(
    settings: Settings,
    figure: str,
    ours: tuple[ServerProcess, Load],
    bare: tuple[ServerProcess, Load],
) -> Pair:
    """Measure both sides in turn, ``settings.rounds`` times; keep each side's best round (the
    most calls per second: the one least disturbed by whatever else the machine was doing)."""
    rounds: tuple[list[Measurement], list[Measurement]] = ([], [])
    for _ in range(settings.rounds):
        for (server, load), kept in zip((ours, bare), rounds, strict=True):
            kept.append(await _measure(server, load))

    def best(kept: list[Measurement]) -> Measurement:
        return max(kept, key=lambda m: m.summary.calls_per_second)

    return Pair(figure, best(rounds[0]), best(rounds[1]))


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


async def run_suite(settings: Settings) -> Results:
    results = Results()
    with tempfile.TemporaryDirectory(prefix="instance-rpc-bench-") as scratch:
        bare = await ServerProcess.start("bare", "benchmarks.bare", Path(scratch, "bare.sock"))
        try:
            daemon = await ServerProcess.start(
                "daemon", "benchmarks.daemon", Path(scratch, "daemon.sock"), ready="listening on"
            )
            try:
                results.memory_kib["bare_idle_rss"] = bare.memory_kib()["VmRSS"]
                results.memory_kib["daemon_idle_rss"] = daemon.memory_kib()["VmRSS"]
                small = settings.instances // 10
                await _provision(daemon, small)
                results.pairs.append(await _describe(settings, daemon, bare, small))
                await _provision(daemon, settings.instances - small)
                held = daemon.memory_kib()
                results.memory_kib["daemon_holding_rss"] = held["VmRSS"]
                results.memory_kib["daemon_holding_hwm"] = held["VmHWM"]
                results.pairs.append(await _describe(settings, daemon, bare, settings.instances))
                results.memory_kib["daemon_after_describe_hwm"] = daemon.memory_kib()["VmHWM"]
                results.pairs.extend(await _small_calls(settings, daemon, bare))
            finally:
                await daemon.stop()
            results.pairs.extend(await _quiet_daemon(settings, scratch, bare))
        finally:
            await bare.stop()
    return results
