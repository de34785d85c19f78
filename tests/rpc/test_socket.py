"""The socket's life inside one process: claims, refusals, removal."""

from __future__ import annotations

import asyncio
import socket
import stat
from pathlib import Path

import pytest

from instance_rpc import AddressInUse, InstanceService, PluginClient, PluginServer
from instance_rpc_plugins.memory import MemoryPlugin


def new_server(path: Path) -> PluginServer:
    return PluginServer(InstanceService({"": MemoryPlugin()}), path)


async def test_two_daemons_starting_at_once_never_both_claim_the_path(sock_dir: Path) -> None:
    path = sock_dir / "race.sock"
    servers = [new_server(path) for _ in range(4)]
    outcomes = await asyncio.gather(*(s.start() for s in servers), return_exceptions=True)
    started = [s for s, outcome in zip(servers, outcomes, strict=True) if outcome is None]
    refused = [o for o in outcomes if isinstance(o, AddressInUse)]
    assert (len(started), len(refused)) == (1, 3)
    async with PluginClient(path) as client:
        assert await client.describe_instances(None) == []
    await started[0].close()
    assert not path.exists()


async def test_the_socket_is_private_from_its_first_moment(sock_dir: Path) -> None:
    path = sock_dir / "private.sock"
    async with new_server(path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_a_closed_server_releases_the_path(sock_dir: Path) -> None:
    path = sock_dir / "again.sock"
    async with new_server(path):
        pass
    async with new_server(path):
        assert path.exists()
    assert not path.exists()


async def test_close_leaves_a_successors_socket_alone(sock_dir: Path) -> None:
    path = sock_dir / "successor.sock"
    first = new_server(path)
    await first.start()
    path.unlink()  # someone removed ours, and another program put its socket there
    with socket.socket(socket.AF_UNIX) as other:
        other.bind(str(path))
        await first.close()
        assert path.exists()


async def test_starting_twice_is_an_error(sock_dir: Path) -> None:
    async with new_server(sock_dir / "twice.sock") as server:
        with pytest.raises(RuntimeError, match="already started"):
            await server.start()
