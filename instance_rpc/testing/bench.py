"""Load for any Instance plugin: timed calls through :class:`PluginClient`, and their figures.

:func:`run_load` keeps ``concurrency`` calls in flight for ``duration`` seconds and reports calls
per second, latency percentiles and failures. Instances it provisions are tagged with
:data:`BENCH_TAG` and a run token, and destroyed when it ends (unless told to keep them), so a
run against a real plugin cleans up after itself.

A call is timed until it answers. A backend whose Destroy answers once the Destroy is committed
(the process and docker backends: the graceful stop finishes in the background) is measured at
the rate it commits Destroys, not the rate its instances stop.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from ssl import SSLContext

from ..client import PluginClient
from ..errors import InstanceRPCError
from ..types import TERMINATION, Spec

__all__ = [
    "BENCH_TAG",
    "METHODS",
    "LoadReport",
    "Sample",
    "Summary",
    "drive",
    "percentile",
    "run_load",
]

BENCH_TAG = "instance-rpc-bench"
METHODS = ("validate", "provision", "describe", "mix")

# The share of each call in ``mix``: an orchestrator mostly reads, sometimes changes.
_MIX_CALLS = ("validate", "provision", "describe", "label", "destroy")
_MIX_WEIGHTS = (30, 20, 30, 10, 10)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of the (sorted) values lie; 0.0 for none."""
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


@dataclass(frozen=True)
class Summary:
    """The figures of a sample: calls answered, failures, calls per second, latencies in ms."""

    calls: int
    errors: int
    seconds: float
    calls_per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass
class Sample:
    """Latencies in seconds of the calls made, how many failed, and the wall time they took."""

    latencies: list[float]
    errors: int
    elapsed: float

    def summary(self) -> Summary:
        ordered = sorted(self.latencies)
        calls = len(ordered)
        return Summary(
            calls=calls,
            errors=self.errors,
            seconds=round(self.elapsed, 3),
            calls_per_second=round(calls / self.elapsed, 1) if self.elapsed > 0 else 0.0,
            p50_ms=round(percentile(ordered, 0.50) * 1000, 3),
            p99_ms=round(percentile(ordered, 0.99) * 1000, 3),
            max_ms=round((ordered[-1] if ordered else 0.0) * 1000, 3),
        )


@dataclass(frozen=True)
class LoadReport:
    """What :func:`run_load` did and measured."""

    target: str
    method: str
    concurrency: int
    seed: int
    summary: Summary
    destroyed: int


class _Workload:
    """The calls of one run, chosen by a seeded generator, and the instances they created."""

    def __init__(self, client: PluginClient, method: str, seed: int) -> None:
        self._client = client
        self._method = method
        self._random = random.Random(seed)
        self._tags = {BENCH_TAG: secrets.token_hex(6)}
        self._number = 0
        self.created: list[str] = []

    def next_call(self) -> Callable[[], Awaitable[object]]:
        name = self._method
        if name == "mix":
            name = self._random.choices(_MIX_CALLS, _MIX_WEIGHTS)[0]
            if name in ("label", "destroy") and not self.created:
                name = "provision"
        return getattr(self, f"_{name}")  # type: ignore[no-any-return]

    def _properties(self) -> dict[str, object]:
        self._number += 1
        return {"instanceType": "small", "disk": {"sizeGb": 10}, "seq": self._number}

    async def _validate(self) -> None:
        await self._client.validate(self._properties())

    async def _provision(self) -> None:
        instance = await self._client.provision(
            Spec(tags=self._tags, properties=self._properties())
        )
        if instance is not None:
            self.created.append(instance)

    async def _describe(self) -> None:
        tags = self._tags if self._method == "mix" else None
        await self._client.describe_instances(tags, properties=True)

    async def _label(self) -> None:
        instance = self._random.choice(self.created)
        await self._client.label(instance, {"touched": str(self._number)})

    async def _destroy(self) -> None:
        instance = self.created.pop(self._random.randrange(len(self.created)))
        await self._client.destroy(instance, TERMINATION)


async def drive(
    calls: Callable[[], Callable[[], Awaitable[object]] | None], concurrency: int
) -> Sample:
    """Keep ``concurrency`` calls in flight until ``calls`` has no more to give.

    A call failing with :class:`InstanceRPCError` counts as an error; other exceptions propagate.
    """
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        while (call := calls()) is not None:
            started = time.perf_counter()
            try:
                await call()
            except InstanceRPCError:
                errors += 1
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Sample(latencies, errors, time.perf_counter() - started)


async def run_load(
    target: str | os.PathLike[str],
    *,
    method: str,
    concurrency: int,
    duration: float,
    seed: int = 0,
    keep: bool = False,
    plugins_dir: Path | None = None,
    ssl: SSLContext | None = None,
) -> LoadReport:
    """Call the plugin at ``target`` with ``method`` from ``concurrency`` tasks for ``duration``
    seconds; then destroy the instances the run created unless ``keep``. ``ssl``: for HTTPS."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}: {method!r}")
    async with PluginClient(target, plugins_dir=plugins_dir, ssl=ssl) as client:
        await client.handshake()
        workload = _Workload(client, method, seed)
        deadline = time.perf_counter() + duration
        sample = await drive(
            lambda: workload.next_call() if time.perf_counter() < deadline else None, concurrency
        )
        destroyed = 0 if keep else await _destroy_all(client, workload.created, concurrency)
    return LoadReport(
        target=str(target),
        method=method,
        concurrency=concurrency,
        seed=seed,
        summary=sample.summary(),
        destroyed=destroyed,
    )


async def _destroy_all(client: PluginClient, instances: list[str], concurrency: int) -> int:
    pending = list(instances)

    def next_destroy() -> Callable[[], Awaitable[None]] | None:
        if not pending:
            return None
        instance = pending.pop()
        return lambda: client.destroy(instance, TERMINATION)

    sample = await drive(next_destroy, concurrency)
    return len(sample.latencies) - sample.errors
