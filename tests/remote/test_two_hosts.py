"""Two hosts in network namespaces the test makes: the daemon in one, the CLI in the other.

Needs root and ``ip``; elsewhere it skips with the reason, unless INSTANCE_RPC_REQUIRE_NETNS=1
(set by .ci/run under CI), which turns the skip into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from instance_rpc.testing.daemon import spawn
from tests.daemon import CLI
from tests.remote.conftest import Certs

DAEMON_ADDRESS = "10.231.0.1"  # in the daemon's namespace only; in the certificate's names
CLIENT_ADDRESS = "10.231.0.2"


@dataclass(frozen=True)
class Hosts:
    daemon: str
    client: str


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def _unavailable() -> str | None:
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root"
    return None


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    reason = _unavailable()
    if reason is not None:
        if os.environ.get("INSTANCE_RPC_REQUIRE_NETNS") == "1":
            pytest.fail(f"INSTANCE_RPC_REQUIRE_NETNS=1 but {reason}")
        pytest.skip(reason)
    suffix = f"{os.getpid() % 100000}"
    made = Hosts(daemon=f"irpc-d{suffix}", client=f"irpc-c{suffix}")
    veth_daemon, veth_client = f"irpcd{suffix}", f"irpcc{suffix}"
    try:
        _ip("netns", "add", made.daemon)
        _ip("netns", "add", made.client)
        _ip("link", "add", veth_daemon, "type", "veth", "peer", "name", veth_client)
        _ip("link", "set", veth_daemon, "netns", made.daemon)
        _ip("link", "set", veth_client, "netns", made.client)
        for namespace, device, address in (
            (made.daemon, veth_daemon, DAEMON_ADDRESS),
            (made.client, veth_client, CLIENT_ADDRESS),
        ):
            _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", device)
            _ip("-n", namespace, "link", "set", device, "up")
            _ip("-n", namespace, "link", "set", "lo", "up")
        yield made
    finally:
        # Deleting a namespace deletes the veth end inside it, and so the pair.
        for name in (made.daemon, made.client):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", veth_daemon], capture_output=True, timeout=30)


def in_client_host(hosts: Hosts, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", hosts.client, *CLI, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_mutual_tls_between_two_hosts(
    hosts: Hosts, certs: Certs, sock_dir: Path, tmp_path: Path
) -> None:
    socket_path = sock_dir / "p"
    serve = [
        "ip", "netns", "exec", hosts.daemon, *CLI, "serve",
        "--socket", str(socket_path), "--plugin", "memory",
        "--listen", f"tcp://{DAEMON_ADDRESS}:0",
        "--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key),
        "--tls-client-ca", str(certs.ca),
    ]  # fmt: skip
    spec = tmp_path / "spec.json"
    spec.write_text('{"Tags": {"group": "web"}}')
    with spawn(serve, log=tmp_path / "daemon.log"):
        url = socket_path.with_name("p.listen").read_text()
        assert url.startswith(f"https://{DAEMON_ADDRESS}:")
        trusted = ["--tls-ca", str(certs.ca)]
        mine = [*trusted, "--tls-cert", str(certs.client_cert), "--tls-key", str(certs.client_key)]
        stranger = [
            *trusted, "--tls-cert", str(certs.stranger_cert), "--tls-key", str(certs.stranger_key)
        ]  # fmt: skip
        refusals = {
            "no client certificate": in_client_host(hosts, "provision", url, str(spec), *trusted),
            "wrong CA": in_client_host(hosts, "provision", url, str(spec), *stranger),
            "plain HTTP": in_client_host(
                hosts, "provision", url.replace("https://", "tcp://"), str(spec)
            ),
        }
        for who, result in refusals.items():
            assert result.returncode == 1, (who, result.stdout, result.stderr)
            assert url.removeprefix("https://") in result.stderr, (who, result.stderr)
            assert len(result.stderr.strip().splitlines()) == 1, (who, result.stderr)
        described = in_client_host(hosts, "describe", url, "-o", "json", *mine)
        assert described.returncode == 0, described.stderr
        assert json.loads(described.stdout) == []  # the refused provisions changed nothing
        provisioned = in_client_host(hosts, "provision", url, str(spec), *mine)
        assert provisioned.returncode == 0, provisioned.stderr
        described = in_client_host(hosts, "describe", url, "-o", "json", *mine)
        assert [d["Tags"] for d in json.loads(described.stdout)] == [{"group": "web"}]
