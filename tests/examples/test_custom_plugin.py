"""examples/custom_plugin.py: the files backend keeps the Plugin contract, and serves."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from examples.custom_plugin import FilesPlugin
from instance_rpc import (
    TERMINATION,
    PluginClient,
    PluginError,
    Spec,
    SyncPluginClient,
)
from instance_rpc.testing import running_server
from instance_rpc.testing.daemon import spawn
from tests.daemon import running_daemon
from tests.examples.conftest import EXAMPLES


@pytest.fixture
async def client(sock_dir: Path) -> AsyncIterator[PluginClient]:
    async with (
        running_server(FilesPlugin(sock_dir / "instances"), sock_dir / "files.sock") as path,
        PluginClient(path) as plugin,
    ):
        yield plugin


async def test_the_contract_over_a_socket(client: PluginClient, sock_dir: Path) -> None:
    await client.validate({"size": "small"})
    # The declared FileProperties, checked by the daemon before the backend runs
    with pytest.raises(PluginError, match="invalid Properties: Expected `object`, got `array`"):
        await client.validate([1])
    with pytest.raises(PluginError, match=r"Invalid enum value 'huge' - at `\$\.size`"):
        await client.provision(Spec(properties={"size": "huge"}))
    assert await client.describe_instances(None) == []

    raw = msgspec.Raw(b'{"price": 1.50, "big": 123456789012345678901234567890}')
    first = await client.provision(Spec(tags={"group": "web"}, properties=raw))
    second = await client.provision(Spec(tags={"group": "db"}, logical_id="db-1"))
    assert first is not None
    assert second is not None
    assert first.startswith("file-")
    assert second.startswith("file-")
    assert first != second
    assert await client.provision(Spec(logical_id="db-1")) == second  # a retry: no new one

    await client.label(first, {"owner": "me", "group": "api"})
    (labelled,) = await client.describe_instances({"owner": "me"}, properties=True)
    assert labelled.tags == {"group": "api", "owner": "me"}
    assert bytes(labelled.properties) == bytes(raw)
    listed = await client.describe_instances(None)
    assert sorted((d.id, d.logical_id, d.properties) for d in listed) == sorted(
        [(first, None, None), (second, "db-1", None)]
    )

    await client.destroy(first, TERMINATION)
    with pytest.raises(PluginError, match=f"instance not found: {first}"):
        await client.destroy(first, TERMINATION)
    with pytest.raises(PluginError, match=f"instance not found: {first}"):
        await client.label(first, {"a": "b"})
    with pytest.raises(PluginError, match=r"instance not found: \.\./x"):
        await client.destroy("../x", TERMINATION)
    assert [d.id for d in await client.describe_instances(None)] == [second]
    assert await client.provision(Spec()) not in (first, second)  # IDs are never used again


def test_served_as_a_program_instances_outlive_it(sock_dir: Path) -> None:
    socket_path, instances = sock_dir / "f.sock", sock_dir / "kept"
    command = [sys.executable, str(EXAMPLES / "custom_plugin.py"), str(socket_path)]
    command += ["--dir", str(instances)]
    with spawn(command), SyncPluginClient(socket_path) as plugin:
        created = plugin.provision(Spec(tags={"k": "v"}, properties={"n": 1}))
    assert not socket_path.exists()  # removed on SIGTERM
    assert (instances / f"{created}.json").exists()
    with spawn(command), SyncPluginClient(socket_path) as plugin:
        (again,) = plugin.describe_instances({"k": "v"}, properties=True)
    assert again.id == created
    assert bytes(again.properties) == b'{"n":1}'


def test_help() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "custom_plugin.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert "usage: custom_plugin.py [-h] [--dir DIR] socket" in result.stdout
    assert "custom_plugin.py /tmp/files.sock --dir /tmp/instances" in result.stdout


def test_served_as_a_program_it_passes_the_conformance_suite(sock_dir: Path) -> None:
    socket_path = sock_dir / "c.sock"
    command = [sys.executable, str(EXAMPLES / "custom_plugin.py"), str(socket_path)]
    command += ["--dir", str(sock_dir / "instances")]
    with spawn(command):
        checked = subprocess.run(
            [sys.executable, "-m", "instance_rpc", "conformance", str(socket_path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    summary = checked.stdout.strip().splitlines()[-1]
    assert summary.endswith(" passed, 0 failed")
    assert "FAIL" not in checked.stdout


def test_served_through_an_entry_point(sock_dir: Path) -> None:
    """The route the example's docstring gives: an ``instance_rpc.plugins`` entry point (here
    the metadata of an installed distribution on the path), then ``serve --plugin files``."""
    site = sock_dir / "site"
    info = site / "files_backend-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: files-backend\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[instance_rpc.plugins]\nfiles = custom_plugin:FilesPlugin\n"
    )
    env = {"PYTHONPATH": f"{site}:{EXAMPLES}"}
    socket_path, state = sock_dir / "e.sock", sock_dir / "state"
    for extra in (["--dir", str(state / "given")], []):
        run_env = {**env, "XDG_STATE_HOME": str(state)}
        args = ["--plugin", "files", "--socket", str(socket_path), *extra]
        with running_daemon(*args, env=run_env), SyncPluginClient(socket_path) as plugin:
            created = plugin.provision(Spec(tags={"k": "v"}))
        kept = state / "given" if extra else state / "instance-rpc" / "e.sock"
        assert (kept / f"{created}.json").exists(), sorted(state.rglob("*"))
