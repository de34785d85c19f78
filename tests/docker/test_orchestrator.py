"""examples/orchestrator.py against the docker backend: a group of 3 containers, then a rolling
update after the spec changes; the engine's own list agrees with DescribeInstances each time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from examples.orchestrator import CONFIG_TAG, GROUP_TAG
from instance_rpc import PluginClient, Spec
from instance_rpc_plugins.docker._labels import OWNER
from tests.daemon import running_daemon
from tests.docker.conftest import props
from tests.docker.engine import Engine
from tests.docker.test_daemon import serve_args
from tests.examples.conftest import EXAMPLES


def orchestrate(socket_path: Path, spec: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "orchestrator.py"), str(socket_path), str(spec),
         "--group", "web", "--size", "3", "--rounds", "1"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


async def agree(socket_path: Path, docker: Any, owner: str, config: str) -> set[str]:
    """The group as described and as the engine lists it (running, labelled): the same."""
    async with PluginClient(socket_path) as plugin:
        described = {d.id for d in await plugin.describe_instances({GROUP_TAG: "web"})}
    labels = [f"{OWNER}={owner}", f"{GROUP_TAG}=web", f"{CONFIG_TAG}={config}"]
    listed = await docker.containers.list(filters={"label": labels, "status": ["running"]})
    assert {c.id for c in listed} == described
    return described


async def test_a_group_of_containers_rolls_over_to_a_new_spec(
    engine: Engine, sock_dir: Path, docker: Any
) -> None:
    spec_file = sock_dir / "web.json"
    v1 = {"Tags": {"tier": "front"}, "Properties": props(engine, Config={"Env": ["V=1"]})}
    v2 = {"Tags": {"tier": "front"}, "Properties": props(engine, Config={"Env": ["V=2"]})}
    with running_daemon(*serve_args(engine, sock_dir, "orch")) as daemon:
        spec_file.write_text(json.dumps(v1))
        said = orchestrate(daemon.socket_path, spec_file)
        assert sum(line.startswith("provisioned ") for line in said) == 3
        config = Spec(tags=v1["Tags"], properties=v1["Properties"]).fingerprint()[:12]
        first = await agree(daemon.socket_path, docker, "orch", config)
        assert len(first) == 3

        spec_file.write_text(json.dumps(v2))
        said = orchestrate(daemon.socket_path, spec_file)
        rolled = [line for line in said if line.startswith("rolling update: ")]
        assert len(rolled) == 3
        config = Spec(tags=v2["Tags"], properties=v2["Properties"]).fingerprint()[:12]
        second = await agree(daemon.socket_path, docker, "orch", config)
        assert len(second) == 3
        assert second.isdisjoint(first)
        everything = await docker.containers.list(all=True, filters={"label": [f"{OWNER}=orch"]})
        assert {c.id for c in everything} == second  # the old ones are removed, not just stopped
        for container in everything:
            env = (await container.show())["Config"]["Env"]
            assert "V=2" in env
