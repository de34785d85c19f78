"""HTTPS listeners and mutual TLS on loopback, in the test's event loop."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from instance_rpc import PluginClient
from instance_rpc.errors import InvalidRequest, PluginUnavailable
from instance_rpc.net.tls import client_context, server_context
from instance_rpc.server.listeners import ListenAddress
from instance_rpc.server.remote_access import RemoteAccess
from instance_rpc.testing import running_server
from instance_rpc.types import Spec
from instance_rpc_plugins.memory import MemoryPlugin
from tests.remote.conftest import Certs


@pytest.fixture
async def mutual(certs: Certs, sock_dir: Path) -> AsyncIterator[tuple[str, MemoryPlugin]]:
    """A daemon on https://127.0.0.1:PORT requiring client certificates from the test CA."""
    memory = MemoryPlugin()
    tls = server_context(certs.server_cert, certs.server_key, client_ca=certs.ca)
    remote = RemoteAccess([ListenAddress.parse("tcp://127.0.0.1:0")], tls=tls)
    async with running_server(memory, sock_dir / "p.sock", remote=remote):
        yield remote.urls()[0], memory


async def test_mutual_tls_serves_a_client_with_a_certificate_from_the_ca(
    mutual: tuple[str, MemoryPlugin], certs: Certs
) -> None:
    url, memory = mutual
    context = client_context(ca=certs.ca, cert=certs.client_cert, key=certs.client_key)
    async with PluginClient(url, ssl=context) as client:
        instance = await client.provision(Spec(tags={"t": "1"}))
        described = await client.describe_instances(None)
    assert [d.id for d in described] == [instance]
    assert [d.id for d in await memory.describe_instances(None)] == [instance]


@pytest.mark.parametrize(
    ("who", "reason"),
    [
        ("no client certificate", "no client certificate"),
        ("certificate from another CA", "does not trust"),
        ("daemon signed by an unknown CA", "unknown CA"),
    ],
)
async def test_refused_clients_get_one_line_naming_address_and_reason(
    who: str, reason: str, mutual: tuple[str, MemoryPlugin], certs: Certs
) -> None:
    url, memory = mutual
    target = url
    context = None
    if who == "no client certificate":
        context = client_context(ca=certs.ca)
    elif who == "certificate from another CA":
        context = client_context(ca=certs.ca, cert=certs.stranger_cert, key=certs.stranger_key)
    else:
        context = client_context(ca=certs.other_ca, cert=certs.client_cert, key=certs.client_key)
    with pytest.raises(PluginUnavailable) as caught:
        async with PluginClient(target, ssl=context, retries=0) as client:
            await client.provision(Spec(tags={"t": "1"}))
    message = str(caught.value)
    assert target in message
    assert reason in message
    assert "\n" not in message
    assert await memory.describe_instances(None) == []


async def test_a_plain_http_caller_is_told_to_use_https(
    mutual: tuple[str, MemoryPlugin],
) -> None:
    url, memory = mutual
    with pytest.raises(InvalidRequest, match=f"HTTPS server: use {url}$"):
        async with PluginClient(url.replace("https://", "tcp://"), retries=0) as client:
            await client.provision(Spec(tags={"t": "1"}))
    assert await memory.describe_instances(None) == []


async def test_a_name_the_certificate_does_not_carry_is_a_name_mismatch(
    certs: Certs, sock_dir: Path, tmp_path: Path
) -> None:
    ca = trustme.CA()
    elsewhere = ca.issue_cert("plugin.example.org")
    elsewhere.cert_chain_pems[0].write_to_path(str(tmp_path / "s.pem"))
    elsewhere.private_key_pem.write_to_path(str(tmp_path / "s.key"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    tls = server_context(tmp_path / "s.pem", tmp_path / "s.key")
    remote = RemoteAccess([ListenAddress.parse("tcp://127.0.0.1:0")], tls=tls, insecure=True)
    async with running_server(MemoryPlugin(), sock_dir / "p.sock", remote=remote):
        context = client_context(ca=tmp_path / "ca.pem")
        with pytest.raises(PluginUnavailable, match="name mismatch"):
            async with PluginClient(remote.urls()[0], ssl=context, retries=0) as client:
                await client.describe_instances(None)


async def test_a_tls_1_3_only_client_is_told_the_version_and_that_a_certificate_is_wanted(
    mutual: tuple[str, MemoryPlugin], certs: Certs
) -> None:
    url, memory = mutual
    context = client_context(ca=certs.ca, cert=certs.client_cert, key=certs.client_key)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    with pytest.raises(PluginUnavailable) as caught:
        async with PluginClient(url, ssl=context, retries=0) as client:
            await client.provision(Spec(tags={"t": "1"}))
    message = str(caught.value)
    assert "only TLS 1.3" in message
    assert "speaks TLS 1.2" in message
    assert "wants a client certificate" in message
    assert "refused" not in message  # its certificate was never looked at
    assert await memory.describe_instances(None) == []
