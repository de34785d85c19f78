"""What metrics cost per call: the daemon with and without them, and their hooks in isolation.

Both daemons run ``serve --plugin memory --log-level warning`` (so the per-call log line, which
costs far more, does not drown the difference), one of them with ``--no-metrics``; the same small
calls go to each in alternating rounds, as every figure of the suite. The isolated figure times
the hooks one call makes (:meth:`~instance_rpc.metrics.Metrics.call_started` and
:meth:`~instance_rpc.metrics.Metrics.call_finished`) in one process, without HTTP.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from instance_rpc.metrics import Metrics
from instance_rpc.service import InstanceService
from plugins.memory import MemoryPlugin

from .servers import ServerProcess
from .suite import SMALL_BODIES, Pair, Settings, cheap_load, compare

__all__ = ["hooks_us_per_call", "measure_metrics_cost"]


def hooks_us_per_call(calls: int = 200_000) -> float:
    """Microseconds the metrics hooks of one answered call take, in this process."""
    service = InstanceService({"": MemoryPlugin()})
    metrics = Metrics(methods=service.method_names, types=service.type_names)
    method = "Instance.Validate"
    started = time.perf_counter()
    for _ in range(calls):
        metrics.call_started(method)
        metrics.call_finished(method, "", None, 0.0003)
    return round((time.perf_counter() - started) * 1e6 / calls, 2)


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
