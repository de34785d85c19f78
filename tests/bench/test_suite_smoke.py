"""``make bench`` keeps working: the whole suite for a fraction of a second, no timing checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_make_bench_runs_end_to_end(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    quick = ["--duration", "0.1", "--instances", "200", "--repeats", "1", "--rounds", "1"]
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", *quick, "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Targets:" in completed.stdout
    document = json.loads(output.read_text())
    figures = [pair["figure"] for pair in document["pairs"]]
    assert figures[:2] == ["describe 20 properties=True", "describe 200 properties=True"]
    assert "validate loadgen c=64" in figures
    assert "provision PluginClient c=1" in figures
    for pair in document["pairs"]:
        assert pair["ours"]["summary"]["calls"] > 0
        assert pair["ours"]["summary"]["errors"] == 0
        assert pair["bare"]["summary"]["calls"] > 0
    assert document["memory_kib"]["daemon_holding_hwm"] > 0
    assert [pair["figure"] for pair in document["metrics"]] == [
        "validate loadgen c=64, log level warning",
        "provision loadgen c=64, log level warning",
    ]
    assert all(pair["ours"]["summary"]["calls"] > 0 for pair in document["metrics"])
    assert document["metrics_in_process_us"]["with"] > 0
    assert document["metrics_in_process_us"]["without"] > 0
    assert "Metrics: with / without (--no-metrics)" in completed.stdout
