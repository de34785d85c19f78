"""The pieces of a TCP listener's rules: the Host names it answers, whose end a loopback
connection is (read from /proc/net/tcp, with real sockets and a real other user), and what each
kind of listener needs --insecure-listen for."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from instance_rpc.caller_policy import listener_hosts
from instance_rpc.listeners import (
    InsecureListener,
    ListenAddress,
    check_plain_tcp,
    check_tls_clients,
)
from instance_rpc.peer_uid import peer_uid, peer_uid_from_proc, proc_address
from instance_rpc.remote_access import RemoteAccess
from instance_rpc.testing import running_server
from instance_rpc.tls import client_context, server_context
from instance_rpc_plugins.memory import MemoryPlugin
from tests.remote.conftest import Certs
from tests.remote.raw_http import OTHER_USER, SYSTEM_PYTHON


def test_listener_hosts_are_its_own_names_with_its_port() -> None:
    hosts = listener_hosts(
        "127.0.0.1",
        8080,
        advertised=("Web.Example", 443),
        extra=["a.example", "b.example:9", "fd00::1"],
    )
    assert hosts == {
        "127.0.0.1", "127.0.0.1:8080", "localhost:8080", "[::1]:8080",
        "web.example", "web.example:443",
        "a.example", "a.example:8080", "b.example:9", "[fd00::1]", "[fd00::1]:8080",
    }  # fmt: skip
    assert "[::1]:8080" in listener_hosts("::1", 8080)


def test_proc_address_is_written_as_the_kernel_writes_it() -> None:
    little = sys.byteorder == "little"
    assert proc_address("127.0.0.1", 8080) == (
        "tcp",
        "0100007F:1F90" if little else "7F000001:1F90",
    )
    family, written = proc_address("::1", 80)
    assert family == "tcp6"
    assert written == ("0" * 24 + ("01000000" if little else "00000001") + ":0050")


@pytest.mark.parametrize(
    ("family", "host"), [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]
)
def test_peer_uid_names_the_user_at_the_other_end(family: int, host: str) -> None:
    with socket.socket(family) as listening:
        listening.bind((host, 0))
        listening.listen()
        port = listening.getsockname()[1]
        with socket.socket(family) as mine:
            mine.connect((host, port))
            accepted, _ = listening.accept()
            with accepted:
                ends = (accepted.getsockname(), accepted.getpeername())
                assert peer_uid(*ends) == os.geteuid()
                assert peer_uid_from_proc(*ends) == os.geteuid()
        # Another user's connection, held open until it is told to go.
        holder = subprocess.Popen(
            [
                SYSTEM_PYTHON, "-c",
                "import socket, sys; c = socket.create_connection((sys.argv[1], int(sys.argv[2])));"
                " print('up', flush=True); sys.stdin.read()",
                host, str(port),
            ],
            user=OTHER_USER, group=OTHER_USER, extra_groups=[], cwd="/",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline() == b"up\n"
            accepted, _ = listening.accept()
            with accepted:
                ends = (accepted.getsockname(), accepted.getpeername())
                assert peer_uid(*ends) == OTHER_USER
                assert peer_uid_from_proc(*ends) == OTHER_USER
        finally:
            holder.communicate(timeout=10)


def test_peer_uid_of_no_such_connection_is_nobody() -> None:
    for find in (peer_uid, peer_uid_from_proc):
        assert find(("127.0.0.1", 1), ("127.0.0.1", 2)) is None
        assert find(("not an address", 1), ("127.0.0.1", 2)) is None


def test_a_closed_end_names_nobody_not_root() -> None:
    """Closed by its process, the caller's end is listed with uid 0 and no inode."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        mine = socket.create_connection(listening.getsockname())
        accepted, _ = listening.accept()
        with accepted:
            mine.sendall(b"request")
            mine.close()
            ends = (accepted.getsockname(), accepted.getpeername())
            deadline = time.monotonic() + 10
            while not listed_as_root(*ends):  # the kernel may take a moment to forget it
                assert time.monotonic() < deadline
                time.sleep(0.01)
            assert peer_uid(*ends) is None
            assert peer_uid_from_proc(*ends) is None


def listed_as_root(local: tuple[str, int], peer: tuple[str, int]) -> bool:
    _, ours = proc_address(*local)
    _, theirs = proc_address(*peer)
    for line in Path("/proc/net/tcp").read_text().splitlines():
        fields = line.split()
        if fields[1:3] == [theirs, ours]:
            return fields[7] == "0" and fields[9] == "0"
    return False


def test_what_needs_insecure_listen() -> None:
    loopback = ListenAddress("127.0.0.1", 0)
    everywhere = ListenAddress("0.0.0.0", 0)
    assert check_plain_tcp(loopback, secure=False, insecure=False) is None
    assert "every local user" in str(check_plain_tcp(loopback, secure=False, insecure=True))
    with pytest.raises(InsecureListener, match="--insecure-listen"):
        check_plain_tcp(everywhere, secure=False, insecure=False)
    assert check_tls_clients(everywhere, client_certificates=True, insecure=False) is None
    with pytest.raises(InsecureListener, match="--tls-client-ca, or --insecure-listen"):
        check_tls_clients(loopback, client_certificates=False, insecure=False)
    warning = check_tls_clients(everywhere, client_certificates=False, insecure=True)
    assert "https://0.0.0.0:0 without client certificates" in str(warning)


async def test_tls_listeners_want_a_json_content_type_and_take_any_host(
    certs: Certs, sock_dir: Path
) -> None:
    tls = server_context(certs.server_cert, certs.server_key, client_ca=certs.ca)
    remote = RemoteAccess([ListenAddress.parse("tcp://127.0.0.1:0")], tls=tls)
    memory = MemoryPlugin()
    context = client_context(ca=certs.ca, cert=certs.client_cert, key=certs.client_key)
    provision = b'{"jsonrpc":"2.0","method":"Instance.Provision","params":{"Spec":{}},"id":1}'
    async with (
        running_server(memory, sock_dir / "p.sock", remote=remote),
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session,
    ):
        url = remote.urls()[0] + "/"
        async with session.post(
            url, data=provision, skip_auto_headers=["Content-Type"]
        ) as response:
            assert response.status == 415
            assert "application/json" in (await response.json())["error"]["message"]
        assert await memory.describe_instances(None) == []
        # The Host and Origin rules guard plain HTTP only: a browser cannot present the
        # client certificate this listener wants.
        headers = {"Host": "elsewhere.example", "Origin": "https://elsewhere.example"}
        async with session.get(url + "info/api.json", headers=headers) as response:
            assert response.status == 200
        async with session.post(
            url, data=provision, headers={"Content-Type": "application/json", **headers}
        ) as response:
            assert response.status == 200
        assert len(await memory.describe_instances(None)) == 1
