"""``instance-rpc serve --plugin ec2`` as a real daemon over the fault proxy and moto's server:
the conformance suite, the orchestrator example, the options, and errors on the wire."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from examples.orchestrator import CONFIG_TAG, GROUP_TAG
from instance_rpc import PluginClient, Spec
from instance_rpc.errors import PluginError
from instance_rpc.testing.conformance import CHECK_NAMES
from tests.daemon import Daemon, run_cli, running_daemon
from tests.ec2.api_server import APIServer
from tests.ec2.conftest import props
from tests.ec2.direct import owned
from tests.ec2.fault_proxy import FaultProxy
from tests.examples.conftest import EXAMPLES


def serve_args(endpoint: str, where: Path, name: str, *more: str) -> list[str]:
    return [
        "--socket", str(where / name), "--plugin", "ec2", "--ec2-endpoint", endpoint,
        "--log-level", "warning", *more,
    ]  # fmt: skip


@pytest.fixture
def daemon(proxy: FaultProxy, sock_dir: Path, owner: str) -> Iterator[Daemon]:
    with running_daemon(*serve_args(proxy.url, sock_dir, owner)) as running:
        yield running


def test_conformance_passes_against_the_ec2_backend(daemon: Daemon, sock_dir: Path) -> None:
    properties = sock_dir / "props.json"
    properties.write_text(json.dumps(props()))
    bad = sock_dir / "bad.json"
    bad.write_text(json.dumps({"RunInstancesInput": {"ImageId": 1}}))
    done = run_cli(
        "conformance", str(daemon.socket_path), "--properties", str(properties),
        "--bad-properties", str(bad), timeout=300,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr + daemon.log()
    assert lines[-1] == f"{len(CHECK_NAMES) + 1} passed, 0 failed"


def test_conformance_passes_under_faults(proxy: FaultProxy, daemon: Daemon, sock_dir: Path) -> None:
    """Answers dropped, new instances hidden and throttling all through the suite."""
    properties = sock_dir / "props.json"
    properties.write_text(json.dumps(props()))
    proxy.hide_for = 0.5
    proxy.drop_runs = 3
    proxy.fail(10, action="DescribeInstances")
    done = run_cli(
        "conformance", str(daemon.socket_path), "--properties", str(properties), timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr + daemon.log()
    assert proxy.dropped == 3


def orchestrate(socket_path: Path, spec: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "orchestrator.py"), str(socket_path), str(spec),
         "--group", "web", "--size", "3", "--rounds", "1"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


async def test_the_orchestrator_keeps_three_instances_and_rolls_them(
    daemon: Daemon, sock_dir: Path, api_server: APIServer, owner: str
) -> None:
    spec_file = sock_dir / "web.json"
    v1 = {"Tags": {"tier": "front"}, "Properties": props(Tags={"v": "1"})}
    v2 = {"Tags": {"tier": "front"}, "Properties": props(Tags={"v": "2"})}
    spec_file.write_text(json.dumps(v1))
    said = orchestrate(daemon.socket_path, spec_file)
    assert sum(line.startswith("provisioned ") for line in said) == 3
    first = {i["InstanceId"] for i in await owned(api_server.url, owner)}
    assert len(first) == 3
    spec_file.write_text(json.dumps(v2))
    said = orchestrate(daemon.socket_path, spec_file)
    assert len([line for line in said if line.startswith("rolling update: ")]) == 3
    live = await owned(api_server.url, owner)
    config = Spec(tags=v2["Tags"], properties=v2["Properties"]).fingerprint()[:12]
    assert len(live) == 3
    assert {i["InstanceId"] for i in live}.isdisjoint(first)
    for instance in live:
        tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
        assert (tags[GROUP_TAG], tags[CONFIG_TAG], tags["v"]) == ("web", config, "2")
    async with PluginClient(daemon.socket_path) as plugin:
        described = await plugin.describe_instances({GROUP_TAG: "web"})
    assert {d.id for d in described} == {i["InstanceId"] for i in live}


async def test_errors_reach_the_caller_as_one_line(daemon: Daemon) -> None:
    async with PluginClient(daemon.socket_path) as plugin:
        with pytest.raises(PluginError) as raised:
            await plugin.provision(Spec(properties=props(), tags={"aws:x": "1"}))
        assert raised.value.code == -32000
        assert (
            raised.value.message == "Spec.Tags: tag key 'aws:x': the aws: prefix is reserved by AWS"
        )
        bad = props(RunInstancesInput={"SubnetId": "subnet-00000000"})
        with pytest.raises(PluginError, match=r"^ec2 RunInstances: InvalidSubnetID.NotFound: "):
            await plugin.provision(Spec(properties=bad))
        with pytest.raises(PluginError) as raised:
            await plugin.validate({"RunInstancesInput": {"ImageId": 1}})
        assert "$.RunInstancesInput.ImageId" in raised.value.message
    assert "Traceback" not in daemon.log()


def test_bad_rate_options_are_refused_at_start(sock_dir: Path, proxy: FaultProxy) -> None:
    args = serve_args(proxy.url, sock_dir, "bad", "--ec2-rate", "RunInstances=fast")
    done = run_cli("serve", *args, timeout=30)
    assert done.returncode != 0
    assert "--ec2-rate 'RunInstances=fast': want ACTION=RATE:BURST" in done.stderr


def test_the_endpoint_comes_from_aws_endpoint_url_ec2(
    proxy: FaultProxy, sock_dir: Path, owner: str
) -> None:
    args = ["--socket", str(sock_dir / owner), "--plugin", "ec2", "--log-level", "warning"]
    with running_daemon(*args, env={"AWS_ENDPOINT_URL_EC2": proxy.url}) as running:
        done = run_cli("describe", str(running.socket_path), timeout=60)
        assert done.returncode == 0, done.stderr + running.log()
    assert proxy.counts()["DescribeInstances"] >= 1
