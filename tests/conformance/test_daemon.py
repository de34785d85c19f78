"""The suite through real daemons and the ``instance-rpc conformance`` command, and what it
reports when a plugin breaks the contract."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from examples.custom_plugin import FilesPlugin
from instance_rpc.testing import running_server
from instance_rpc.testing.conformance import CHECK_NAMES, run_conformance
from instance_rpc.testing.pytest_plugin import run_checks
from instance_rpc_plugins.memory import MemoryPlugin
from tests.daemon import run_cli, running_daemon

SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$")


def test_every_backend_passes_through_instance_rpc_serve(sock_dir: Path) -> None:
    sock = sock_dir / "local"
    args = ["--socket", str(sock), "--dir", str(sock_dir / "state"), "--log-level", "warning"]
    with running_daemon(*args, "--plugin", "file", "--plugin", "process", "--plugin", "memory"):
        for type_name in ("file", "process", "memory"):
            done = run_cli("conformance", str(sock), "--type", type_name)
            lines = done.stdout.splitlines()
            assert done.returncode == 0, done.stdout + done.stderr
            assert lines[-1] == f"{len(CHECK_NAMES) + 1} passed, 0 failed"
            assert all(line.startswith("PASS  ") for line in lines[:-1]), done.stdout
    # everything the runs made is gone: the file backend's directory holds no document
    assert sorted(p.name for p in (sock_dir / "state" / "file").glob("*.json")) == []


def test_properties_file_is_used_for_provisioning(sock_dir: Path) -> None:
    props = sock_dir / "props.json"
    props.write_text(json.dumps({"stop_grace_seconds": 1, "env": {"A": "b"}}))
    sock = sock_dir / "p"
    args = ["--socket", str(sock), "--plugin", "process", "--dir", str(sock_dir / "state")]
    with running_daemon(*args, "--log-level", "warning"):
        done = run_cli("conformance", str(sock), "--properties", str(props))
        assert done.returncode == 0, done.stdout + done.stderr
        bad = sock_dir / "bad.json"
        bad.write_text('{"stop_grace_seconds": -1}')
        done = run_cli("conformance", str(sock), "--bad-properties", str(bad))
        assert done.returncode == 0, done.stdout + done.stderr


def test_unreachable_plugin_fails_every_check(sock_dir: Path) -> None:
    done = run_cli("conformance", str(sock_dir / "nobody-here"))
    assert done.returncode == 1
    match = SUMMARY.match(done.stdout.splitlines()[-1])
    assert match is not None, done.stdout
    assert (int(match[1]), int(match[2])) == (0, len(CHECK_NAMES) + 1)


def test_properties_file_that_is_not_json_is_refused(sock_dir: Path) -> None:
    bad = sock_dir / "props.json"
    bad.write_text("{not json")
    done = run_cli("conformance", str(sock_dir / "sock"), "--properties", str(bad))
    assert done.returncode == 1
    assert "--properties" in done.stderr
    assert "not JSON" in done.stderr


class _ReplacesTags(MemoryPlugin):
    """Breaks the contract: Label replaces the tags instead of merging."""

    async def label(self, instance: str, labels: Mapping[str, str]) -> None:
        self._get(instance).tags = dict(labels)


async def test_a_broken_plugin_fails_and_is_cleaned_up(sock_dir: Path) -> None:
    plugin = _ReplacesTags()
    lines: list[str] = []
    async with running_server(plugin, sock_dir / "p.sock") as sock:
        report = await run_conformance(sock, on_result=lambda result: lines.append(result.line()))
    failed = [result.name for result in report.failures()]
    assert failed == ["label merges and overwrites"]
    assert not report.ok
    assert report.summary() == f"{len(CHECK_NAMES)} passed, 1 failed"
    assert lines[-1].startswith("PASS  cleanup")
    # the instance whose run tag Label removed was still found and destroyed
    assert await plugin.describe_instances({}) == []


async def test_unknown_check_names_are_refused(sock_dir: Path) -> None:
    with pytest.raises(ValueError, match="unknown checks"):
        await run_conformance(sock_dir / "sock", checks=["no such check"])


def test_the_example_backend_passes(tmp_path: Path) -> None:
    report = run_checks(FilesPlugin(tmp_path / "instances"))
    assert report.ok, [result.line() for result in report.failures()]
    assert report.summary() == f"{len(CHECK_NAMES) + 1} passed, 0 failed"
