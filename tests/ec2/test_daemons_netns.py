"""Several stateless daemons over one EC2 endpoint: three daemons serving the same plugin name,
each in a network namespace of its own (a host of its own), over mutual TLS, all reaching one
API (the fault proxy in front of moto's server, in the test's namespace).

Needs root and ``ip``; elsewhere it skips with the reason, unless INSTANCE_RPC_REQUIRE_NETNS=1
(set by .ci/run under CI), which turns the skip into a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from instance_rpc import TERMINATION, InstanceRPCError, PluginClient, Spec
from instance_rpc.net.tls import client_context
from instance_rpc.testing.daemon import spawn
from tests.daemon import CLI, eventually
from tests.ec2.api_server import CREDENTIALS, APIServer
from tests.ec2.conftest import props
from tests.ec2.direct import owned
from tests.ec2.fault_proxy import fault_proxy
from tests.remote.test_two_hosts import _ip, _unavailable

DAEMONS = 3
NAME = "fleet"  # every daemon serves this plugin name: one fleet


@dataclass(frozen=True)
class Host:
    namespace: str
    address: str  # the daemon's, in its namespace
    gateway: str  # the test namespace's end of the link


@contextlib.contextmanager
def hosts(count: int) -> Iterator[list[Host]]:
    """``count`` namespaces, each linked to this one by a veth pair of its own."""
    reason = _unavailable()
    if reason is not None:
        if os.environ.get("INSTANCE_RPC_REQUIRE_NETNS") == "1":
            pytest.fail(f"INSTANCE_RPC_REQUIRE_NETNS=1 but {reason}")
        pytest.skip(reason)
    suffix = secrets.token_hex(3)
    octet = 100 + int(suffix, 16) % 100
    made: list[tuple[str, str]] = []
    try:
        found = []
        for n in range(count):
            namespace, outside, inside = f"irpc-e{n}-{suffix}", f"ie{n}o{suffix}", f"ie{n}i{suffix}"
            _ip("netns", "add", namespace)
            made.append((namespace, outside))
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            _ip("link", "set", inside, "netns", namespace)
            gateway, address = f"10.{octet}.{n}.1", f"10.{octet}.{n}.2"
            _ip("addr", "add", f"{gateway}/24", "dev", outside)
            _ip("link", "set", outside, "up")
            _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inside)
            _ip("-n", namespace, "link", "set", inside, "up")
            _ip("-n", namespace, "link", "set", "lo", "up")
            _ip("-n", namespace, "route", "add", "default", "via", gateway)
            found.append(Host(namespace, address, gateway))
        yield found
    finally:
        for namespace, outside in made:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=30)
            subprocess.run(["ip", "link", "del", outside], capture_output=True, timeout=30)


@dataclass(frozen=True)
class Pki:
    ca: Path
    cert: Path
    key: Path
    client_cert: Path
    client_key: Path


def pki(directory: Path, names: list[str]) -> Pki:
    ca = trustme.CA()
    server = ca.issue_cert(*names)
    client = ca.issue_cert("controller@example.org")
    paths = Pki(*(directory / n for n in ("ca.pem", "d.pem", "d.key", "c.pem", "c.key")))
    ca.cert_pem.write_to_path(str(paths.ca))
    server.cert_chain_pems[0].write_to_path(str(paths.cert))
    server.private_key_pem.write_to_path(str(paths.key))
    client.cert_chain_pems[0].write_to_path(str(paths.client_cert))
    client.private_key_pem.write_to_path(str(paths.client_key))
    return paths


def files_under(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


async def test_three_stateless_daemons_serve_one_fleet(
    api_server: APIServer, sock_dir: Path, tmp_path: Path
) -> None:
    with contextlib.ExitStack() as stack:
        linked = stack.enter_context(hosts(DAEMONS))
        certs = pki(tmp_path, [h.address for h in linked])
        proxy = stack.enter_context(fault_proxy(api_server.url, host=linked[0].gateway))
        processes: list[subprocess.Popen[bytes]] = []
        urls: list[str] = []
        for n, host in enumerate(linked):
            own = sock_dir / f"d{n}"
            state = tmp_path / f"home{n}"
            own.mkdir()
            state.mkdir()
            env = {
                **os.environ, **CREDENTIALS, "HOME": str(state),
                "XDG_STATE_HOME": str(state / "state"), "XDG_RUNTIME_DIR": str(state / "run"),
            }  # fmt: skip
            serve = [
                "ip", "netns", "exec", host.namespace, *CLI, "serve",
                "--socket", str(own / NAME), "--plugin", "ec2", "--ec2-endpoint", proxy.url,
                "--listen", f"tcp://{host.address}:0", "--tls-cert", str(certs.cert),
                "--tls-key", str(certs.key), "--tls-client-ca", str(certs.ca),
            ]  # fmt: skip
            processes.append(stack.enter_context(spawn(serve, env=env, log=tmp_path / f"{n}.log")))
            urls.append((own / f"{NAME}.listen").read_text())
        context = client_context(ca=certs.ca, cert=certs.client_cert, key=certs.client_key)
        clients = [
            await stack.enter_context(
                contextlib.nullcontext(PluginClient(u, ssl=context))
            ).__aenter__()
            for u in urls
        ]
        try:
            # Concurrent Provisions of one LogicalID through every daemon: one instance.
            proxy.hide_for = 1.0
            spec = Spec(properties=props(), tags={"app": "fleet"}, logical_id="db-1")
            answers = await asyncio.gather(*(c.provision(spec) for c in clients for _ in range(3)))
            assert len(set(answers)) == 1
            assert [i["InstanceId"] for i in await owned(api_server.url, NAME)] == answers[:1]
            instance = str(answers[0])

            # A Label through one is seen through the others.
            await clients[0].label(instance, {"role": "primary"})
            for client in clients[1:]:
                [seen] = await client.describe_instances({"role": "primary"})
                assert (seen.id, seen.logical_id) == (instance, "db-1")

            # A daemon killed in the middle of a Provision: another finishes it, nothing lost.
            proxy.hide_for = 3.0
            runs = proxy.counts()["RunInstances"]
            web = Spec(properties=props(), tags={"app": "fleet"}, logical_id="web-1")
            interrupted = asyncio.create_task(clients[0].provision(web))

            async def launched() -> bool:
                return proxy.counts()["RunInstances"] > runs

            await eventually(launched, what="the interrupted RunInstances")
            os.kill(processes[0].pid, signal.SIGKILL)
            with pytest.raises(InstanceRPCError):  # the daemon is gone
                await interrupted
            finished = str(await clients[1].provision(web))
            live = {i["InstanceId"] for i in await owned(api_server.url, NAME)}
            assert live == {instance, finished}
            described = await clients[2].describe_instances({"app": "fleet"})
            assert {d.logical_id for d in described} == {"db-1", "web-1"}
            await clients[2].destroy(finished, TERMINATION)
            assert [d.id for d in await clients[1].describe_instances({})] == [instance]
        finally:
            for client in clients:
                await client.close()
        # No state on disk: each daemon's directories hold its socket and listen file only.
        for n in range(DAEMONS):
            assert files_under(tmp_path / f"home{n}") == []
            assert set(files_under(sock_dir / f"d{n}")) <= {NAME, f"{NAME}.listen"}
