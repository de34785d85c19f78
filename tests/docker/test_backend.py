"""The docker backend against a real engine: what it creates, lists, labels and removes, checked
against what the engine itself says."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest

from instance_rpc import ROLLING_UPDATE, TERMINATION, Attachment, Spec, load_properties
from instance_rpc.errors import InstanceNotFound, InvalidProperties, PluginError
from instance_rpc_plugins.docker import DockerPlugin
from instance_rpc_plugins.docker._labels import LOGICAL_ID, OWNER, PROPERTIES, SPEC
from tests.daemon import eventually
from tests.docker.conftest import SERVICE, props
from tests.docker.engine import Engine


async def labels_of(docker: Any, container_id: str) -> dict[str, str]:
    shown = await docker.containers.container(container_id).show()
    return dict(shown["Config"]["Labels"])


async def exists(docker: Any, container_id: str) -> bool:
    found = await docker.containers.list(all=True, filters={"id": [container_id]})
    return bool(found)


async def gone(docker: Any, container_id: str, timeout: float = 15.0) -> None:
    """Until the engine no longer has the container (a Destroy finishes in the background)."""

    async def absent() -> bool:
        return not await exists(docker, container_id)

    await eventually(absent, timeout, f"container {container_id[:12]} removed")


async def test_provision_creates_a_running_container_labelled_and_named(
    plugin: DockerPlugin, engine: Engine, docker: Any, owner: str
) -> None:
    properties = props(engine, Tags={"tier": "web", "env": "p"})
    spec = Spec(properties=properties, tags={"env": "s"}, logical_id="web-1")
    instance = await plugin.provision(spec)
    shown = await docker.containers.container(instance).show()
    assert shown["Name"] == "/web-1"
    assert shown["State"]["Status"] == "running"
    assert shown["Config"]["Cmd"] == SERVICE  # Properties' Cmd wins over no Init
    labels = shown["Config"]["Labels"]
    assert labels["tier"] == "web"
    assert labels["env"] == "s"  # the Spec's tags over the Properties' Tags
    assert labels[OWNER] == owner
    assert labels[LOGICAL_ID] == "web-1"
    assert labels[SPEC] == spec.fingerprint()
    assert load_properties(msgspec.Raw(labels[PROPERTIES].encode())) == properties
    [described] = await plugin.describe_instances({"tier": "web"}, properties=True)
    assert (described.id, described.logical_id) == (instance, "web-1")
    assert described.tags == {"tier": "web", "env": "s"}  # no bookkeeping label among tags
    view = load_properties(described.properties)
    assert view["state"] == "running"
    assert view["image"] == engine.image
    assert view["name"] == "web-1"
    assert view["created"].endswith("Z")
    assert view["status"].startswith("Up")
    assert view["exit_code"] is None
    assert view["properties"] == properties


async def test_init_runs_through_sh_unless_cmd_is_set(plugin: DockerPlugin, engine: Engine) -> None:
    init = "#!/bin/sh\necho one\nexit 3\n"
    properties = {"Config": {"Image": engine.image}, "StopTimeout": 0}
    instance = await plugin.provision(Spec(properties=properties, init=init, tags={"k": "init"}))

    async def exited() -> bool:
        [d] = await plugin.describe_instances({"k": "init"}, properties=True)
        return bool(load_properties(d.properties)["state"] == "exited")

    await eventually(exited, what="the Init container exiting")
    [d] = await plugin.describe_instances({"k": "init"}, properties=True)
    view = load_properties(d.properties)
    assert view["exit_code"] == 3
    assert view["status"].startswith("Exited (3)")
    await plugin.destroy(instance, TERMINATION)


async def test_init_with_cmd_runs_in_the_started_container_through_exec(
    plugin: DockerPlugin, engine: Engine, docker: Any, owner: str
) -> None:
    init = 'echo ready > /tmp/init-ran\necho "$0" >> /tmp/init-ran\n'
    instance = await plugin.provision(Spec(properties=props(engine), init=init))
    shown = await docker.containers.container(instance).show()
    assert shown["Config"]["Cmd"] == SERVICE  # the Properties' Cmd is the container's command
    assert shown["State"]["Status"] == "running"
    with await docker.containers.container(instance).get_archive("/tmp/init-ran") as tar:
        member = tar.extractfile("init-ran")
        assert member is not None
        assert member.read() == b"ready\n/bin/sh\n"  # Init ran, as /bin/sh -c


async def test_init_failing_with_cmd_fails_the_provision_and_removes_the_container(
    plugin: DockerPlugin, engine: Engine, docker: Any, owner: str
) -> None:
    spec = Spec(properties=props(engine), init="echo set-up; exit 7", logical_id="init-7")
    with pytest.raises(PluginError, match="Init exited with status 7"):
        await plugin.provision(spec)
    listed = await docker.containers.list(all=True, filters={"label": [f"{OWNER}={owner}"]})
    assert listed == []
    assert await plugin.describe_instances({}) == []


async def test_describe_never_lists_containers_that_are_not_ours(
    plugin: DockerPlugin, engine: Engine, docker: Any
) -> None:
    ours = await plugin.provision(Spec(properties=props(engine), tags={"shared": "1"}))
    strangers = [
        await docker.containers.create({"Image": engine.image, "Cmd": SERVICE, "Labels": labels})
        for labels in ({"shared": "1"}, {"shared": "1", OWNER: "someone-else"})
    ]
    assert [d.id for d in await plugin.describe_instances({})] == [ours]
    assert [d.id for d in await plugin.describe_instances({"shared": "1"})] == [ours]
    for stranger in strangers:
        with pytest.raises(InstanceNotFound):
            await plugin.destroy(stranger.id, TERMINATION)
        with pytest.raises(InstanceNotFound):
            await plugin.label(stranger.id, {"a": "b"})
        assert await exists(docker, stranger.id)
        await stranger.delete(force=True)


async def test_label_is_an_overlay_that_survives_a_restart(
    plugin: DockerPlugin, engine: Engine, docker: Any, owner: str, tmp_path: Path
) -> None:
    instance = await plugin.provision(
        Spec(properties=props(engine), tags={"keep": "1", "c": "old"})
    )
    await plugin.label(instance, {"c": "new", "added": "yes"})
    assert (await labels_of(docker, instance))["c"] == "old"  # the engine's label is unchanged
    assert [p.name for p in (tmp_path / "state").glob("*.json")] == [f"{instance}.json"]
    plugin.close()

    again = DockerPlugin(dir=tmp_path / "state", name=owner, docker_host=engine.host)
    try:
        [d] = await again.describe_instances({"added": "yes", "keep": "1"})
        assert d.tags == {"keep": "1", "c": "new", "added": "yes"}
        assert await again.describe_instances({"c": "old"}) == []
        assert [d.id for d in await again.describe_instances({"c": "new"})] == [instance]
        await again.destroy(instance, TERMINATION)
        await gone(docker, instance)

        async def forgotten() -> bool:
            return list((tmp_path / "state").glob("*.json")) == []

        await eventually(forgotten, what="the overlay forgotten")
    finally:
        await again.aclose()


async def test_destroy_stops_and_removes_with_anonymous_volumes(
    plugin: DockerPlugin, engine: Engine, docker: Any
) -> None:
    properties = props(engine, Config={"Volumes": {"/data": {}}})
    instance = await plugin.provision(Spec(properties=properties))
    [mount] = (await docker.containers.container(instance).show())["Mounts"]
    volume = mount["Name"]
    await plugin.destroy(instance, ROLLING_UPDATE)
    await gone(docker, instance)
    names = {v["Name"] for v in (await docker.volumes.list())["Volumes"] or []}
    assert volume not in names
    with pytest.raises(InstanceNotFound):
        await plugin.destroy(instance, TERMINATION)


async def test_a_container_removed_behind_our_back_is_not_found(
    plugin: DockerPlugin, engine: Engine, docker: Any
) -> None:
    instance = await plugin.provision(Spec(properties=props(engine)))
    await plugin.label(instance, {"a": "b"})
    await docker.containers.container(instance).delete(force=True)
    with pytest.raises(InstanceNotFound, match=instance):
        await plugin.destroy(instance, TERMINATION)
    assert await plugin.describe_instances({}) == []
    assert plugin.directory.joinpath(f"{instance}.json").exists() is False  # overlay dropped


async def test_stop_timeout_then_sigkill(plugin: DockerPlugin, engine: Engine, docker: Any) -> None:
    # sleep as PID 1 ignores SIGTERM: only the SIGKILL after StopTimeout ends it
    properties = {"Config": {"Image": engine.image, "Cmd": ["sleep", "300"]}, "StopTimeout": 1}
    instance = await plugin.provision(Spec(properties=properties))
    shown = await docker.containers.container(instance).show()
    assert shown["Config"]["StopTimeout"] == 1
    await plugin.destroy(instance, TERMINATION)
    assert await exists(docker, instance)  # the graceful stop goes on in the background
    await gone(docker, instance)


async def test_concurrent_provisions_of_one_logical_id_make_one_container(
    plugin: DockerPlugin, engine: Engine, docker: Any, owner: str
) -> None:
    spec = Spec(properties=props(engine), logical_id="db-1")
    ids = await asyncio.gather(*(plugin.provision(spec) for _ in range(4)))
    assert len(set(ids)) == 1
    listed = await docker.containers.list(all=True, filters={"label": [f"{OWNER}={owner}"]})
    assert [c.id for c in listed] == [ids[0]]


async def test_a_provision_during_a_destroy_waits_and_makes_a_new_container(
    plugin: DockerPlugin, engine: Engine, docker: Any
) -> None:
    # ignores SIGTERM: the destroy takes StopTimeout (2 s) before SIGKILL
    properties = {"Config": {"Image": engine.image, "Cmd": ["sleep", "300"]}, "StopTimeout": 2}
    spec = Spec(properties=properties, logical_id="mgr1", tags={"role": "mgr"})
    old = await plugin.provision(spec)
    began = asyncio.get_running_loop().time()
    await plugin.destroy(old, ROLLING_UPDATE)
    assert asyncio.get_running_loop().time() - began < 1.5  # answered before the grace ran out
    assert await plugin.describe_instances({"role": "mgr"}) == []  # committed: not described
    await plugin.destroy(old, ROLLING_UPDATE)  # a second Destroy joins
    new = await plugin.provision(spec)
    assert not await exists(docker, old)  # the Provision waited for the old one's removal
    assert new != old
    assert [d.id for d in await plugin.describe_instances({"role": "mgr"})] == [new]
    with pytest.raises(InstanceNotFound):
        await plugin.destroy(old, ROLLING_UPDATE)


async def test_a_name_taken_by_another_plugin_is_an_error(
    plugin: DockerPlugin, engine: Engine, docker: Any
) -> None:
    stranger = await docker.containers.create(
        {"Image": engine.image, "Cmd": SERVICE}, name="taken-1"
    )
    with pytest.raises(PluginError, match=r"taken-1.*not this plugin's"):
        await plugin.provision(Spec(properties=props(engine), logical_id="taken-1"))
    await stranger.delete(force=True)


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        (
            {"Config": {"Image": 1}},
            "invalid Properties: Expected `str`, got `int` - at `$.Config.Image`",
        ),
        (
            {"Config": {}},
            "invalid Properties: Object missing required field `Image` - at `$.Config`",
        ),
        ({"Config": {"Image": "x"}, "Pull": "sometimes"}, "at `$.Pull`"),
        ({"Config": {"Image": "x"}, "tags": {}}, "unknown field `tags`"),
        ([1], "invalid Properties: Expected `object`, got `array`"),
    ],
)
async def test_bad_properties_name_the_field(
    plugin: DockerPlugin, properties: Any, message: str
) -> None:
    with pytest.raises(InvalidProperties) as raised:
        await plugin.validate(properties)
    assert message in str(raised.value)
    with pytest.raises(InvalidProperties):
        await plugin.provision(Spec(properties=properties))


async def test_reserved_tags_are_refused(plugin: DockerPlugin, engine: Engine) -> None:
    with pytest.raises(PluginError, match=r"'instance-rpc\.plugin' is reserved"):
        await plugin.provision(Spec(properties=props(engine), tags={OWNER: "x"}))
    assert await plugin.describe_instances({}) == []


async def test_engine_errors_are_one_line_naming_the_cause(
    plugin: DockerPlugin, engine: Engine, tmp_path: Path
) -> None:
    missing = {"Config": {"Image": "instance-rpc-test/none:1"}, "Pull": "never"}
    with pytest.raises(PluginError, match="No such image: instance-rpc-test/none:1"):
        await plugin.provision(Spec(properties=missing))
    nowhere = f"unix://{tmp_path}/no-engine.sock"
    away = DockerPlugin(dir=tmp_path / "away", name="away", docker_host=nowhere)
    try:
        with pytest.raises(PluginError) as raised:
            await away.describe_instances({})
        assert f"docker engine at {nowhere} is unreachable" in raised.value.message
        assert "\n" not in raised.value.message
    finally:
        await away.aclose()


async def test_attachments_and_network_attachments(
    plugin: DockerPlugin, engine: Engine, docker: Any
) -> None:
    properties = props(engine, NetworkAttachments=[{"Name": "irpc-back", "Internal": True}])
    attachments = [
        Attachment(id="irpc-data", type="volume"),
        Attachment(id="irpc-logs:/var/log/app:ro", type="volume"),
        Attachment(id="irpc-front", type="network"),
        Attachment(id="nic-0"),  # no Type this backend knows: ignored
    ]
    instance = await plugin.provision(Spec(properties=properties, attachments=attachments))
    shown = await docker.containers.container(instance).show()
    mounts = {m["Name"]: (m["Destination"], m["RW"]) for m in shown["Mounts"]}
    assert mounts == {"irpc-data": ("/mnt/irpc-data", True), "irpc-logs": ("/var/log/app", False)}
    assert set(shown["NetworkSettings"]["Networks"]) >= {"irpc-back", "irpc-front"}
    [d] = await plugin.describe_instances({}, properties=True)
    assert set(load_properties(d.properties)["ip_addresses"]) >= {"irpc-back", "irpc-front"}
    back = await (await docker.networks.get("irpc-back")).show()
    assert (back["Driver"], back["Internal"]) == ("bridge", True)
    await plugin.destroy(instance, TERMINATION)
    await gone(docker, instance)
    for name in ("irpc-back", "irpc-front"):
        await (await docker.networks.get(name)).delete()  # no endpoint of the container is left
