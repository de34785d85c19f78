"""A group controller (``examples/orchestrator.py``'s ``Group``) driving our daemon's docker
backend on the private engine, through a client with InfraKit's 0.6.0-era timeout (1 s): scale
up to 3 without churn, a rolling update on a spec change, a scale down, restarts of our daemon
(SIGTERM and SIGKILL) without a spurious Provision or Destroy, and pets by LogicalID. Each with
containers the engine removes itself (``AutoRemove``) and with containers that ignore SIGTERM
(each Destroy then takes the whole ``StopTimeout``, longer than the client waits)."""

from __future__ import annotations

import signal
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from examples.orchestrator import GROUP_TAG, Group
from instance_rpc import ROLLING_UPDATE, TERMINATION, PluginClient, Spec
from instance_rpc.types import Context, Description, Properties
from instance_rpc_plugins.docker._labels import OWNER
from tests.daemon import Daemon, eventually, running_daemon
from tests.docker.conftest import SERVICE
from tests.docker.engine import Engine
from tests.docker.test_daemon import serve_args

CLIENT_TIMEOUT = 1.0
"""InfraKit's 0.6.0-era client gives up on a call after this long (INFRAKIT_CLIENT_TIMEOUT)."""

IGNORES_SIGTERM = ["/bin/sh", "-c", "trap '' TERM; sleep 300 & wait; sleep 300"]

KINDS = {
    "auto-remove": {"Cmd": SERVICE, "HostConfig": {"AutoRemove": True}, "StopTimeout": 5},
    "ignores-sigterm": {"Cmd": IGNORES_SIGTERM, "HostConfig": {}, "StopTimeout": 3},
}


def _properties(engine: Engine, kind: str, version: str) -> dict[str, Any]:
    chosen = KINDS[kind]
    config = {"Image": engine.image, "Cmd": chosen["Cmd"], "Env": [f"VERSION={version}"]}
    return {
        "Config": config,
        "HostConfig": chosen["HostConfig"],
        "StopTimeout": chosen["StopTimeout"],
    }


class Counting:
    """A Plugin in front of the client: counts Provisions and Destroys."""

    def __init__(self, client: PluginClient) -> None:
        self.client = client
        self.provisions = 0
        self.destroys = 0

    async def validate(self, properties: Properties) -> None:
        await self.client.validate(properties)

    async def provision(self, spec: Spec) -> str | None:
        self.provisions += 1
        return await self.client.provision(spec)

    async def label(self, instance: str, labels: Mapping[str, str]) -> None:
        await self.client.label(instance, labels)

    async def destroy(self, instance: str, context: Context) -> None:
        self.destroys += 1
        await self.client.destroy(instance, context)

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        return await self.client.describe_instances(tags, properties)

    def calls(self) -> tuple[int, int]:
        return self.provisions, self.destroys


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def args(engine: Engine, sock_dir: Path) -> list[str]:
    return serve_args(engine, sock_dir, "g")


@pytest.fixture
def daemon(args: list[str]) -> Iterator[Daemon]:
    with running_daemon(*args) as running:
        yield running


def _engine_containers(engine: Engine, owner: str) -> set[str]:
    """Every container of ``owner`` the engine has, whatever its state or name."""
    filters = '{"label":["' + f"{OWNER}={owner}" + '"]}'
    listed = engine.json("GET", f"/containers/json?all=1&filters={filters}")
    return {container["Id"] for container in listed}


async def _only(engine: Engine, owner: str, wanted: set[str]) -> None:
    """Wait until the engine has the containers ``wanted`` and no other of ``owner``: those
    destroyed are removed in the background, after the grace period."""

    async def settled() -> bool:
        return _engine_containers(engine, owner) == wanted

    await eventually(settled, timeout=60, what=f"the engine holding only {sorted(wanted)}")


async def _ids(group: Group) -> set[str]:
    return {member.id for member in await group.members()}


async def test_a_group_scales_rolls_and_survives_restarts(
    engine: Engine, args: list[str], kind: str
) -> None:
    v1, v2 = (Spec(properties=_properties(engine, kind, v)) for v in ("1", "2"))
    with running_daemon(*args) as daemon:
        async with PluginClient(daemon.socket_path, timeout=CLIENT_TIMEOUT) as client:
            plugin = Counting(client)
            group = Group(plugin, "web", say=lambda _: None)

            await group.converge(v1, 3)  # scale up to 3
            assert plugin.calls() == (3, 0)
            first = await _ids(group)
            assert len(first) == 3
            for _ in range(2):  # no churn
                await group.converge(v1, 3)
            assert plugin.calls() == (3, 0)
            assert await _ids(group) == first

            await group.converge(v2, 3)  # a rolling update, each Destroy answered in time
            assert plugin.calls() == (6, 3)
            second = await _ids(group)
            assert len(second) == 3
            assert second.isdisjoint(first)
            await _only(engine, "g", second)

            await group.converge(v2, 1)  # scale down
            assert plugin.calls() == (6, 5)
            kept = await _ids(group)
            assert len(kept) == 1
            assert kept <= second
            await _only(engine, "g", kept)
        daemon.stop()  # SIGTERM

    for how in ("SIGTERM", "SIGKILL"):
        with running_daemon(*args) as daemon:
            async with PluginClient(daemon.socket_path, timeout=CLIENT_TIMEOUT) as client:
                plugin = Counting(client)
                group = Group(plugin, "web", say=lambda _: None)
                await group.converge(v2, 1)
                assert plugin.calls() == (0, 0), f"after a {how} restart"
                assert await _ids(group) == kept
            if how == "SIGTERM":
                assert daemon.signal(signal.SIGTERM) == 0
            else:
                daemon.kill()

    with running_daemon(*args) as daemon:
        async with PluginClient(daemon.socket_path, timeout=CLIENT_TIMEOUT) as client:
            for instance in kept:
                await client.destroy(instance, TERMINATION)
            assert await client.describe_instances({GROUP_TAG: "web"}) == []
        await _only(engine, "g", set())


async def test_pets_by_logical_id(engine: Engine, daemon: Daemon, kind: str) -> None:
    """A pet replaced as InfraKit's group controller does: Destroy, then Provision its
    LogicalID again at once; a repeated Provision (a retry after a timeout) makes no second."""
    spec = Spec(properties=_properties(engine, kind, "1"), logical_id="pet-1")
    async with PluginClient(daemon.socket_path, timeout=CLIENT_TIMEOUT) as client:
        plugin = Counting(client)
        first = await plugin.provision(spec)
        assert await plugin.provision(spec) == first  # safe to retry
        await plugin.destroy(str(first), ROLLING_UPDATE)  # answered within the client's 1 s
        again = await client.provision(spec)  # waits for the old one's removal
        assert again not in (None, first)
        described = await client.describe_instances({}, properties=False)
        assert [(d.id, d.logical_id) for d in described] == [(again, "pet-1")]
        await _only(engine, "g", {str(again)})
        await client.destroy(str(again), TERMINATION)
        await _only(engine, "g", set())
