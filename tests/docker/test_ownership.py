"""A container that inherited the owner label from its image (made from an image committed from
one of ours, outside the backend) is not the backend's: never described, labelled, destroyed or
returned as a LogicalID's instance; a container the backend makes from that image is."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest

from instance_rpc import TERMINATION, Spec
from instance_rpc.errors import InstanceNotFound, PluginError
from instance_rpc_plugins.docker import DockerPlugin
from instance_rpc_plugins.docker._labels import CREATION, OWNER
from tests.docker.conftest import SERVICE, props
from tests.docker.engine import Engine


@pytest.fixture
async def committed(
    plugin: DockerPlugin, engine: Engine, owner: str
) -> AsyncIterator[tuple[str, str]]:
    """One container of ours, and an image committed from it (Engine API ``POST /commit``)."""
    ours = await plugin.provision(Spec(properties=props(engine), tags={"app": "x"}))
    query = urlencode({"container": ours, "repo": f"irpc-committed/{owner}", "tag": "1"})
    status, body = engine.request("POST", f"/commit?{query}", b"{}")
    assert status == 201, body
    image = f"irpc-committed/{owner}:1"
    yield ours, image
    engine.request("DELETE", f"/images/{image}?force=1")


async def run_outside(docker: Any, image: str, name: str | None = None) -> Any:
    """``docker run`` of ``image``, not through the backend."""
    config = {"Image": image, "Cmd": SERVICE}
    container = await docker.containers.create(config, name=name)
    await container.start()
    return container


async def test_a_container_of_a_committed_image_is_not_ours(
    plugin: DockerPlugin, engine: Engine, docker: Any, owner: str, committed: tuple[str, str]
) -> None:
    ours, image = committed
    stranger = await run_outside(docker, image)
    try:
        labels = (await stranger.show())["Config"]["Labels"]
        assert labels[OWNER] == owner  # the engine gave it our owner label, from the image
        assert [d.id for d in await plugin.describe_instances({})] == [ours]
        assert [d.id for d in await plugin.describe_instances({"app": "x"}, True)] == [ours]
        with pytest.raises(InstanceNotFound):
            await plugin.label(stranger.id, {"a": "b"})
        with pytest.raises(InstanceNotFound):
            await plugin.destroy(stranger.id, TERMINATION)
        assert (await stranger.show())["State"]["Status"] == "running"
    finally:
        await stranger.delete(force=True)


async def test_a_container_the_backend_makes_from_a_committed_image_is_ours(
    plugin: DockerPlugin, engine: Engine, docker: Any, committed: tuple[str, str]
) -> None:
    ours, image = committed
    again = await plugin.provision(Spec(properties=props(engine, Config={"Image": image})))
    shown = await docker.containers.container(again).show()
    image_labels = (await docker.images.inspect(image))["Config"]["Labels"]
    assert shown["Config"]["Labels"][CREATION] != image_labels[CREATION]
    assert sorted(d.id for d in await plugin.describe_instances({})) == sorted([ours, again])
    await plugin.destroy(again, TERMINATION)
    assert [d.id for d in await plugin.describe_instances({})] == [ours]


async def test_a_logical_id_held_by_a_committed_image_container_is_not_returned(
    plugin: DockerPlugin, engine: Engine, docker: Any, owner: str, committed: tuple[str, str]
) -> None:
    _, image = committed
    name = f"{owner}-db"
    stranger = await run_outside(docker, image, name=name)
    try:
        spec = Spec(properties=props(engine), logical_id=name)
        with pytest.raises(PluginError, match="is not this plugin's"):
            await plugin.provision(spec)
    finally:
        await stranger.delete(force=True)


async def test_containers_made_before_creation_tokens_stay_ours(
    plugin: DockerPlugin, engine: Engine, docker: Any, owner: str
) -> None:
    """A container labelled as the backend labelled them before the token (no image owner)."""
    config = {"Image": engine.image, "Cmd": SERVICE, "Labels": {OWNER: owner, "old": "1"}}
    older = await docker.containers.create(config)
    await older.start()  # as the backend started it (a container left created is no instance)
    assert [d.id for d in await plugin.describe_instances({"old": "1"})] == [older.id]
    await plugin.destroy(older.id, TERMINATION)
    assert await plugin.describe_instances({}) == []
