"""Stalled connections and half-finished TLS handshakes cannot starve a daemon of descriptors."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from instance_rpc import SyncPluginClient
from instance_rpc.net.tls import client_context
from tests.daemon import Daemon, running_daemon
from tests.remote.conftest import Certs, advertised_url, https_daemon_options, open_files

STALLED = 2000
HANDSHAKES = 200
HALF_REQUEST = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
HALF_CLIENT_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"


@pytest.fixture(autouse=True)
def enough_descriptors() -> Iterator[None]:
    """Room for the stalled connections on both ends (the daemon inherits the limit)."""
    with open_files(3 * (STALLED + HANDSHAKES) + 1000):
        yield


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.1)


def closed_by_peer(conn: socket.socket, timeout: float) -> bool:
    """True once the daemon has closed ``conn`` (EOF or reset), waiting up to ``timeout``."""
    poller = select.poll()  # descriptors here exceed select()'s 1024
    poller.register(conn, select.POLLIN)
    if not poller.poll(timeout * 1000):
        return False
    try:
        return conn.recv(65536) == b""
    except OSError:
        return True


@contextlib.contextmanager
def connections(
    count: int, family: int, address: object, send: bytes
) -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    try:
        for _ in range(count):
            conn = socket.socket(family, socket.SOCK_STREAM)
            opened.append(conn)
            conn.settimeout(10)
            deadline = time.monotonic() + 10
            while True:
                try:
                    conn.connect(address)  # type: ignore[arg-type]
                    break
                except BlockingIOError:  # a Unix socket's backlog is full: the daemon catches up
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.005)
            conn.sendall(send)
        yield opened
    finally:
        for conn in opened:
            conn.close()


def tcp_port(socket_path: Path) -> int:
    return int(advertised_url(socket_path).rsplit(":", 1)[1])


def test_stalled_requests_and_handshakes_time_out_while_calls_go_on(
    sock_dir: Path, certs: Certs
) -> None:
    path = sock_dir / "p"
    with running_daemon(
        *https_daemon_options(path, certs),
        "--header-timeout",
        "15",
        "--tls-handshake-timeout",
        "15",
        "--max-connections-per-peer",
        str(HANDSHAKES + 10),
        "--max-connections",
        str(STALLED + HANDSHAKES + 100),
        "--max-tls-handshakes",
        str(HANDSHAKES + 10),
    ) as daemon:
        pid = daemon.process.pid
        before = descriptors(pid)
        port = tcp_port(path)
        with (
            connections(STALLED, socket.AF_UNIX, str(path), HALF_REQUEST) as stalled,
            connections(HANDSHAKES, socket.AF_INET, ("127.0.0.1", port), HALF_CLIENT_HELLO),
        ):
            # Every stalled peer accepted before the calls: the TLS call must meet the daemon
            # holding all of them, not a listen backlog still full of half-open connections.
            wait_until(
                lambda: descriptors(pid) >= before + STALLED + HANDSHAKES,
                30,
                "stalled connections and handshakes accepted",
            )
            with SyncPluginClient(path, timeout=10, retries=0) as client:
                assert client.describe_instances(None) == []
            context = client_context(ca=certs.ca)
            with SyncPluginClient(f"https://localhost:{port}", ssl=context, retries=0) as client:
                assert client.describe_instances(None) == []
            wait_until(lambda: descriptors(pid) <= before + 5, 60, "descriptors released")
            assert closed_by_peer(stalled[0], 5)
            assert closed_by_peer(stalled[-1], 5)


def test_at_the_connection_cap_an_idle_connection_makes_room(sock_dir: Path) -> None:
    path = sock_dir / "p"
    options = ("--plugin", "memory", "--header-timeout", "600", "--max-connections", "50")
    with (
        running_daemon("--socket", str(path), *options),
        connections(50, socket.AF_UNIX, str(path), HALF_REQUEST) as stalled,
        SyncPluginClient(path, timeout=10, retries=0) as client,
    ):
        assert client.describe_instances(None) == []
        assert closed_by_peer(stalled[0], 10)


def test_a_handshake_beyond_the_cap_takes_the_place_of_the_oldest(
    sock_dir: Path, certs: Certs
) -> None:
    path = sock_dir / "p"
    daemon = Daemon(
        *https_daemon_options(path, certs),
        "--tls-handshake-timeout", "600", "--max-tls-handshakes", "5",
    )  # fmt: skip
    try:
        daemon.wait_listening()
        port = tcp_port(path)
        with connections(6, socket.AF_INET, ("127.0.0.1", port), HALF_CLIENT_HELLO) as opened:
            assert closed_by_peer(opened[0], 10)
            assert not closed_by_peer(opened[5], 0.5)
    finally:
        daemon.close()
