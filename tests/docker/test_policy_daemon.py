"""``serve --docker-allow`` and ``--docker-registry``: passed to the docker backend, logged at
start-up, refusals on the wire naming the field and the flag, bad values refused at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from instance_rpc import TERMINATION, PluginClient, Spec
from instance_rpc.errors import PluginError
from tests.daemon import run_cli, running_daemon
from tests.docker.conftest import props
from tests.docker.engine import Engine
from tests.docker.test_daemon import serve_args


async def test_serve_passes_the_policy_to_the_docker_backend(
    engine: Engine, sock_dir: Path, docker: Any
) -> None:
    args = [*serve_args(engine, sock_dir, "p"), "--log-level", "info"]
    policy = ["--docker-allow", "host-namespaces", "--docker-registry", "docker.io"]
    with running_daemon(*args, *policy) as daemon:
        assert "docker policy allows: host-namespaces; registries: docker.io" in daemon.log()
        async with PluginClient(daemon.socket_path) as client:
            allowed = props(engine, HostConfig={"UTSMode": "host"})
            instance = str(await client.provision(Spec(properties=allowed)))
            shown = await docker.containers.container(instance).show()
            assert shown["HostConfig"]["UTSMode"] == "host"
            refused = props(engine, HostConfig={"Binds": ["/:/host"]})
            for call in (client.validate(refused), client.provision(Spec(properties=refused))):
                with pytest.raises(PluginError) as raised:
                    await call
                assert raised.value.code == -32000
                assert raised.value.message == (
                    "docker policy refuses $.HostConfig.Binds[0]: host path / is not under an "
                    "allowed prefix; allow with --docker-allow host-binds=/"
                )
            await client.destroy(instance, TERMINATION)
            assert await client.describe_instances({}) == []


@pytest.mark.parametrize(
    ("plugin", "option", "error"),
    [
        ("docker", "--docker-allow=root", "--docker-allow root: unknown category; one of "),
        ("docker", "--docker-registry=https://r.example", "--docker-registry: 'https://r.ex"),
        (
            "memory",
            "--docker-allow=privileged",
            "--docker-allow is an option of the docker backend",
        ),
        ("memory", "--docker-registry=r.example", "--docker-registry is an option of the docker"),
    ],
)
def test_a_bad_policy_option_stops_serve_at_start_up(
    engine: Engine, sock_dir: Path, plugin: str, option: str, error: str
) -> None:
    # the docker backend's own options (memory takes none of them, nor --dir)
    own = (
        ["--docker-host", engine.host, "--dir", str(sock_dir / "st")] if plugin == "docker" else []
    )
    done = run_cli("serve", "--socket", str(sock_dir / "s"), "--plugin", plugin,
                   *own, option)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert error in done.stderr.splitlines()[-1]
    assert not (sock_dir / "s").exists()
