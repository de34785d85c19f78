"""The load library and ``instance-rpc bench`` work; nothing here checks a timing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from instance_rpc.cli import main
from instance_rpc.testing import running_server
from instance_rpc.testing.bench import BENCH_TAG, run_load
from instance_rpc.testing.daemon import spawn_daemon
from instance_rpc_plugins.memory import MemoryPlugin


@pytest.mark.parametrize("method", ["validate", "provision", "describe", "mix"])
async def test_run_load_calls_and_cleans_up(tmp_path: Path, method: str) -> None:
    plugin = MemoryPlugin()
    async with running_server(plugin, tmp_path / "p.sock") as path:
        report = await run_load(path, method=method, concurrency=3, duration=0.2, seed=5)
    assert report.summary.calls > 0
    assert report.summary.errors == 0
    assert report.summary.p50_ms <= report.summary.p99_ms <= report.summary.max_ms
    assert await plugin.describe_instances({}) == []  # whatever the run provisioned is gone
    if method in ("validate", "describe"):
        assert report.destroyed == 0


async def test_keep_leaves_the_tagged_instances(tmp_path: Path) -> None:
    plugin = MemoryPlugin()
    async with running_server(plugin, tmp_path / "p.sock") as path:
        report = await run_load(path, method="provision", concurrency=2, duration=0.1, keep=True)
    kept = await plugin.describe_instances({})
    assert len(kept) == report.summary.calls
    assert all(BENCH_TAG in d.tags for d in kept)


async def test_unknown_method_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        await run_load(tmp_path / "p.sock", method="destroy", concurrency=1, duration=0.1)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Path]:
    with spawn_daemon(["--plugin", "memory"], tmp_path / "d.sock") as socket_path:
        yield socket_path


def test_bench_command_prints_the_figures(daemon: Path) -> None:
    args = ["bench", str(daemon), "--method", "mix", "--concurrency", "2", "--duration", "0.2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    for label in ("calls/s", "p50", "p99", "errors     0"):
        assert label in result.output


def test_bench_command_json(daemon: Path) -> None:
    args = ["bench", str(daemon), "--method", "provision", "--duration", "0.2", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["method"] == "provision"
    assert report["summary"]["calls"] == report["destroyed"] > 0


def test_bench_command_names_an_absent_plugin(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["bench", str(tmp_path / "none.sock"), "--duration", "0.1"])
    assert result.exit_code == 1
    assert "unavailable" in result.output
