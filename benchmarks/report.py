"""The benchmark's results as text: a Markdown table with ratios, the targets, the machine."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from typing import Any

from .measure import Measurement, Pair, Results

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


def _ratio_target(pair: Pair, what: str, key: str, limit: float, at_least: bool = False) -> Target:
    """A target on the ratio of ``key`` between the pair's two sides of the same run."""
    ratio = pair.ratios[key]
    ours, theirs = _value(pair.ours, key), _value(pair.bare, key)
    sign = ">=" if at_least else "<="
    return Target(
        f"{what}, {pair.figure}",
        f"{sign} {limit}x",
        f"{ratio:.2f}x ({_number(ours)} against {_number(theirs)})",
        ratio >= limit if at_least else ratio <= limit,
    )


def targets(results: Results) -> list[Target]:
    """Every target of the performance issue, each with its ratio in this run."""
    found = []
    for pair in results.pairs:
        figure = pair.figure
        if "loadgen c=64" in figure:
            limit = 1.5 if "log level warning" in figure else 1.75
            found.append(_ratio_target(pair, "server CPU µs/call", "cpu_us_per_call", limit))
        elif "PluginClient c=1" in figure:
            found.append(_ratio_target(pair, "calls/s", "calls_per_second", 0.85, at_least=True))
        elif " by tag, " in figure:
            found.append(_ratio_target(pair, "p50 ms, against only the matches", "p50_ms", 2.0))
        elif figure.startswith("file provision") or figure.startswith("file store"):
            found.append(_ratio_target(pair, "calls/s", "calls_per_second", 5.0, at_least=True))
    describes = [p for p in results.pairs if p.figure.endswith("properties=True")]
    if describes:
        found.insert(0, _ratio_target(describes[-1], "p50 ms, typed", "p50_ms", 4.0))
    peak = results.memory_kib.get("daemon_after_describe_hwm")
    if peak is not None:
        found.append(
            Target(
                "daemon peak RSS (VmHWM) answering the largest DescribeInstances, memory backend",
                "<= 160 MB",
                f"{_mb(peak):.0f} MB",
                _mb(peak) <= 160,
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


def _log_line_lines(results: Results) -> list[str]:
    """The per-call log line, now against logging's generic path (see benchmarks.log_cost)."""
    costs = results.log_line_us
    counts = sorted({int(key.split(", ")[1].split()[0]) for key in costs})
    rows = []
    for count in counts:
        now, before = costs[f"now, {count} per iteration"], costs[f"before, {count} per iteration"]
        rows.append(f"| {count} | {now:.1f} | {before:.1f} | {now / before:.2f}x |")
    if not rows:
        return []
    return [
        "Per-call log line, one process, written to a file (µs per line, best round):",
        "",
        "| lines per loop iteration | now | before (generic Formatter, write per line) | ratio |",
        "|---|---|---|---|",
        *rows,
        "",
    ]


def render(results: Results, info: dict[str, Any]) -> str:
    header = "| figure | " + " | ".join(label for label, _ in _COLUMNS)
    lines = [
        f"Machine: {info['nproc']} CPUs, {info['cpu']}, Python {info['python']}, "
        f"event loop {info['loop']}",
        f"State directories: under {info['state_root']} ({info['state_filesystem']})",
        "",
        "Daemon (ratio to the bare baseline of the same run):",
        "",
        header + " | GC max ms | errors |",
        "|---" * (len(_COLUMNS) + 3) + "|",
        *(_row(pair) for pair in results.pairs),
        "",
        "Baseline (the bare aiohttp server; for 'by tag', the same backend holding only the"
        " matches; for 'file', one directory fsync per record):",
        "",
        header + " |",
        "|---" * (len(_COLUMNS) + 1) + "|",
        *(_bare_row(pair) for pair in results.pairs),
        "",
        "Memory (MB): "
        + ", ".join(f"{key} {_mb(kib):.0f}" for key, kib in results.memory_kib.items()),
        "",
        *_metrics_lines(results),
        *_log_line_lines(results),
        "Targets:",
        "",
        "| target | limit | measured | |",
        "|---|---|---|---|",
        *(
            f"| {t.figure} | {t.limit} | {t.measured} | {'PASS' if t.met else 'MISS'} |"
            for t in targets(results)
        ),
    ]
    return "\n".join(lines)
