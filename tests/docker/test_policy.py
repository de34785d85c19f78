"""The docker policy on a real engine: what reaches the host is refused by default (Validate and
Provision, before anything is made), allowed per category, images only from the registries
given, reserved labels refused wherever they can be set."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from instance_rpc import Attachment, Spec
from instance_rpc.errors import PluginError
from instance_rpc_plugins._docker_labels import CREATION, LOGICAL_ID, OWNER
from instance_rpc_plugins._docker_policy import PolicyRefused
from instance_rpc_plugins.docker import DockerPlugin
from tests.docker.conftest import props
from tests.docker.engine import Engine

REFUSED: list[tuple[dict[str, Any], str, str | None]] = [
    ({"Privileged": True}, "$.HostConfig.Privileged", "privileged"),
    ({"PidMode": "host"}, "$.HostConfig.PidMode", "host-namespaces"),
    ({"IpcMode": "host"}, "$.HostConfig.IpcMode", "host-namespaces"),
    ({"NetworkMode": "host"}, "$.HostConfig.NetworkMode", "host-namespaces"),
    ({"NetworkMode": "container:abc"}, "$.HostConfig.NetworkMode", "host-namespaces"),
    ({"UTSMode": "host"}, "$.HostConfig.UTSMode", "host-namespaces"),
    ({"UsernsMode": "host"}, "$.HostConfig.UsernsMode", "host-namespaces"),
    ({"CgroupnsMode": "host"}, "$.HostConfig.CgroupnsMode", "host-namespaces"),
    ({"Links": ["other:db"]}, "$.HostConfig.Links", "host-namespaces"),
    ({"CapAdd": ["SYS_ADMIN"]}, "$.HostConfig.CapAdd", "capabilities"),
    ({"CapAdd": "ALL"}, "$.HostConfig.CapAdd", "capabilities"),
    ({"Capabilities": ["CAP_SYS_ADMIN"]}, "$.HostConfig.Capabilities", "capabilities"),
    (
        {"SecurityOpt": ["no-new-privileges", "seccomp=unconfined"]},
        "$.HostConfig.SecurityOpt[1]",
        "security-options",
    ),
    ({"SecurityOpt": ["apparmor=unconfined"]}, "$.HostConfig.SecurityOpt[0]", "security-options"),
    ({"MaskedPaths": []}, "$.HostConfig.MaskedPaths", "security-options"),
    ({"Devices": [{"PathOnHost": "/dev/mem"}]}, "$.HostConfig.Devices", "devices"),
    ({"DeviceRequests": [{"Count": -1}]}, "$.HostConfig.DeviceRequests", "devices"),
    ({"DeviceCgroupRules": ["c 1:1 rwm"]}, "$.HostConfig.DeviceCgroupRules", "devices"),
    ({"Binds": ["data:/d", "/:/host"]}, "$.HostConfig.Binds[1]", "host-binds=/"),
    ({"Binds": ["/etc/../proc:/p:ro"]}, "$.HostConfig.Binds[0]", "host-binds=/proc"),
    (
        {"Mounts": [{"Type": "bind", "Source": "/var/run", "Target": "/r"}]},
        "$.HostConfig.Mounts[0].Source",
        "host-binds=/var/run",
    ),
    (
        {
            "Mounts": [
                {
                    "Type": "volume",
                    "Source": "v",
                    "Target": "/v",
                    "VolumeOptions": {
                        "DriverConfig": {
                            "Name": "local",
                            "Options": {"type": "none", "o": "bind", "device": "/"},
                        }
                    },
                }
            ]
        },
        "$.HostConfig.Mounts[0].VolumeOptions.DriverConfig",
        "host-binds=/",
    ),
    ({"VolumeDriver": "sshfs"}, "$.HostConfig.VolumeDriver", "host-binds=/"),
    ({"Mounts": [{"Source": "/", "Target": "/h"}]}, "$.HostConfig.Mounts[0].Type", None),
    (
        {"Mounts": [{"Type": "volume", "Source": "v", "Target": "/v", "VolumeOptions": "odd"}]},
        "$.HostConfig.Mounts[0].VolumeOptions.DriverConfig",
        "host-binds=/",
    ),
    ({"Binds": ["~/x:/x"]}, "$.HostConfig.Binds[0]", None),
    ({"VolumesFrom": ["other"]}, "$.HostConfig.VolumesFrom", "volumes-from"),
    ({"Sysctls": {"net.ipv4.ip_forward": "1"}}, "$.HostConfig.Sysctls", "sysctls"),
    ({"Runtime": "runsc"}, "$.HostConfig.Runtime", "runtime"),
    ({"CgroupParent": "/"}, "$.HostConfig.CgroupParent", "cgroup-parent"),
    ({"LogConfig": {"Type": "syslog"}}, "$.HostConfig.LogConfig.Type", None),
    ({"OomKillDisabled": True}, "$.HostConfig.OomKillDisabled", None),  # a misspelt member
]


async def made_by(docker: Any, owner: str) -> list[str]:
    """The containers carrying the test's own owner label, whatever their state."""
    found = await docker.containers.list(all=True, filters={"label": [f"{OWNER}={owner}"]})
    return [c.id for c in found]


