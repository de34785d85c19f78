"""Running under systemd: sockets passed in (socket activation) and readiness notifications.

Activation is tested with the real ``systemd-socket-activate`` (Debian's systemd package) and
with a shell that passes descriptors the same way; readiness with a datagram socket standing in
for systemd's ``NOTIFY_SOCKET``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import selectors
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from instance_rpc import PluginClient, Spec
from instance_rpc.server.systemd import ActivationError, listen_sockets, notify
from tests.daemon import CLI, Daemon
from tests.http import post
from tests.tools import require_tool

SYSTEMD = "Debian's systemd package"


def read_until(process: subprocess.Popen[bytes], stream: IO[bytes], marker: bytes) -> bytes:
    """Read ``stream`` until ``marker`` and the end of its line (bounded: 20 s)."""
    deadline = time.monotonic() + 20
    seen = b""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while marker not in seen or b"\n" not in seen[seen.index(marker) :]:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {marker!r} within 20 s: {seen!r}"
            if selector.select(remaining):
                chunk = os.read(stream.fileno(), 4096)
                assert chunk, f"exited ({process.wait()}) before {marker!r}: {seen!r}"
                seen += chunk
    return seen


@contextlib.contextmanager
def started(command: list[str], **options: object) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **options,  # type: ignore[call-overload]
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=20)


async def provision_and_scrape(path: Path) -> str:
    async with PluginClient(path) as client:
        assert await client.provision(Spec(logical_id="a")) == "inst-1"
    status, body = await post(path, b"", path="/metrics", method="GET", headers={})
    assert status == 200
    return body.decode()


def test_serves_the_socket_systemd_socket_activate_passes(sock_dir: Path) -> None:
    tool = require_tool("systemd-socket-activate", SYSTEMD)
    path = sock_dir / "activated"
    serve = [*CLI, "serve", "--plugin", "memory", "--log-format", "json"]
    with started([tool, "-l", str(path), "--fdname=rpc", *serve]) as process:
        assert process.stderr is not None
        assert process.stdout is not None
        read_until(process, process.stderr, f"Listening on {path}".encode())
        # The first connection starts the daemon; the call waits in the backlog meanwhile.
        metrics = asyncio.run(provision_and_scrape(path))
        ready = read_until(process, process.stdout, b"listening on ")
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=20)
        assert process.returncode == 0, rest
    assert f"listening on {path} (types: (default))".encode() in ready
    assert 'instance_rpc_calls_total{method="Instance.Provision",outcome="ok",type="."} 1.0' in (
        metrics
    )
    messages = [json.loads(line)["message"] for line in rest.splitlines() if line.startswith(b"{")]
    assert f"serving inherited socket {path} (rpc)" in messages
    assert "stopping" in messages
    assert stat.S_ISSOCK(path.lstat().st_mode)  # the manager's socket: left where it was


def test_passed_sockets_are_held_to_the_connection_limits(sock_dir: Path) -> None:
    tool = require_tool("systemd-socket-activate", SYSTEMD)
    path = sock_dir / "activated"
    serve = [*CLI, "serve", "--plugin", "memory", "--header-timeout", "1"]
    with started([tool, "-l", str(path), *serve]) as process:
        assert process.stderr is not None
        read_until(process, process.stderr, f"Listening on {path}".encode())
        asyncio.run(provision_and_scrape(path))  # the daemon is up
        with socket.socket(socket.AF_UNIX) as stalled:
            stalled.settimeout(20)
            stalled.connect(str(path))
            stalled.sendall(b"POST / HTTP/1.1\r\nHost: h\r\n")  # and then nothing
            assert stalled.recv(1) == b""  # closed by the header timeout
        with socket.socket(socket.AF_UNIX) as garbage:
            garbage.settimeout(20)
            garbage.connect(str(path))
            garbage.sendall(b"HELLO WORLD FOO\r\n\r\n")
            answer = garbage.recv(65536)
        metrics = asyncio.run(provision_and_scrape_again(path))
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=20)
    assert answer.split(b" ", 2)[1] == b"400", answer
    assert b'"code":-32600' in answer.replace(b" ", b"")
    assert b"Traceback" not in rest
    assert 'instance_rpc_requests_refused_total{reason="header_timeout"} 1.0' in metrics
    assert 'instance_rpc_requests_refused_total{reason="malformed_http"} 1.0' in metrics


async def provision_and_scrape_again(path: Path) -> str:
    status, body = await post(path, b"", path="/metrics", method="GET", headers={})
    assert status == 200
    return body.decode()


_PASS_FDS = """
import fcntl, os, sys
count = int(sys.argv[1])
held = [fcntl.fcntl(int(fd), fcntl.F_DUPFD, 100) for fd in sys.argv[2 : 2 + count]]
for index, fd in enumerate(held):
    os.dup2(fd, 3 + index)
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[2 + count], sys.argv[2 + count :])
"""


def passing(fds: list[int]) -> list[str]:
    """A command prefix that moves ``fds`` to 3, 4, ... and execs the rest of the command with
    LISTEN_PID its own process (LISTEN_FDS and LISTEN_FDNAMES come from the environment)."""
    return [sys.executable, "-c", _PASS_FDS, str(len(fds)), *map(str, fds)]


def test_serves_every_passed_socket_under_its_name(sock_dir: Path) -> None:
    unix = socket.socket(socket.AF_UNIX)
    tcp = socket.socket(socket.AF_INET)
    with unix, tcp:
        unix.bind(str(sock_dir / "passed"))
        unix.listen()
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        port = tcp.getsockname()[1]
        fds = [unix.fileno(), tcp.fileno()]
        env = {**os.environ, "LISTEN_FDS": "2", "LISTEN_FDNAMES": "local:net"}
        serve = [*CLI, "serve", "--plugin", "memory"]
        with started([*passing(fds), *serve], pass_fds=fds, env=env) as process:
            assert process.stdout is not None
            ready = read_until(process, process.stdout, b"listening on ")
            asyncio.run(provision_and_scrape(sock_dir / "passed"))
            process.send_signal(signal.SIGTERM)
            _, log = process.communicate(timeout=20)
    expected = f"listening on {sock_dir / 'passed'}, 127.0.0.1:{port} (types: (default))"
    assert expected.encode() in ready
    assert f"serving inherited socket 127.0.0.1:{port} (net)".encode() in log
    assert process.returncode == 0


def test_a_passed_descriptor_that_is_not_a_listening_socket_is_refused(sock_dir: Path) -> None:
    with open(sock_dir / "file", "wb") as regular:
        fds = [regular.fileno()]
        env = {**os.environ, "LISTEN_FDS": "1"}
        serve = [*CLI, "serve", "--plugin", "memory", "--socket", str(sock_dir / "s")]
        with started([*passing(fds), *serve], pass_fds=fds, env=env) as process:
            _, error = process.communicate(timeout=20)
    assert process.returncode == 1
    assert b"socket activation: passed descriptor 3 (unknown)" in error
    assert not (sock_dir / "s").exists()


def test_sockets_meant_for_another_process_are_ignored(sock_dir: Path) -> None:
    path = sock_dir / "own"
    daemon = Daemon(
        "--socket", str(path), "--plugin", "memory", env={"LISTEN_PID": "1", "LISTEN_FDS": "1"}
    )
    try:
        assert daemon.wait_listening() == f"listening on {path} (types: (default))"
        assert asyncio.run(provision_and_scrape(path))
    finally:
        daemon.stop()
    assert not path.exists()  # its own socket, removed at stop


def test_readiness_and_stop_are_notified(sock_dir: Path) -> None:
    notify_path = sock_dir / "notify"
    path = sock_dir / "ready"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(notify_path))
        receiver.settimeout(20)
        daemon = Daemon(
            "--socket", str(path), "--plugin", "memory", env={"NOTIFY_SOCKET": str(notify_path)}
        )
        try:
            ready = receiver.recv(4096).decode()
            daemon.process.send_signal(signal.SIGTERM)
            stopping = receiver.recv(4096).decode()
            assert daemon.process.wait(20) == 0
        finally:
            daemon.close()
    assert ready == f"READY=1\nSTATUS=listening on {path} (types: (default))"
    assert stopping == "STOPPING=1\nSTATUS=stopping"


def test_notify_reaches_an_abstract_socket() -> None:
    name = f"irpc-notify-{secrets.token_hex(6)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind("\0" + name)
        receiver.settimeout(10)
        assert notify("READY=1", {"NOTIFY_SOCKET": "@" + name})
        assert receiver.recv(4096) == b"READY=1"


def test_notify_without_a_manager_does_nothing(
    sock_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert not notify("READY=1", {})
    assert not notify("READY=1", {"NOTIFY_SOCKET": "vsock:2:1234"})
    assert not notify("READY=1", {"NOTIFY_SOCKET": str(sock_dir / "nobody")})
    assert "cannot notify" in caplog.text


def test_activation_variables_are_checked_and_removed() -> None:
    environ = {"LISTEN_PID": "12", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "x", "PATH": "/bin"}
    assert listen_sockets(environ, pid=13) == []
    assert environ == {"PATH": "/bin"}
    assert listen_sockets({}) == []
    with pytest.raises(ActivationError, match="must be numbers: 'me', '1'"):
        listen_sockets({"LISTEN_PID": "me", "LISTEN_FDS": "1"})
    with pytest.raises(ActivationError, match="must not be negative"):
        listen_sockets({"LISTEN_PID": "7", "LISTEN_FDS": "-1"}, pid=7)
