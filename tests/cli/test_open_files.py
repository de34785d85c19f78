"""``serve`` makes room for ``--max-connections`` under a low soft open-files limit, and says so
when the hard limit leaves none."""

from __future__ import annotations

import resource
import socket
import sys
from pathlib import Path

from instance_rpc import SyncPluginClient
from instance_rpc.server.open_files import RESERVE
from tests.daemon import running_daemon
from tests.tools import unavailable

IDLE = 350
"""Connections held open: more than a soft limit of 256 leaves room for."""


def limited_cli(soft: int, hard: int) -> list[str]:
    """A command that runs ``instance-rpc`` with open-files limits ``soft`` and ``hard``."""
    start = (
        "import resource; "
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard})); "
        "from instance_rpc.cli import main; main()"
    )
    return [sys.executable, "-c", start]


def soft_open_files(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open files line in /proc/PID/limits")


def test_a_low_soft_limit_is_raised_for_the_connections_allowed(sock_dir: Path) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    wanted = IDLE + 50 + RESERVE
    if hard != resource.RLIM_INFINITY and hard < wanted:
        unavailable(f"needs a hard open-files limit of {wanted}, this one is {hard}")
    path = sock_dir / "p"
    options = ("--plugin", "memory", "--socket", str(path), "--max-connections", str(IDLE + 50))
    with running_daemon(*options, cli=limited_cli(256, hard)) as daemon:
        assert soft_open_files(daemon.process.pid) == wanted
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
    with running_daemon(*options, cli=limited_cli(256, 256)) as daemon:
        assert soft_open_files(daemon.process.pid) == 256
        assert (
            f"open files limit is 256, below the {1000 + RESERVE} that --max-connections 1000 "
            f"needs ({RESERVE} kept for the daemon's own files)"
        ) in daemon.log()
        with SyncPluginClient(path, timeout=10, retries=0) as client:
            assert client.describe_instances(None) == []