@pytest.mark.parametrize(("host", "field", "allow"), REFUSED, ids=[r[1] for r in REFUSED])
async def test_default_policy_refuses_what_reaches_the_host(
    plugin: DockerPlugin,
    engine: Engine,
    docker: Any,
    owner: str,
    host: dict[str, Any],
    field: str,
    allow: str | None,
) -> None:
    properties = props(engine, HostConfig={"Memory": 64 << 20, **host})
    for call in (plugin.validate(properties), plugin.provision(Spec(properties=properties))):
        with pytest.raises(PolicyRefused) as refused:
            await call
        assert refused.value.field == field
        assert refused.value.allow == allow
        assert refused.value.message.startswith(f"docker policy refuses {field}: ")
        remedy = f"allow with --docker-allow {allow}" if allow else "no --docker-allow allows it"
        assert refused.value.message.endswith(remedy)
    assert await made_by(docker, owner) == []


@pytest.mark.parametrize(
    ("attachment", "field"),
    [
        (Attachment(id="/:/host", type="volume"), "Spec.Attachments[1].ID"),
        (Attachment(id="/etc", type="volume"), "Spec.Attachments[1].ID"),  # /etc:/mnt//etc
        (Attachment(id="host", type="network"), "Spec.Attachments[1].ID"),
    ],
)
async def test_attachments_that_reach_the_host_are_refused(
    plugin: DockerPlugin,
    engine: Engine,
    docker: Any,
    owner: str,
    attachment: Attachment,
    field: str,
) -> None:
    attachments = [Attachment(id="irpc-fine", type="volume"), attachment]
    with pytest.raises(PolicyRefused) as refused:
        await plugin.provision(Spec(properties=props(engine), attachments=attachments))
    assert refused.value.field == field
    assert await made_by(docker, owner) == []


async def test_a_network_attachment_named_host_is_refused(
    plugin: DockerPlugin, engine: Engine, docker: Any, owner: str
) -> None:
    properties = props(engine, NetworkAttachments=[{"Name": "host"}])
    with pytest.raises(PolicyRefused, match=r"NetworkAttachments\[0\]\.Name.*host-namespaces$"):
        await plugin.validate(properties)
    with pytest.raises(PolicyRefused):
        await plugin.provision(Spec(properties=properties))
    assert await made_by(docker, owner) == []


async def test_what_any_caller_may_ask_for_passes(
    plugin: DockerPlugin, engine: Engine, docker: Any
) -> None:
    host = {
        "Memory": 64 << 20,
        "PidsLimit": 64,
        "CapDrop": ["NET_RAW"],
        "SecurityOpt": ["no-new-privileges"],
        "RestartPolicy": {"Name": "no"},
        "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}},
        "Binds": ["irpc-named:/data", "/anonymous"],
        "Tmpfs": {"/run": "size=1m"},
        "Mounts": [
            {"Type": "volume", "Source": "irpc-mounted", "Target": "/m"},
            {"Type": "tmpfs", "Target": "/scratch"},
        ],
        "Privileged": False,  # Go's zero values, as a marshalled HostConfig carries them
        "PidMode": "",
        "CapAdd": None,
        "Runtime": "",
    }
    instance = await plugin.provision(Spec(properties=props(engine, HostConfig=host)))
    shown = await docker.containers.container(instance).show()
    assert shown["HostConfig"]["PidsLimit"] == 64
    assert shown["HostConfig"]["Privileged"] is False
    assert {m["Destination"] for m in shown["Mounts"]} >= {"/data", "/anonymous", "/m"}


