"""What many hostile TCP peers (from their own loopback addresses, 127.0.1.0 and up) can cost:
never the calls of others, on TCP, TLS or the Unix socket; and what failed handshakes and
plain-HTTP callers of a TLS port are told and counted."""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from instance_rpc import SyncPluginClient
from instance_rpc.net.tls import client_context
from tests.daemon import running_daemon
from tests.remote.conftest import Certs, https_daemon_options, open_files
from tests.remote.test_hostile_peers import closed_by_peer, tcp_port, wait_until

SLOW_HEAD = (
    b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100\r\n\r\n{"
)


@pytest.fixture(autouse=True)
def enough_descriptors() -> Iterator[None]:
    """Room for a thousand peers on both ends (the daemon inherits the limit)."""
    with open_files(4000):
        yield


def peer_address(number: int) -> str:
    """The ``number``-th hostile peer's own loopback address: 127.0.1.0 and up."""
    return f"127.0.{1 + number // 256}.{number % 256}"


@contextlib.contextmanager
def peers(
    count: int, port: int, send: bytes, *, same_address: bool = False
) -> Iterator[list[socket.socket]]:
    """``count`` connections to ``port``, each from its own address (or all from 127.0.0.1),
    each having sent ``send``."""
    opened: list[socket.socket] = []
    try:
        for number in range(count):
            conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            opened.append(conn)
            if not same_address:
                conn.bind((peer_address(number), 0))
            conn.settimeout(10)
            conn.connect(("127.0.0.1", port))
            if send:
                conn.sendall(send)
        yield opened
    finally:
        for conn in opened:
            conn.close()


def answer_and_close(conn: socket.socket, timeout: float) -> bytes | None:
    """What the daemon sends before it closes ``conn``; ``None`` if it is still open after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    received = b""
    while (left := deadline - time.monotonic()) > 0:
        conn.settimeout(left)
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            return None
        except OSError:
            return received
        if not chunk:
            return received
        received += chunk
    return None


def mutual_tls_options(path: Path, certs: Certs) -> list[str]:
    return [*https_daemon_options(path, certs), "--tls-client-ca", str(certs.ca)]


def client_certificate(certs: Certs) -> ssl.SSLContext:
    return client_context(ca=certs.ca, cert=certs.client_cert, key=certs.client_key)


def metric(socket_path: Path, name: str) -> float:
    """One sample of the daemon's /metrics, read over its Unix socket."""
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(10)
        conn.connect(str(socket_path))
        conn.sendall(b"GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    for line in answer.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


def handshake_fails(port: int, context: ssl.SSLContext) -> bool:
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as secured,
        ):
            secured.sendall(b"GET /info/api.json HTTP/1.1\r\nHost: h\r\n\r\n")
            secured.recv(1024)
    except OSError:
        return True
    return False


def refused(reason: str) -> str:
    return f'instance_rpc_requests_refused_total{{reason="{reason}"}}'


@pytest.mark.parametrize("same_address", [False, True], ids=["many addresses", "one address"])
def test_idle_tcp_connections_do_not_lock_mutual_tls_clients_out(
    sock_dir: Path, certs: Certs, same_address: bool
) -> None:
    path = sock_dir / "p"
    with running_daemon(*mutual_tls_options(path, certs)) as daemon:
        port = tcp_port(path)
        url = f"https://localhost:{port}"
        with peers(100, port, b"", same_address=same_address) as idle:
            with SyncPluginClient(url, ssl=client_certificate(certs), retries=0) as client:
                assert client.describe_instances(None) == []
            assert not closed_by_peer(idle[-1], 0.1)  # still held: the caller did not wait
        assert "Traceback" not in daemon.log()


def test_a_thousand_slow_bodies_lock_out_no_listener(sock_dir: Path) -> None:
    path = sock_dir / "p"
    options = ("--plugin", "memory", "--listen", "tcp://127.0.0.1:0")
    with running_daemon("--socket", str(path), *options) as daemon:
        port = tcp_port(path)
        with peers(1000, port, SLOW_HEAD) as slow:
            time.sleep(1)  # every slow body under way: the daemon holds them all
            with SyncPluginClient(path, timeout=10, retries=0) as client:
                assert client.describe_instances(None) == []
            with SyncPluginClient(f"tcp://127.0.0.1:{port}", timeout=10, retries=0) as client:
                assert client.describe_instances(None) == []
            # Cut off at the minimum rate, long before the 60 s body timeout.
            answer = answer_and_close(slow[-1], 15)
            assert answer is not None
            assert answer.startswith(b"HTTP/1.1 408 "), answer
        wait_until(lambda: metric(path, refused("body_timeout")) >= 1, 10, "408s counted")
        assert "Traceback" not in daemon.log()


def test_one_peer_holds_at_most_its_share(sock_dir: Path) -> None:
    path = sock_dir / "p"
    options = ("--plugin", "memory", "--listen", "tcp://127.0.0.1:0")
    with running_daemon("--socket", str(path), *options, "--max-connections-per-peer", "10"):
        port = tcp_port(path)
        half_head = b"POST / HTTP/1.1\r\nHost: h\r\n"
        with peers(1, port, half_head) as other, peers(10, port, half_head, same_address=True):
            with peers(1, port, half_head, same_address=True) as eleventh:
                wait_until(
                    lambda: metric(path, refused("peer_connection_limit")) == 1, 10, "counted"
                )
                assert not closed_by_peer(eleventh[0], 0.2)  # the newest took the oldest's place
            assert not closed_by_peer(other[0], 0.2)  # another peer is not touched


def test_failed_handshakes_are_counted_and_logged_in_one_line(sock_dir: Path, certs: Certs) -> None:
    path = sock_dir / "p"
    with running_daemon(*mutual_tls_options(path, certs)) as daemon:
        port = tcp_port(path)
        assert metric(path, refused("tls_handshake_failed")) == 0
        strangers = client_context(ca=certs.ca, cert=certs.stranger_cert, key=certs.stranger_key)
        for context in (client_context(ca=certs.ca), strangers, client_context(ca=certs.ca)):
            assert handshake_fails(port, context)
        with peers(1, port, b"\x16\x03\x01\x02\x00\x01"):  # a handshake abandoned midway
            pass
        wait_until(lambda: metric(path, refused("tls_handshake_failed")) == 4, 10, "counted")
        log = daemon.log()
    failures = [line for line in log.splitlines() if "TLS handshake failed" in line]
    assert len(failures) == 4, log
    assert all(" WARNING " in line for line in failures)
    assert "Traceback" not in log


def test_plain_http_to_a_tls_port_is_a_400_naming_https(sock_dir: Path, certs: Certs) -> None:
    path = sock_dir / "p"
    with running_daemon(*mutual_tls_options(path, certs)):
        port = tcp_port(path)
        body = b'{"jsonrpc":"2.0","method":"Instance.DescribeInstances","params":{},"id":1}'
        request = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(request)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        assert metric(path, refused("plain_http_on_tls")) == 1
    head, _, text = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"Content-Type: application/json" in head
    assert f"HTTPS server: use https://127.0.0.1:{port}".encode() in text
    assert b'"code":-32600' in text
