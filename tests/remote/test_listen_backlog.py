"""A burst of callers waits in the listen queue instead of being refused: the daemon's listeners
queue as many connections as the kernel allows (``net.core.somaxconn``), as Go's do."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from instance_rpc.server.listeners import system_backlog
from tests.daemon import running_daemon
from tests.tools import unavailable

BURST = 400
"""Connections made while the daemon accepts none: far more than the 128 it once queued."""


def test_the_backlog_is_the_kernels_limit(tmp_path: Path) -> None:
    somaxconn = tmp_path / "somaxconn"
    somaxconn.write_text("4096\n")
    assert system_backlog(str(somaxconn)) == 4096
    somaxconn.write_text("1000000\n")
    assert system_backlog(str(somaxconn)) == 65535  # the kernel keeps it in 16 bits
    for unusable in ("0\n", "-5\n", "many\n", ""):
        somaxconn.write_text(unusable)
        assert system_backlog(str(somaxconn)) == socket.SOMAXCONN
    assert system_backlog(str(tmp_path / "missing")) == socket.SOMAXCONN


def test_a_burst_of_connections_waits_for_a_busy_daemon(sock_dir: Path) -> None:
    if system_backlog() <= BURST:
        unavailable(f"net.core.somaxconn is {system_backlog()}: this test needs more than {BURST}")
    path = sock_dir / "p"
    with running_daemon("--plugin", "memory", "--socket", str(path)) as daemon:
        burst: list[socket.socket] = []
        try:
            with daemon.stopped():
                for _ in range(BURST):
                    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    burst.append(conn)
                    conn.setblocking(False)
                    conn.connect(str(path))  # BlockingIOError once the queue is full
            last = burst[-1]
            last.setblocking(True)
            last.settimeout(20)
            body = json.dumps(
                {"jsonrpc": "2.0", "method": "Instance.DescribeInstances", "params": {}, "id": 7}
            ).encode()
            last.sendall(
                b"POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
                b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            answer = b""
            while chunk := last.recv(65536):
                answer += chunk
        finally:
            for conn in burst:
                conn.close()
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(payload) == {
        "jsonrpc": "2.0",
        "result": {"Type": "", "Descriptions": []},
        "id": 7,
    }