async def test_allowed_categories_reach_the_engine(
    engine: Engine, docker: Any, owner: str, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    (shared / "in").mkdir(parents=True)
    allow = ["host-namespaces", f"host-binds={shared}"]
    plugin = DockerPlugin(
        dir=tmp_path / "state", name=owner, docker_host=engine.host, docker_allow=allow
    )
    try:
        host = {"UTSMode": "host", "Binds": [f"{shared}/in:/in:ro"]}
        instance = await plugin.provision(Spec(properties=props(engine, HostConfig=host)))
        shown = await docker.containers.container(instance).show()
        assert shown["HostConfig"]["UTSMode"] == "host"
        assert [m["Source"] for m in shown["Mounts"]] == [f"{shared}/in"]
        escape = {"Binds": [f"{shared}/../../..:/up"]}
        with pytest.raises(PolicyRefused) as refused:
            await plugin.validate(props(engine, HostConfig=escape))
        assert refused.value.allow == f"host-binds={tmp_path.parent.parent}"
        with pytest.raises(PolicyRefused, match=r"privileged$"):
            await plugin.validate(props(engine, HostConfig={"Privileged": True}))
        assert await made_by(docker, owner) == [instance]
    finally:
        await plugin.aclose()


@pytest.mark.parametrize(
    "label", [LOGICAL_ID, OWNER, CREATION], ids=["logical-id", "owner", "creation"]
)
async def test_reserved_labels_are_refused_in_config_labels(
    plugin: DockerPlugin, engine: Engine, docker: Any, owner: str, label: str
) -> None:
    """A forged LogicalID label made a second instance of a LogicalID."""
    logical_id = f"{owner}-web"
    real = await plugin.provision(Spec(properties=props(engine), logical_id=logical_id))
    forged = props(engine, Config={"Labels": {label: logical_id if label == LOGICAL_ID else owner}})
    for call in (plugin.validate(forged), plugin.provision(Spec(properties=forged))):
        with pytest.raises(PluginError, match=rf"^\$\.Config\.Labels: label '{label}' is reserved"):
            await call
    described = await plugin.describe_instances({})
    assert [(d.id, d.logical_id) for d in described] == [(real, logical_id)]
    assert await made_by(docker, owner) == [real]


class _Listener:
    """A TCP listener on loopback that counts the connections it is offered."""

    def __init__(self) -> None:
        self.connections = 0

    def accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()


async def test_images_of_other_registries_are_refused_before_the_engine_dials(
    engine: Engine, docker: Any, owner: str, tmp_path: Path
) -> None:
    listener = _Listener()
    server = await asyncio.start_server(listener.accepted, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    plugin = DockerPlugin(
        dir=tmp_path / "state",
        name=owner,
        docker_host=engine.host,
        docker_registry=["registry.example:5000", "docker.io"],
    )
    try:
        foreign = props(engine, Config={"Image": f"127.0.0.1:{port}/evil:1"}, Pull="always")
        for call in (plugin.validate(foreign), plugin.provision(Spec(properties=foreign))):
            with pytest.raises(PolicyRefused) as refused:
                await call
            assert refused.value.field == "$.Config.Image"
            assert f"registry 127.0.0.1:{port} is not one of" in refused.value.message
        assert listener.connections == 0
        # the test image is docker.io's by Docker's rules (no domain in its first component)
        assert await plugin.provision(Spec(properties=props(engine)))
        listed = props(engine, Config={"Image": "registry.example:5000/app:1"}, Pull="never")
        await plugin.validate(listed)
        with pytest.raises(PluginError, match=r"inspect image registry\.example:5000/app:1"):
            await plugin.provision(Spec(properties=listed))  # past the policy: the engine's 404
    finally:
        server.close()
        await server.wait_closed()
        await plugin.aclose()


@pytest.mark.parametrize(
    ("allow", "registry", "message"),
    [
        (["root"], [], "--docker-allow root: unknown category"),
        (["host-binds"], [], "give an absolute path"),
        (["host-binds=srv"], [], "give an absolute path"),
        (["privileged=yes"], [], "privileged takes no value"),
        ([], ["https://registry.example"], "--docker-registry: 'https://registry.example'"),
    ],
)
def test_a_bad_policy_option_is_refused_when_the_backend_is_made(
    engine: Engine, tmp_path: Path, allow: list[str], registry: list[str], message: str
) -> None:
    with pytest.raises(PluginError, match=message):
        DockerPlugin(
            dir=tmp_path, docker_host=engine.host, docker_allow=allow, docker_registry=registry
        )
