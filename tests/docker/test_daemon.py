"""``instance-rpc serve --plugin docker`` as a real daemon on the private engine: the conformance
suite, two daemons on one engine, a restart, errors on the wire, and the missing extra."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from instance_rpc import TERMINATION, PluginClient, Spec
from instance_rpc.errors import PluginError
from instance_rpc.testing.conformance import CHECK_NAMES
from instance_rpc_plugins.docker._labels import OWNER
from instance_rpc_plugins.docker._properties import EXAMPLE_PROPERTIES, DockerProperties
from tests.daemon import Daemon, run_cli, running_daemon
from tests.docker.conftest import props
from tests.docker.engine import Engine


def serve_args(engine: Engine, where: Path, name: str) -> list[str]:
    return [
        "--socket",
        str(where / name),
        "--plugin",
        "docker",
        "--docker-host",
        engine.host,
        "--dir",
        str(where / f"{name}.state"),
        "--log-level",
        "warning",
    ]


@pytest.fixture
def daemon(engine: Engine, sock_dir: Path) -> Iterator[Daemon]:
    with running_daemon(*serve_args(engine, sock_dir, "d")) as running:
        yield running


def test_conformance_passes_against_the_docker_backend(
    engine: Engine, daemon: Daemon, sock_dir: Path
) -> None:
    properties = sock_dir / "props.json"
    # no Cmd: the image's own command runs, and the race check's Init replaces it
    properties.write_text(json.dumps({"Config": {"Image": engine.image}, "StopTimeout": 5}))
    bad = sock_dir / "bad.json"
    bad.write_text(json.dumps({"Config": {"Image": 1}}))
    done = run_cli(
        "conformance",
        str(daemon.socket_path),
        "--properties",
        str(properties),
        "--bad-properties",
        str(bad),
        timeout=300,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr + daemon.log()
    assert lines[-1] == f"{len(CHECK_NAMES) + 1} passed, 0 failed"
    assert all(line.startswith("PASS  ") for line in lines[:-1]), done.stdout


async def test_two_daemons_on_one_engine_never_touch_each_others_containers(
    engine: Engine, sock_dir: Path, docker: Any
) -> None:
    spec = Spec(properties=props(engine), tags={"app": "same"})
    with (
        running_daemon(*serve_args(engine, sock_dir, "one")) as one,
        running_daemon(*serve_args(engine, sock_dir, "two")) as two,
    ):
        async with PluginClient(one.socket_path) as a, PluginClient(two.socket_path) as b:
            mine = str(await a.provision(spec))
            theirs = str(await b.provision(spec))
            assert [d.id for d in await a.describe_instances({"app": "same"})] == [mine]
            assert [d.id for d in await b.describe_instances({})] == [theirs]
            with pytest.raises(PluginError, match=f"instance not found: {theirs}"):
                await a.destroy(theirs, TERMINATION)
            with pytest.raises(PluginError, match="instance not found"):
                await a.label(theirs, {"x": "y"})
            await b.destroy(theirs, TERMINATION)
            assert [d.id for d in await a.describe_instances({})] == [mine]
            listed = await docker.containers.list(all=True, filters={"label": [f"{OWNER}=one"]})
            assert [c.id for c in listed] == [mine]  # one's containers: b's is not among them
            await a.destroy(mine, TERMINATION)


async def test_a_daemon_restart_loses_nothing(engine: Engine, sock_dir: Path) -> None:
    args = serve_args(engine, sock_dir, "r")
    spec = Spec(properties=props(engine), tags={"app": "r"}, logical_id="r-1")
    with running_daemon(*args) as first:
        async with PluginClient(first.socket_path) as plugin:
            instance = str(await plugin.provision(spec))
            await plugin.label(instance, {"owner": "me"})
            before = await plugin.describe_instances({}, properties=True)
    with running_daemon(*args) as second:
        async with PluginClient(second.socket_path) as plugin:
            after = await plugin.describe_instances({}, properties=True)
            assert [d.fingerprint() for d in after] == [d.fingerprint() for d in before]
            assert after[0].tags == {"app": "r", "owner": "me"}
            assert await plugin.provision(spec) == instance  # the engine is the state
            await plugin.destroy(instance, TERMINATION)


async def test_engine_errors_reach_the_caller_as_server_errors(
    engine: Engine, daemon: Daemon, sock_dir: Path
) -> None:
    async with PluginClient(daemon.socket_path) as plugin:
        with pytest.raises(PluginError) as raised:
            await plugin.provision(Spec(properties={"Config": {"Image": "nope/none:1"}}))
        assert raised.value.code == -32000
        assert "nope/none" in raised.value.message
        with pytest.raises(PluginError) as raised:
            await plugin.validate({"Config": {"Image": 1}})
        assert raised.value.message == (
            "invalid Properties: Expected `str`, got `int` - at `$.Config.Image`"
        )
    nowhere = f"unix://{sock_dir}/none.sock"
    args = ["--socket", str(sock_dir / "n"), "--plugin", "docker", "--docker-host", nowhere]
    with running_daemon(*args, "--dir", str(sock_dir / "n.state")) as away:
        async with PluginClient(away.socket_path) as plugin:
            with pytest.raises(PluginError) as raised:
                await plugin.describe_instances({})
    assert raised.value.code == -32000
    assert f"docker engine at {nowhere} is unreachable" in raised.value.message


async def test_the_declared_properties_are_the_daemons_check_and_document(
    daemon: Daemon, sock_dir: Path
) -> None:
    async with PluginClient(daemon.socket_path) as plugin:
        with pytest.raises(PluginError) as raised:
            await plugin.provision(Spec(properties={"Config": {"Image": "x"}, "Tags": {"a": 1}}))
        document = json.loads(await plugin.info_json())
    # The daemon checks first and names the map key (the backend alone says `$.Tags[...]`)
    assert raised.value.message == "invalid Properties: Expected `str`, got `int` - at `$.Tags.a`"
    declared = document["Types"][""]
    assert declared["ExampleProperties"] == EXAMPLE_PROPERTIES
    assert declared["PropertiesSchema"] == msgspec.json.schema(DockerProperties)
    printed = run_cli("info", str(daemon.socket_path), "--schema")
    assert (printed.returncode, json.loads(printed.stdout)) == (0, declared["PropertiesSchema"])
    spec = sock_dir / "web.json"
    spec.write_text(json.dumps({"Properties": {"Config": {"Image": 1}}}))
    checked = run_cli("validate", str(daemon.socket_path), str(spec))
    provisioned = run_cli("provision", str(daemon.socket_path), str(spec))
    assert (checked.returncode, provisioned.returncode) == (1, 1)
    assert (
        checked.stderr
        == provisioned.stderr
        == (  # one voice: provision's words
            f"instance-rpc: {daemon.socket_path}: invalid Properties: "
            "Expected `str`, got `int` - at `$.Config.Image`\n"
        )
    )


def test_docker_host_without_a_backend_that_takes_it_is_refused(sock_dir: Path) -> None:
    done = run_cli("serve", "--socket", str(sock_dir / "s"), "--plugin", "memory",
                   "--docker-host", "unix:///x.sock")  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == (
        "instance-rpc: --docker-host is an option of the docker backend, not served here "
        "(serving memory)\n"
    )


def test_without_aiodocker_serve_names_the_extra(sock_dir: Path) -> None:
    hide_aiodocker = "import sys; sys.modules['aiodocker'] = None; "
    command = [sys.executable, "-c", hide_aiodocker + "from instance_rpc.cli import main; main()"]
    args = ["serve", "--socket", str(sock_dir / "s"), "--plugin", "docker"]
    done = subprocess.run(
        [*command, *args, "--dir", str(sock_dir / "st")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "pip install '.[docker]'" in lines[0]
    assert not (sock_dir / "s").exists()
