"""``serve`` makes room for ``--max-connections`` under a low soft open-files limit, and says so
when the hard limit leaves none."""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from instance_rpc import SyncPluginClient
from instance_rpc.open_files import RESERVE
from instance_rpc.testing.daemon import DaemonFailed, wait_listening

IDLE = 350
"""Connections held open: more than a soft limit of 256 leaves room for."""


@contextlib.contextmanager
def serve_limited(
    soft: int, hard: int, *args: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``instance-rpc serve ARGS`` started with open-files limits ``soft`` and ``hard``; yields
    the process, once it listens, and its log up to then."""
    start = (
        "import resource; "
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard})); "
        "from instance_rpc.cli import main; main()"
    )
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-c", start, "serve", *args], stdout=subprocess.PIPE, stderr=log
        )
        try:
            assert process.stdout is not None
            try:
                wait_listening(process, process.stdout)
            except DaemonFailed as exc:
                log.seek(0)
                raise AssertionError(f"{exc}: {log.read().decode()}") from None
            log.seek(0)
            yield process, log.read().decode()
        finally:
            process.terminate()
            process.communicate(timeout=20)


def soft_open_files(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open files line in /proc/PID/limits")


def test_a_low_soft_limit_is_raised_for_the_connections_allowed(sock_dir: Path) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    wanted = IDLE + 50 + RESERVE
    if hard != resource.RLIM_INFINITY and hard < wanted:
        unusable = f"needs a hard open-files limit of {wanted}, this one is {hard}"
        if os.environ.get("CI") == "true":
            pytest.fail(unusable)
        pytest.skip(unusable)
    path = sock_dir / "p"
    options = ("--plugin", "memory", "--socket", str(path), "--max-connections", str(IDLE + 50))
    with serve_limited(256, hard, *options) as (process, _):
        assert soft_open_files(process.pid) == wanted
        idle: list[socket.socket] = []
        try:
            for _ in range(IDLE):
                conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                idle.append(conn)
                conn.connect(str(path))
            with SyncPluginClient(path, timeout=10, retries=0) as client:
                assert client.describe_instances(None) == []
        finally:
            for conn in idle:
                conn.close()


def test_a_hard_limit_too_low_is_reported_and_the_daemon_still_serves(sock_dir: Path) -> None:
    path = sock_dir / "p"
    options = ("--plugin", "memory", "--socket", str(path), "--max-connections", "1000")
    with serve_limited(256, 256, *options) as (process, log):
        assert soft_open_files(process.pid) == 256
        assert (
            f"open files limit is 256, below the {1000 + RESERVE} that --max-connections 1000 "
            f"needs ({RESERVE} kept for the daemon's own files)"
        ) in log
        with SyncPluginClient(path, timeout=10, retries=0) as client:
            assert client.describe_instances(None) == []
