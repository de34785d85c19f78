"""How each figure is measured: two sides in alternating rounds, each keeping its best.

A side is a server process (its CPU read from ``/proc``, its collector figures asked for) or,
for figures with no server, this process itself.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from instance_rpc.testing.bench import Summary

from . import procstat
from .servers import ServerProcess

__all__ = ["LOCAL", "Load", "Measurement", "Pair", "Results", "Settings", "compare"]

Load = Callable[[], Awaitable[Summary]]
LOCAL = None
"""The side of a figure measured in this process (no server): its CPU is this process's."""


@dataclass(frozen=True)
class Settings:
    duration: float = 2.0
    instances: int = 100_000
    describe_repeats: int = 5
    concurrencies: tuple[int, ...] = (1, 64)
    rounds: int = 3
    provisions: int = 1_000
    """Concurrent Provisions to the file backend (the durable-writes figure)."""
    state_root: str | None = None
    """Where the file and process backends' state directories go (a fresh directory in it,
    removed at the end); ``None``: the default state root, where ``serve --plugin file`` keeps
    its state (:func:`benchmarks.state.default_state_root`)."""

    @property
    def picked(self) -> int:
        """Instances a filtered DescribeInstances matches: 100 of 100,000."""
        return max(1, min(100, self.instances // 1000))

    @property
    def process_instances(self) -> int:
        """The process backend's large inventory: a tenth of the others' (records are cheap to
        write, but a tenth keeps its load at start-up short)."""
        return max(self.instances // 10, self.picked * 2)

    @property
    def filter_repeats(self) -> int:
        return self.describe_repeats * 4


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
    log_line_us: dict[str, float] = field(default_factory=dict)
    """The per-call log line in one process, µs: "now, N per iteration" and "before, ..."."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "pairs": [pair.as_dict() for pair in self.pairs],
            "memory_kib": self.memory_kib,
            "metrics": [pair.as_dict() for pair in self.metrics],
            "metrics_in_process_us": self.metrics_in_process_us,
            "log_line_us": self.log_line_us,
        }


async def _measure(server: ServerProcess | None, load: Load) -> Measurement:
    if server is None:
        cpu_before = procstat.cpu_seconds(os.getpid())
        summary = await load()
        cpu = procstat.cpu_seconds(os.getpid()) - cpu_before
        collector = {"max_ms": 0.0, "over_limit": 0.0}
    else:
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
    ours: tuple[ServerProcess | None, Load],
    bare: tuple[ServerProcess | None, Load],
) -> Pair:
    """Measure both sides in turn, ``settings.rounds`` times; keep each side's best round (the
    most calls per second: the one least disturbed by whatever else the machine was doing),
    with the least server CPU per call of all its rounds."""
    started = time.perf_counter()
    rounds: tuple[list[Measurement], list[Measurement]] = ([], [])
    for _ in range(settings.rounds):
        for (server, load), kept in zip((ours, bare), rounds, strict=True):
            kept.append(await _measure(server, load))

    def best(kept: list[Measurement]) -> Measurement:
        # CPU per call is a cost: another process's load only ever adds to it, so its least is
        # the best estimate, whichever round it came from.
        fastest = max(kept, key=lambda m: m.summary.calls_per_second)
        cheapest = (
            min(m.cpu_us_per_call for m in kept if m.summary.calls)
            if fastest.summary.calls
            else 0.0
        )
        return dataclasses.replace(fastest, cpu_us_per_call=cheapest)

    print(f"{figure}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    return Pair(figure, best(rounds[0]), best(rounds[1]))
