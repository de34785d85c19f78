"""Every method through the real server and the real client, over a Unix socket."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from instance_rpc import (
    ROLLING_UPDATE,
    TERMINATION,
    Attachment,
    Description,
    InstanceService,
    InterfaceSpec,
    Plugin,
    PluginClient,
    PluginError,
    Spec,
    load_properties,
)
from instance_rpc.testing import running_server
from instance_rpc_plugins.memory import MemoryPlugin


async def provision_and_find(plugin: Plugin) -> list[Description]:
    """Works with any Plugin: a local backend or a remote one behind PluginClient."""
    instance_id = await plugin.provision(Spec(tags={"group": "web"}, properties={"size": 1}))
    assert instance_id is not None
    await plugin.label(instance_id, {"owner": "me"})
    found = await plugin.describe_instances({"group": "web", "owner": "me"}, properties=True)
    await plugin.destroy(instance_id, TERMINATION)
    return found


async def test_a_plugin_typed_function_takes_local_and_remote_plugins(
    client: PluginClient,
) -> None:
    local = await provision_and_find(MemoryPlugin())
    remote = await provision_and_find(client)
    assert [(d.id, d.tags, load_properties(d.properties)) for d in local] == [
        ("inst-1", {"group": "web", "owner": "me"}, {"size": 1})
    ]
    assert [(d.id, d.tags, load_properties(d.properties)) for d in remote] == [
        (d.id, d.tags, load_properties(d.properties)) for d in local
    ]
    assert isinstance(client, Plugin)


async def test_full_lifecycle(client: PluginClient, memory: MemoryPlugin) -> None:
    spec = Spec(
        properties={"instanceType": "m1.small"},
        tags={"group": "workers", "unicode": "héllo ✓"},
        init="#!/bin/sh\necho 'hi <&>'\n",
        logical_id="logical-1",
        attachments=[Attachment(id="vol-1", type="ebs")],
    )
    await client.validate({"instanceType": "m1.small"})
    first = await client.provision(spec)
    second = await client.provision(Spec(tags={"group": "other"}))
    assert (first, second) == ("inst-1", "inst-2")

    described = await client.describe_instances({"group": "workers"})
    assert [(d.id, d.logical_id, d.tags, d.properties) for d in described] == [
        ("inst-1", "logical-1", {"group": "workers", "unicode": "héllo ✓"}, None)
    ]
    with_props = await client.describe_instances({"group": "workers"}, properties=True)
    assert load_properties(with_props[0].properties) == {"instanceType": "m1.small"}

    await client.label("inst-1", {"group": "moved", "extra": "1"})
    assert await client.describe_instances({"group": "workers"}) == []
    moved = await client.describe_instances({"group": "moved"})
    assert moved[0].tags == {"group": "moved", "unicode": "héllo ✓", "extra": "1"}

    await client.destroy("inst-1", TERMINATION)
    await client.destroy("inst-2", ROLLING_UPDATE)
    assert await client.describe_instances(None) == []
    assert await memory.describe_instances(None) == []


async def test_properties_keep_their_number_literals(client: PluginClient) -> None:
    raw = msgspec.Raw(b'{"n":1.50,"big":12345678901234567890,"html":"\\u003cb\\u003e"}')
    instance_id = await client.provision(Spec(properties=raw))
    assert instance_id is not None
    (described,) = await client.describe_instances({}, properties=True)
    assert isinstance(described.properties, msgspec.Raw)
    assert bytes(described.properties) == bytes(raw)


async def test_describe_matches_all_tags(client: PluginClient) -> None:
    await client.provision(Spec(tags={"a": "1", "b": "2"}))
    await client.provision(Spec(tags={"a": "1"}))
    assert [d.id for d in await client.describe_instances({"a": "1"})] == ["inst-1", "inst-2"]
    assert [d.id for d in await client.describe_instances({"a": "1", "b": "2"})] == ["inst-1"]
    assert [d.id for d in await client.describe_instances({"a": "1", "b": "3"})] == []


async def test_backend_errors_arrive_with_their_message(client: PluginClient) -> None:
    with pytest.raises(PluginError, match=r"^instance not found: nope$") as caught:
        await client.destroy("nope", TERMINATION)
    assert caught.value.code == -32000
    with pytest.raises(PluginError, match=r"^instance not found: nope$"):
        await client.label("nope", {"a": "b"})
    with pytest.raises(PluginError, match="must be a JSON object, got array"):
        await client.validate([1, 2])


async def test_typed_backends_in_one_daemon(sock_dir: Path) -> None:
    default, other = MemoryPlugin(id_prefix="d-"), MemoryPlugin(id_prefix="o-")
    async with running_server({"": default, "other": other}, sock_dir / "multi") as path:
        async with (
            PluginClient(path) as to_default,
            PluginClient(path, type_name="other") as to_other,
        ):
            assert await to_default.provision(Spec()) == "d-1"
            assert await to_other.provision(Spec()) == "o-1"
            assert [d.id for d in await other.describe_instances(None)] == ["o-1"]
            handshake = await to_default.hello()
            assert handshake == {InterfaceSpec("Instance", "0.6.1"): [".", "other"]}
        async with PluginClient(path, type_name="missing") as to_missing:
            with pytest.raises(PluginError, match=r"^no-plugin:missing$"):
                await to_missing.describe_instances(None)


async def test_plugin_name_resolves_in_the_plugins_directory(
    sock_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFRAKIT_PLUGINS_DIR", str(sock_dir))
    typed = {"": MemoryPlugin(id_prefix="d-"), "two": MemoryPlugin(id_prefix="t-")}
    async with running_server(typed, sock_dir / "local"), PluginClient("local/two") as plugin:
        assert plugin.type_name == "two"
        assert await plugin.provision(Spec()) == "t-1"


async def test_info_describes_the_plugin(client: PluginClient) -> None:
    info = await client.info()
    assert info.Vendor is not None
    assert info.Vendor.Name == "instance-rpc-memory"
    versions = [(api.Name, api.Version) for api in info.Implements]
    assert versions == [("Instance", "0.6.0"), ("Instance", "0.6.1")]
    methods = [example.Request["method"] for example in info.Interfaces[0].Methods]
    assert methods == [
        "Instance.DescribeInstances",
        "Instance.Destroy",
        "Instance.Label",
        "Instance.Provision",
        "Instance.Validate",
    ]


async def test_concurrent_calls_get_their_own_answers(client: PluginClient) -> None:
    ids = await asyncio.gather(*(client.provision(Spec(tags={"n": str(i)})) for i in range(50)))
    assert len(set(ids)) == 50
    for i, instance_id in enumerate(ids):
        (found,) = await client.describe_instances({"n": str(i)})
        assert found.id == instance_id


async def test_service_refuses_no_backends() -> None:
    with pytest.raises(ValueError, match="at least one backend"):
        InstanceService({})


async def test_info_json_is_the_document_as_served(sock_dir: Path) -> None:
    from aiohttp import web

    document = (
        b'{"Vendor":{"Name":"go","Version":"1"},"Implements":[],"Interfaces":[],"Extra":[1.50]}'
    )

    async def serve_info(request: web.Request) -> web.Response:
        return web.Response(body=document, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/info/api.json", serve_info)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.UnixSite(runner, str(sock_dir / "go.sock")).start()
    try:
        async with PluginClient(sock_dir / "go.sock") as client:
            assert await client.info_json() == document
            info = await client.info()
            assert info.Vendor is not None
            assert info.Vendor.Name == "go"
    finally:
        await runner.cleanup()
