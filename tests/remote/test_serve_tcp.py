"""`instance-rpc serve --listen`: the .listen file, discovery by name, the loopback rule."""

from __future__ import annotations

import json
import re
import shutil
import socket
from pathlib import Path

from tests.daemon import Daemon, run_cli, running_daemon
from tests.wire.golden import WIRE_ROOT

GO_HELLO = (WIRE_ROOT / "infrakit-0.6.1" / "01-Handshake.Hello.request.json").read_bytes()


def go_post(host: str, port: int, body: bytes) -> tuple[int, bytes]:
    """POST / as Go's net/http sends it to a tcp:// plugin (InfraKit pkg/rpc/client)."""
    head = (
        f"POST / HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: Go-http-client/1.1\r\n"
        f"Content-Length: {len(body)}\r\nContent-Type: application/json\r\n"
        "Accept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(head + body)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def test_plain_tcp_on_loopback_is_advertised_for_go_clients_and_withdrawn_at_stop(
    sock_dir: Path,
) -> None:
    socket_path = sock_dir / "remote"
    listen_file = sock_dir / "remote.listen"
    with running_daemon(
        "--socket", str(socket_path), "--plugin", "memory", "--listen", "tcp://127.0.0.1:0"
    ) as daemon:
        content = listen_file.read_bytes()
        # Go's url.Parse takes the whole file: the URL alone, no newline.
        match = re.fullmatch(rb"tcp://127\.0\.0\.1:(\d+)", content)
        assert match is not None, content
        port = int(match.group(1))
        status, body = go_post("127.0.0.1", port, GO_HELLO)
        assert status == 200
        assert "Instance/0.6.1" in json.loads(body)["result"]["Objects"]
        elsewhere = sock_dir / "elsewhere"
        elsewhere.mkdir()
        shutil.copy(listen_file, elsewhere / "remote.listen")
        env = {"INFRAKIT_PLUGINS_DIR": str(elsewhere)}
        described = run_cli("describe", "remote", "-o", "json", env=env)
        assert described.returncode == 0, described.stderr
        assert json.loads(described.stdout) == []
        listed = run_cli("plugins", "-o", "json", env=env)
        assert listed.returncode == 0, listed.stderr
        [entry] = json.loads(listed.stdout)
        assert (entry["Name"], entry["Status"], entry["Address"]) == (
            "remote",
            "ok",
            content.decode(),
        )
        assert daemon.process.poll() is None
        daemon.stop()
        assert not listen_file.exists()


def test_plain_tcp_beyond_loopback_is_refused_and_leaves_nothing(sock_dir: Path) -> None:
    daemon = Daemon(
        "--socket", str(sock_dir / "p"), "--plugin", "memory", "--listen", "tcp://0.0.0.0:0"
    )
    try:
        assert daemon.process.wait(timeout=30) == 1
        assert "refusing plain TCP on tcp://0.0.0.0:0" in daemon.log()
    finally:
        daemon.close()
    assert sorted(sock_dir.iterdir()) == []


def test_insecure_listen_warns_at_start_and_in_info(sock_dir: Path) -> None:
    with running_daemon(
        "--socket",
        str(sock_dir / "p"),
        "--plugin",
        "memory",
        "--listen",
        "tcp://0.0.0.0:0",
        "--insecure-listen",
        "--advertise",
        "127.0.0.1",
    ) as daemon:
        url = (sock_dir / "p.listen").read_text()
        assert url.startswith("tcp://127.0.0.1:")
        shown = run_cli("info", url)
        assert shown.returncode == 0, shown.stderr
        assert "WARNING:     plain TCP listener on tcp://0.0.0.0:" in shown.stdout
        log = daemon.stop()
    assert "WARNING" in log
    assert "without TLS (--insecure-listen)" in log


def test_a_port_in_use_fails_the_start_and_leaves_no_listen_file(sock_dir: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        daemon = Daemon(
            "--socket",
            str(sock_dir / "p"),
            "--plugin",
            "memory",
            "--listen",
            f"tcp://127.0.0.1:{port}",
        )
        try:
            assert daemon.process.wait(timeout=30) == 1
            assert f"cannot listen on tcp://127.0.0.1:{port}" in daemon.log()
        finally:
            daemon.close()
    assert sorted(sock_dir.iterdir()) == []


def test_tls_options_without_a_listener_are_refused(sock_dir: Path) -> None:
    result = run_cli("serve", "--socket", str(sock_dir / "p"), "--tls-cert", "c", "--tls-key", "k")
    assert result.returncode == 1
    assert "add --listen" in result.stderr
