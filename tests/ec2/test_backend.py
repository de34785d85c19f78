"""The ec2 backend through the fault proxy to moto's server: the lifecycle, tags and EC2's
limits, every page, shared listings, attachments, private IPs, and the memory backend's answers
for tags."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from instance_rpc import TERMINATION, Attachment, Spec
from instance_rpc.errors import InstanceNotFound, InvalidProperties, PluginError
from instance_rpc_plugins.ec2 import EC2Plugin
from instance_rpc_plugins.ec2._tags import OWNER
from instance_rpc_plugins.memory import MemoryPlugin
from tests.ec2.api_server import APIServer
from tests.ec2.conftest import props
from tests.ec2.direct import direct_client, everything, owned
from tests.ec2.fault_proxy import FaultProxy


async def test_provision_describe_label_destroy(
    ec2: EC2Plugin, api_server: APIServer, owner: str
) -> None:
    spec = Spec(properties=props(Tags={"tier": "web"}), tags={"app": "a"}, init="#!/bin/sh\n✓")
    instance = await ec2.provision(spec)
    [shown] = await owned(api_server.url, owner)
    assert shown["InstanceId"] == instance
    assert shown["InstanceType"] == "t3.micro"
    [described] = await ec2.describe_instances({"app": "a"}, properties=True)
    assert described.id == instance
    assert described.tags == {"tier": "web", "app": "a"}
    seen = described.properties
    assert seen is not None
    await ec2.label(instance, {"app": "b", "more": "x"})
    assert await ec2.describe_instances({"app": "a"}) == []
    [relabelled] = await ec2.describe_instances({"app": "b"})
    assert relabelled.tags == {"tier": "web", "app": "b", "more": "x"}
    await ec2.destroy(instance, TERMINATION)
    assert await ec2.describe_instances({}) == []
    for call in (ec2.destroy(instance, TERMINATION), ec2.label(instance, {"k": "v"})):
        with pytest.raises(InstanceNotFound, match=f"instance not found: {instance}"):
            await call
    with pytest.raises(InstanceNotFound):
        await ec2.destroy("i-0123456789abcdef0", TERMINATION)
    with pytest.raises(InstanceNotFound):
        await ec2.destroy("not-an-id", TERMINATION)


async def test_other_owners_instances_are_never_seen_or_touched(
    ec2: EC2Plugin, proxy: FaultProxy
) -> None:
    other = EC2Plugin(name=f"{ec2.owner}-other", ec2_endpoint=proxy.url)
    try:
        theirs = await other.provision(Spec(properties=props(), logical_id="same"))
        mine = await ec2.provision(Spec(properties=props(), logical_id="same"))
        assert mine != theirs
        assert [d.id for d in await ec2.describe_instances({})] == [mine]
        with pytest.raises(InstanceNotFound):
            await ec2.destroy(theirs, TERMINATION)
        with pytest.raises(InstanceNotFound):
            await ec2.label(theirs, {"x": "y"})
    finally:
        await other.aclose()


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ({f"k{i}": "v" for i in range(50)}, "50 tags and the backend's 1: EC2 takes at most 50"),
        ({"k" * 129: "v"}, "129 characters, EC2 takes 1 to 128"),
        ({"k": "v" * 257}, "its value has 257 characters, EC2 takes at most 256"),
        ({"aws:cloudformation": "x"}, "tag key 'aws:cloudformation': the aws: prefix is reserved"),
        ({"AWS:x": "x"}, "the aws: prefix is reserved by AWS"),
        ({"": "x"}, "an empty tag key"),
        ({OWNER: "x"}, f"tag {OWNER!r} is reserved for the ec2 backend"),
    ],
)
async def test_tags_ec2_cannot_hold_are_refused_and_change_nothing(
    ec2: EC2Plugin, proxy: FaultProxy, tags: dict[str, str], message: str
) -> None:
    with pytest.raises(PluginError, match=message.replace("(", r"\(").replace(")", r"\)")):
        await ec2.provision(Spec(properties=props(), tags=tags))
    assert proxy.counts()["RunInstances"] == 0
    instance = await ec2.provision(Spec(properties=props()))
    with pytest.raises(PluginError, match=message.replace("(", r"\(").replace(")", r"\)")[:20]):
        await ec2.label(instance, tags)
    assert proxy.counts()["CreateTags"] == 0


async def test_fifty_tags_fit_with_ours_and_a_label_past_fifty_is_refused(ec2: EC2Plugin) -> None:
    tags = {f"k{i}": "v" for i in range(48)}  # ours: owner and (no LogicalID) nothing else
    instance = await ec2.provision(Spec(properties=props(), tags=tags))
    with pytest.raises(PluginError, match="EC2 takes at most 50 tags"):
        await ec2.label(instance, {"one": "1", "two": "2"})
    await ec2.label(instance, {"one": "1"})
    [found] = await ec2.describe_instances({"one": "1"})
    assert len(found.tags) == 49


async def test_properties_are_typed_and_refusals_name_the_field(ec2: EC2Plugin) -> None:
    with pytest.raises(InvalidProperties, match=r"Expected `str`, got `int` - at `\$.Run"):
        await ec2.validate({"RunInstancesInput": {"ImageId": 1}})
    with pytest.raises(InvalidProperties, match="MinCount"):
        await ec2.validate({"RunInstancesInput": {"ImageId": "ami-1", "MinCount": 3}})
    with pytest.raises(InvalidProperties, match="ClientToken"):
        await ec2.validate({"RunInstancesInput": {"ImageId": "ami-1", "ClientToken": "x"}})
    with pytest.raises(InvalidProperties, match="unknown field `tags`"):
        await ec2.validate({"RunInstancesInput": {"ImageId": "ami-1"}, "tags": {}})
    await ec2.validate(props(Tags={"a": "b"}))


async def test_api_errors_name_the_action_and_code(ec2: EC2Plugin) -> None:
    bad = props(RunInstancesInput={"SubnetId": "subnet-00000000"})
    with pytest.raises(PluginError, match=r"^ec2 RunInstances: InvalidSubnetID.NotFound: "):
        await ec2.provision(Spec(properties=bad))


async def test_every_page_is_followed(ec2: EC2Plugin, proxy: FaultProxy) -> None:
    made = {await ec2.provision(Spec(properties=props(), tags={"n": str(i)})) for i in range(12)}
    proxy.reset_calls()
    assert {d.id for d in await ec2.describe_instances({})} == made  # pages of 5
    assert proxy.counts()["DescribeInstances"] == 3


async def test_concurrent_describes_share_one_listing(ec2: EC2Plugin, proxy: FaultProxy) -> None:
    made = {await ec2.provision(Spec(properties=props(), tags={"g": "x"})) for _ in range(3)}
    proxy.reset_calls()
    answers = await asyncio.gather(*(ec2.describe_instances({"g": "x"}) for _ in range(100)))
    assert all({d.id for d in answer} == made for answer in answers)
    assert proxy.counts()["DescribeInstances"] <= 2


async def test_a_describe_after_a_label_sees_the_label(ec2: EC2Plugin) -> None:
    """A caller never gets a listing that started before its call."""
    instance = await ec2.provision(Spec(properties=props()))
    slow = [asyncio.create_task(ec2.describe_instances({})) for _ in range(5)]
    await asyncio.sleep(0)
    await ec2.label(instance, {"after": "1"})
    assert [d.id for d in await ec2.describe_instances({"after": "1"})] == [instance]
    await asyncio.gather(*slow)


async def test_ebs_attachments_are_attached_and_others_recorded(
    ec2: EC2Plugin, api_server: APIServer
) -> None:
    async with direct_client(api_server.url) as client:
        one = (await client.create_volume(AvailabilityZone="us-east-1a", Size=1))["VolumeId"]
        two = (await client.create_volume(AvailabilityZone="us-east-1a", Size=1))["VolumeId"]
    spec = Spec(
        properties=props(
            RunInstancesInput={"Placement": {"AvailabilityZone": "us-east-1a"}},
            AttachVolumeInputs=[{"Device": "/dev/sdh", "VolumeId": two}],
        ),
        attachments=[Attachment(id=one, type="ebs"), Attachment(id="nic-0", type="nic")],
        logical_id="with-volumes",
    )
    instance = await ec2.provision(spec)
    assert await ec2.provision(spec) == instance  # attached once, not twice
    [described] = await ec2.describe_instances({}, properties=True)
    view = msgspec_decode(described.properties)
    devices = {m["Ebs"]["VolumeId"]: m["DeviceName"] for m in view["BlockDeviceMappings"]}
    assert devices[one] == "/dev/sdf"
    assert devices[two] == "/dev/sdh"
    [shown] = [i for i in await everything(api_server.url) if i["InstanceId"] == instance]
    tags = {t["Key"]: t["Value"] for t in shown["Tags"]}
    assert tags["instance-rpc.attachments"] == '[{"ID":"nic-0","Type":"nic"}]'


async def test_a_logical_id_that_is_an_ip_is_the_private_address(
    ec2: EC2Plugin, api_server: APIServer
) -> None:
    async with direct_client(api_server.url) as client:
        vpc = (await client.create_vpc(CidrBlock="10.77.0.0/16"))["Vpc"]["VpcId"]
        subnet = (await client.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24"))["Subnet"]
    spec = Spec(
        properties=props(RunInstancesInput={"SubnetId": subnet["SubnetId"]}),
        logical_id="10.77.1.17",
    )
    await ec2.provision(spec)
    [described] = await ec2.describe_instances({}, properties=True)
    assert msgspec_decode(described.properties)["PrivateIpAddress"] == "10.77.1.17"
    assert described.logical_id == "10.77.1.17"


TAGS: list[dict[str, str]] = [
    {"role": "a", "shared": "x"},
    {"role": "b", "shared": "x", "empty": ""},
    {"role": "c*", "shared": "y", "q?": "1"},
    {"role": "d", "unicode": "ünïcødé ✓ 日本語", "path": "a\\b,c=d"},
    {"role": "*", "shared": ""},
]
QUERIES: list[dict[str, str]] = [
    {}, {"shared": "x"}, {"role": "c*"}, {"role": "*"}, {"role": "c"}, {"empty": ""},
    {"shared": ""}, {"q?": "1"}, {"unicode": "ünïcødé ✓ 日本語"}, {"path": "a\\b,c=d"},
    {"role": "a", "shared": "y"}, {"nope": "1"}, {"empty": "x"},
]  # fmt: skip


async def test_describes_answer_what_the_memory_backend_answers(ec2: EC2Plugin) -> None:
    memory = MemoryPlugin()
    for number, tags in enumerate(TAGS):
        for backend in (memory, ec2):
            await backend.provision(Spec(properties=props(), tags=tags, logical_id=f"l{number}"))
    for query in QUERIES:
        want = sorted((d.logical_id, d.tags) for d in await memory.describe_instances(query))
        got = sorted((d.logical_id, d.tags) for d in await ec2.describe_instances(query))
        assert got == want, query


def msgspec_decode(value: Any) -> Any:
    import msgspec

    return msgspec.json.decode(value)
