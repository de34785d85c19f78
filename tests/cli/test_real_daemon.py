"""The command line as a user runs it: separate processes against ``instance-rpc serve``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from instance_rpc.testing.daemon import spawn_daemon


@pytest.fixture(scope="module")
def plugins_dir() -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="irpc-real-", dir="/tmp"))
    directory = home / "plugins"
    directory.mkdir()
    try:
        yield directory
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def daemon(plugins_dir: Path) -> Iterator[Path]:
    log = plugins_dir.parent / "daemon.log"
    with spawn_daemon(["--plugin", "memory"], plugins_dir / "instance-memory", log=log) as path:
        yield path


def run(plugins_dir: Path, *args: str, input: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INFRAKIT_PLUGINS_DIR": str(plugins_dir)}
    return subprocess.run(
        [sys.executable, "-m", "instance_rpc", *args],
        input=input,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_a_session(plugins_dir: Path, daemon: Path) -> None:
    spec = '{"Tags": {"group": "web"}, "Properties": {"price": 1.50}}'
    provisioned = run(plugins_dir, "provision", "instance-memory", "-", input=spec)
    assert (provisioned.returncode, provisioned.stderr) == (0, "")
    instance_id = provisioned.stdout.strip()
    assert instance_id.startswith("inst-")

    labelled = run(plugins_dir, "label", "instance-memory", instance_id, "owner=me")
    assert labelled.stdout == f"{instance_id}\n"

    described = run(plugins_dir, "describe", "instance-memory", "--properties", "-t", "owner=me")
    assert described.returncode == 0
    assert described.stdout.splitlines()[1].split() == [
        instance_id,
        "-",
        "group=web,owner=me",
        '{"price":',
        "1.50}",
    ]

    destroyed = run(plugins_dir, "destroy", "instance-memory", instance_id)
    assert destroyed.stdout == f"{instance_id}\n"
    assert run(plugins_dir, "describe", "instance-memory", "-q", "-t", "owner=me").stdout == ""


def test_listing_with_a_stale_socket(plugins_dir: Path, daemon: Path) -> None:
    stale = plugins_dir / "crashed"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(stale))
    try:
        listed = run(plugins_dir, "ls")
        described = run(plugins_dir, "describe", "crashed")
    finally:
        stale.unlink()
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert lines[1].split()[0] == "crashed"
    assert lines[1].endswith("stale socket: nothing answers")
    assert lines[2].split() == ["instance-memory", "Instance/0.6.1", "(default)", "ok"]
    assert described.returncode == 1
    assert described.stderr == (
        f"instance-rpc: plugin at {stale} is unavailable: Connection refused\n"
    )


def test_errors_carry_no_traceback(plugins_dir: Path, daemon: Path) -> None:
    for args, stdin in [
        (("destroy", "instance-memory", "inst-404"), ""),
        (("provision", "instance-memory", "-"), "{not json"),
    ]:
        result = run(plugins_dir, *args, input=stdin)
        assert result.returncode == 1, args
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr


def test_info(plugins_dir: Path, daemon: Path) -> None:
    result = run(plugins_dir, "info", str(daemon))
    assert result.returncode == 0
    assert "Implements:  Instance/0.6.0, Instance/0.6.1" in result.stdout
