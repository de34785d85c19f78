"""Who may call over TCP: loopback admits the daemon's user and root only, as its Unix socket does;
every listener admitting more needs --insecure-listen, says so at start and in /info/api.json;
plain HTTP refuses browsers' requests (Origin, a foreign Host); TCP wants a JSON Content-Type."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import pytest

from instance_rpc import SyncPluginClient
from instance_rpc.activation import ActivatedServer
from instance_rpc.listeners import InsecureListener
from instance_rpc.peer_uid import proc_address
from instance_rpc.service import InstanceService
from instance_rpc.systemd import InheritedSocket
from instance_rpc_plugins.memory import MemoryPlugin
from tests.cli.test_systemd import read_until, started
from tests.daemon import CLI, Daemon, run_cli, running_daemon
from tests.remote.conftest import Certs, advertised_url
from tests.remote.raw_http import (
    OTHER_USER,
    Answer,
    get_unix,
    hang_up_as,
    request_bytes,
    send,
    send_as,
)
from tests.tools import require_tool
from tests.wire.golden import WIRE_ROOT

PROVISION = (WIRE_ROOT / "infrakit-0.6.0" / "06-Instance.Provision.request.json").read_bytes()


def provision(number: int) -> bytes:
    """The recorded Provision, for LogicalID ``logical-NUMBER`` (one instance per number)."""
    return PROVISION.replace(b'"logical-1"', f'"logical-{number}"'.encode())


def go_headers(host: str) -> list[tuple[str, str]]:
    """The headers Go's net/http sends for InfraKit's client (recorded in tests/wire/golden),
    ``Host`` being the address it dialled."""
    return [
        ("Host", host),
        ("User-Agent", "Go-http-client/1.1"),
        ("Content-Type", "application/json"),
        ("Accept-Encoding", "gzip"),
    ]


def port_of(socket_path: Path) -> int:
    return int(advertised_url(socket_path).rsplit(":", 1)[1])


def error_message(answer: Answer) -> str:
    document = json.loads(answer.body)
    assert set(document) == {"jsonrpc", "error", "id"}, document
    return str(document["error"]["message"])


def instances(socket_path: Path) -> int:
    with SyncPluginClient(socket_path, timeout=10, retries=0) as client:
        return len(client.describe_instances(None))


def refusals(socket_path: Path, reason: str) -> float:
    """This daemon's count of requests refused for ``reason`` (its /metrics, over its socket)."""
    text = get_unix(str(socket_path), "/metrics").body.decode()
    found = re.search(rf'refused_total{{reason="{reason}"}} (\S+)', text)
    return float(found.group(1)) if found else 0.0


def wait_until_listed_as_root(their_port: int, our_port: int) -> None:
    """Until /proc/net/tcp lists the caller's end (``their_port`` to ``our_port``) as uid 0."""
    _, theirs = proc_address("127.0.0.1", their_port)
    _, ours = proc_address("127.0.0.1", our_port)
    deadline = time.monotonic() + 10
    while True:
        rows = [
            line.split()
            for line in Path("/proc/net/tcp").read_text().splitlines()
            if line.split()[1:3] == [theirs, ours]
        ]
        if rows and rows[0][7] == "0":
            return
        assert time.monotonic() < deadline, f"the caller's end is listed as {rows}"
        time.sleep(0.01)


def test_plain_loopback_tcp_admits_the_daemons_user_and_refuses_another(sock_dir: Path) -> None:
    path = sock_dir / "p"
    with running_daemon(
        "--socket", str(path), "--plugin", "memory", "--listen", "tcp://127.0.0.1:0"
    ) as daemon:
        port = port_of(path)
        provision = request_bytes("POST", "/", go_headers(f"127.0.0.1:{port}"), PROVISION)
        refused = send_as(OTHER_USER, "127.0.0.1", port, provision)
        assert refused.status == 403
        message = error_message(refused)
        assert f"uid {OTHER_USER}" in message
        assert "--insecure-listen" in message
        info = request_bytes("GET", "/info/api.json", [("Host", f"127.0.0.1:{port}")])
        assert send_as(OTHER_USER, "127.0.0.1", port, info).status == 403
        # One that hangs up once its request is sent, before the daemon looks (it is stopped
        # meanwhile): once the kernel has made its end a TIME_WAIT-like entry, that end is
        # listed with uid 0 and no inode, which must not pass for root.
        with daemon.stopped():
            their_port = hang_up_as(OTHER_USER, "127.0.0.1", port, provision)
            wait_until_listed_as_root(their_port, port)
        deadline = time.monotonic() + 10
        while refusals(path, "forbidden_peer") < 3:
            assert time.monotonic() < deadline, "the third refusal was not counted"
            time.sleep(0.05)
        assert instances(path) == 0
        assert send("127.0.0.1", port, provision).status == 200  # the daemon's own user
        assert instances(path) == 1


def test_insecure_listen_admits_every_local_user_and_says_so(sock_dir: Path) -> None:
    path = sock_dir / "p"
    with running_daemon(
        "--socket", str(path), "--plugin", "memory",
        "--listen", "tcp://127.0.0.1:0", "--insecure-listen",
    ) as daemon:  # fmt: skip
        port = port_of(path)
        provision = request_bytes("POST", "/", go_headers(f"127.0.0.1:{port}"), PROVISION)
        assert send_as(OTHER_USER, "127.0.0.1", port, provision).status == 200
        assert instances(path) == 1
        shown = run_cli("info", str(path), "-o", "json")
        assert shown.returncode == 0, shown.stderr
        [warning] = json.loads(shown.stdout)["Warnings"]
        assert "tcp://127.0.0.1:0 admits every local user" in warning
        log = daemon.stop()
    assert re.search(r"WARNING .*admits every local user \(--insecure-listen\)", log), log


