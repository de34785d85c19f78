"""What metrics cost per call: the daemon with and without them, and their hooks in isolation.

Both daemons run ``serve --plugin memory --log-level warning`` (so the per-call log line, which
costs far more, does not drown the difference), one of them with ``--no-metrics``; the same small
calls go to each in alternating rounds, as every figure of the suite. In one process, without
HTTP, it also times a Validate through the JSON-RPC layer with metrics and without (best of
alternating rounds): a figure the noise of a shared machine disturbs far less.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from instance_rpc.observability.metrics import Metrics
from instance_rpc.rpc.service import InstanceService
from instance_rpc_plugins.memory import MemoryPlugin

from . import requests
from .servers import ServerProcess
from .suite import SMALL_BODIES, Pair, Settings, cheap_load, compare

__all__ = ["in_process_us_per_call", "measure_metrics_cost"]


async def _service_us_per_call(
    service: InstanceService, metrics: Metrics | None, calls: int
) -> float:
    body = requests.validate_body()
    started = time.perf_counter()
    for _ in range(calls):
        await service.handle(body, metrics)
    return (time.perf_counter() - started) * 1e6 / calls


async def in_process_us_per_call(calls: int = 20_000, rounds: int = 5) -> dict[str, float]:
    """Microseconds a Validate takes through :meth:`InstanceService.handle`, ``with`` metrics
    and ``without``: each side's best of ``rounds`` alternating rounds of ``calls`` calls."""
    service = InstanceService({"": MemoryPlugin()})
    metrics = Metrics(
        methods=service.method_names, types=service.type_names, backends=service.backends
    )
    best = {"with": float("inf"), "without": float("inf")}
    for _ in range(rounds):
        for side, observer in (("with", metrics), ("without", None)):
            took = await _service_us_per_call(service, observer, calls)
            best[side] = min(best[side], round(took, 2))
    return best


async def measure_metrics_cost(settings: Settings) -> list[Pair]:
    """Each small call at the highest concurrency: with metrics ("ours") against without."""
    concurrency = max(settings.concurrencies)
    quiet = ("--log-level", "warning")
    with tempfile.TemporaryDirectory(prefix="instance-rpc-bench-") as scratch:
        with_metrics = await ServerProcess.start(
            "daemon", "benchmarks.daemon", Path(scratch, "m.sock"), *quiet, ready="listening on"
        )
        try:
            without = await ServerProcess.start(
                "daemon without metrics",
                "benchmarks.daemon",
                Path(scratch, "n.sock"),
                *quiet,
                "--no-metrics",
                ready="listening on",
            )
            try:
                return [
                    await compare(
                        settings,
                        f"{method} loadgen c={concurrency}, log level warning",
                        (with_metrics, cheap_load(settings, with_metrics, body, concurrency)),
                        (without, cheap_load(settings, without, body, concurrency)),
                    )
                    for method, body in SMALL_BODIES
                ]
            finally:
                await without.stop()
        finally:
            await with_metrics.stop()
