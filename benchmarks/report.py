"""The benchmark's results as text: a Markdown table with ratios, the targets, the machine."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from typing import Any

from .suite import Measurement, Pair, Results

__all__ = ["Target", "machine", "render", "targets"]

_COLUMNS = (
    ("calls/s", "calls_per_second"),
    ("p50 ms", "p50_ms"),
    ("p99 ms", "p99_ms"),
    ("server CPU µs/call", "cpu_us_per_call"),
)
_MB = 1_000_000


@dataclass(frozen=True)
class Target:
    figure: str
    limit: str
    measured: str
    met: bool


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.partition(":")[2].strip()
                    break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _value(measurement: Measurement, key: str) -> float:
    if key == "cpu_us_per_call":
        return measurement.cpu_us_per_call
    return float(getattr(measurement.summary, key))


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _row(pair: Pair) -> str:
    ratios = pair.ratios
    cells = [pair.figure]
    for _, key in _COLUMNS:
        cells.append(f"{_number(_value(pair.ours, key))} ({ratios[key]:.2f}x)")
    cells.append(f"{pair.ours.gc_max_ms:.1f}")
    cells.append(str(pair.ours.summary.errors))
    return "| " + " | ".join(cells) + " |"


def _bare_row(pair: Pair) -> str:
    cells = [pair.figure] + [_number(_value(pair.bare, key)) for _, key in _COLUMNS]
    return "| " + " | ".join(cells) + " |"


def _mb(kib: int) -> float:
    return kib * 1024 / _MB


def _pair(results: Results, figure: str) -> Pair | None:
    return next((pair for pair in results.pairs if pair.figure == figure), None)


def targets(results: Results) -> list[Target]:
    found = []
    for pair in results.pairs:
        if "loadgen c=64" in pair.figure:
            ratio = pair.ratios["cpu_us_per_call"]
            found.append(
                Target(
                    f"server CPU/call, {pair.figure}", "<= 2.0x bare", f"{ratio:.2f}x", ratio <= 2.0
                )
            )
    small_64 = [p for p in results.pairs if "c=64" in p.figure]
    if small_64:
        worst = max(small_64, key=lambda p: p.ours.summary.p99_ms)
        found.append(
            Target(
                "p99 small calls c=64 (worst)",
                "<= 10 ms",
                f"{worst.ours.summary.p99_ms:.2f} ms ({worst.figure})",
                worst.ours.summary.p99_ms <= 10,
            )
        )
    pauses = max((p.ours.gc_max_ms for p in results.pairs), default=0.0)
    found.append(
        Target("daemon collector pauses (longest)", "<= 5 ms", f"{pauses:.1f} ms", pauses <= 5)
    )
    for method in ("validate", "provision"):
        client = _pair(results, f"{method} PluginClient c=1")
        if client is not None:
            ratio = client.ratios["calls_per_second"]
            found.append(
                Target(
                    f"calls/s, {client.figure}",
                    ">= 0.85x aiohttp client on bare",
                    f"{ratio:.2f}x",
                    ratio >= 0.85,
                )
            )
    describes = [p for p in results.pairs if p.figure.startswith("describe")]
    if describes:
        largest = describes[-1]
        ratio = largest.ratios["p50_ms"]
        found.append(Target(f"time, {largest.figure}", "<= 4x bare", f"{ratio:.2f}x", ratio <= 4))
    held = results.memory_kib.get("daemon_holding_hwm")
    if held is not None:
        found.append(
            Target(
                "daemon peak RSS holding the instances",
                "<= 150 MB",
                f"{_mb(held):.0f} MB",
                _mb(held) <= 150,
            )
        )
    return found


def _metrics_lines(results: Results) -> list[str]:
    """The daemon with metrics against the same daemon without (both at log level warning)."""
    if not results.metrics:
        return []
    rows = []
    for pair in results.metrics:
        added = pair.ours.cpu_us_per_call - pair.bare.cpu_us_per_call
        cells = [
            pair.figure,
            f"{_number(pair.ours.summary.calls_per_second)} / "
            f"{_number(pair.bare.summary.calls_per_second)}",
            f"{_number(pair.ours.cpu_us_per_call)} / {_number(pair.bare.cpu_us_per_call)}",
            f"{added:+.1f} ({pair.ratios['cpu_us_per_call']:.2f}x)",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return [
        "Metrics: with / without (--no-metrics), same run:",
        "",
        "| figure | calls/s | server CPU µs/call | metrics µs/call |",
        "|---|---|---|---|",
        *rows,
        "",
        "A Validate through the JSON-RPC layer, in one process: "
        f"{results.metrics_in_process_us.get('with', 0):.1f} µs with metrics, "
        f"{results.metrics_in_process_us.get('without', 0):.1f} µs without",
        "",
    ]


def render(results: Results, info: dict[str, Any]) -> str:
    header = "| figure | " + " | ".join(label for label, _ in _COLUMNS)
    lines = [
        f"Machine: {info['nproc']} CPUs, {info['cpu']}, Python {info['python']}, "
        f"event loop {info['loop']}",
        "",
        "Daemon (ratio to the bare baseline of the same run):",
        "",
        header + " | GC max ms | errors |",
        "|---" * (len(_COLUMNS) + 3) + "|",
        *(_row(pair) for pair in results.pairs),
        "",
        "Bare baseline:",
        "",
        header + " |",
        "|---" * (len(_COLUMNS) + 1) + "|",
        *(_bare_row(pair) for pair in results.pairs),
        "",
        "Memory (MB): "
        + ", ".join(f"{key} {_mb(kib):.0f}" for key, kib in results.memory_kib.items()),
        "",
        *_metrics_lines(results),
        "Targets:",
        "",
        "| target | limit | measured | met |",
        "|---|---|---|---|",
        *(
            f"| {t.figure} | {t.limit} | {t.measured} | {'yes' if t.met else 'NO'} |"
            for t in targets(results)
        ),
    ]
    return "\n".join(lines)