def test_browsers_requests_and_foreign_hosts_are_refused_before_anything_runs(
    sock_dir: Path,
) -> None:
    path = sock_dir / "p"
    with running_daemon(
        "--socket", str(path), "--plugin", "memory", "--listen", "tcp://127.0.0.1:0",
        "--advertise", "web.example", "--allow-host", "extra.example",
        "--allow-host", "fixed.example:9",
    ):  # fmt: skip
        port = port_of(path)

        def post(headers: list[tuple[str, str]], number: int = 99) -> Answer:
            return send("127.0.0.1", port, request_bytes("POST", "/", headers, provision(number)))

        admitted = [
            f"127.0.0.1:{port}", "127.0.0.1", f"localhost:{port}", f"[::1]:{port}",
            f"web.example:{port}", "web.example", "WEB.example", f"extra.example:{port}",
            "extra.example", "fixed.example:9",
        ]  # fmt: skip
        for number, host in enumerate(admitted):
            answer = post(go_headers(host), number)
            assert answer.status == 200, (host, answer)
        assert instances(path) == len(admitted)
        foreign = ["evil.example", f"evil.example:{port}", f"localhost:{port + 1}", "fixed.example"]
        for host in foreign:
            answer = post(go_headers(host))
            assert answer.status == 403, (host, answer)
            assert "--allow-host" in error_message(answer)
        answer = post([*go_headers(f"127.0.0.1:{port}"), ("Origin", "http://evil.example")])
        assert answer.status == 403
        assert "Origin" in error_message(answer)
        # HTTP/1.1 without a Host: aiohttp's parser refuses it (400) before the policy would.
        assert post([h for h in go_headers("") if h[0] != "Host"]).status == 400
        # A form post (no Content-Type, or text/plain) is refused; documents need none.
        bare = [("Host", f"127.0.0.1:{port}")]
        answer = post(bare)
        assert answer.status == 415
        assert "application/json" in error_message(answer)
        assert post([*bare, ("Content-Type", "text/plain")]).status == 415
        for document in ("/info/api.json", "/metrics"):
            assert send("127.0.0.1", port, request_bytes("GET", document, bare)).status == 200
        assert instances(path) == len(admitted)
        assert refusals(path, "forbidden_host") == len(foreign) + 1


def test_tls_without_client_certificates_needs_insecure_listen(
    sock_dir: Path, certs: Certs
) -> None:
    options = [
        "--socket", str(sock_dir / "p"), "--plugin", "memory", "--listen", "tcp://127.0.0.1:0",
        "--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key),
    ]  # fmt: skip
    refused = run_cli("serve", *options, timeout=30)
    assert refused.returncode == 1
    assert "refusing TLS without client certificates on https://127.0.0.1:0" in refused.stderr
    assert "--tls-client-ca" in refused.stderr
    assert "--insecure-listen" in refused.stderr
    assert sorted(sock_dir.iterdir()) == []
    daemon = Daemon(*options, "--insecure-listen")
    try:
        daemon.wait_listening()
        shown = run_cli("info", str(sock_dir / "p"), "-o", "json")
        assert shown.returncode == 0, shown.stderr
        [warning] = json.loads(shown.stdout)["Warnings"]
        assert "without client certificates (--insecure-listen)" in warning
        log = daemon.stop()
    finally:
        daemon.close()
    assert re.search(r"WARNING .*TLS listener on https://127\.0\.0\.1:\d+ without client", log)


def test_an_inherited_loopback_socket_admits_only_the_daemons_user(sock_dir: Path) -> None:
    tool = require_tool("systemd-socket-activate", "Debian's systemd package")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serve = [*CLI, "serve", "--plugin", "memory"]
    with started([tool, "-l", f"127.0.0.1:{port}", *serve]) as process:
        assert process.stderr is not None
        read_until(process, process.stderr, f"Listening on 127.0.0.1:{port}".encode())
        # The first connection starts the daemon; the request waits in the backlog meanwhile.
        provision = request_bytes("POST", "/", go_headers(f"127.0.0.1:{port}"), PROVISION)
        refused = send_as(OTHER_USER, "127.0.0.1", port, provision)
        assert refused.status == 403
        assert "--insecure-listen" in error_message(refused)
        admitted = send("127.0.0.1", port, provision)
        assert admitted.status == 200
        assert json.loads(admitted.body)["result"]["ID"] == "inst-1"  # the first one made


def test_an_inherited_socket_beyond_loopback_needs_insecure_listen() -> None:
    with socket.socket() as everywhere:
        everywhere.bind(("0.0.0.0", 0))
        everywhere.listen()
        passed = [InheritedSocket(everywhere, "net")]
        service = InstanceService({"": MemoryPlugin()})
        with pytest.raises(InsecureListener, match=r"refusing plain TCP on tcp://0\.0\.0\.0:"):
            ActivatedServer(service, passed)
        allowed = ActivatedServer(service, passed, insecure=True)
        [warning] = allowed.warnings
        assert "without TLS (--insecure-listen)" in warning
