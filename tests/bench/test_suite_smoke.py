"""``make bench`` keeps working: the whole suite for a fraction of a second, no timing checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_make_bench_runs_end_to_end(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    quick = ["--duration", "0.5", "--instances", "200", "--repeats", "1", "--rounds", "1"]
    state_root = tmp_path / "state"
    quick += ["--provisions", "8", "--state-root", str(state_root)]
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
    assert f"State directories: under {state_root} (" in completed.stdout
    assert state_root.is_dir()  # made for the backends' state directories,
    assert list(state_root.iterdir()) == []  # which are gone once the run ends
    document = json.loads(output.read_text())
    figures = [pair["figure"] for pair in document["pairs"]]
    assert figures[:2] == ["describe 20 properties=True", "describe 200 properties=True"]
    assert "validate loadgen c=64" in figures
    assert "provision PluginClient c=1" in figures
    assert "validate loadgen c=64, log level warning" in figures
    for backend, total in (("memory", 200), ("file", 200), ("process", 20)):
        assert f"describe 1 of {total} by tag, {backend}" in figures
    assert "file provision 8, 8 at a time, group commit vs per-record fsync" in figures
    assert "file store 8 concurrent writes, group commit vs per-record fsync" in figures
    targets = {target["figure"]: target for target in document["targets"]}
    assert len(targets) == 13  # every target of the performance issue, each with its verdict
    for target in targets.values():
        assert target["measured"]
        assert f"| {'PASS' if target['met'] else 'MISS'} |" in completed.stdout
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
    for count in (1, 64):
        for side in ("now", "before"):
            assert document["log_line_us"][f"{side}, {count} per iteration"] > 0
    assert "Per-call log line, one process" in completed.stdout
