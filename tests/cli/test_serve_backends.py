"""``instance-rpc serve``: the file backend by default, state directories, several types."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest

from instance_rpc import TERMINATION, PluginClient, Spec
from instance_rpc.backends import ENTRY_POINT_GROUP, available_backends, load_backend
from instance_rpc.cli.serve import state_options
from instance_rpc_plugins.file import FilePlugin
from tests.daemon import run_cli, running_daemon


def test_one_stateful_backend_keeps_its_state_in_dir() -> None:
    assert state_options(["file"], ("/s",), "x") == {"file": {"dir": Path("/s")}}


def test_several_stateful_backends_get_a_subdirectory_each() -> None:
    assert state_options(["file", "process"], ("/s",), "x") == {
        "file": {"dir": Path("/s/file")},
        "process": {"dir": Path("/s/process")},
    }


def test_a_backend_may_be_given_its_own_directory() -> None:
    options = state_options(["file", "process"], ("/s", "process=/p"), "x")
    assert options == {"process": {"dir": Path("/p")}, "file": {"dir": Path("/s/file")}}


def test_without_dir_the_backends_default_is_named_after_the_socket() -> None:
    assert state_options(["file"], (), "local") == {"file": {"name": "local"}}
    assert state_options(["file", "process"], (), "local") == {
        "file": {"name": "local/file"},
        "process": {"name": "local/process"},
    }


@pytest.mark.parametrize(
    ("dirs", "message"),
    [
        (("memory=/m",), "no served backend 'memory' keeps state"),
        (("/a", "/b"), "--dir given twice without a backend name"),
    ],
)
def test_bad_dir_options_are_refused(
    dirs: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        state_options(["file"], dirs, "x")
    assert exited.value.code == 1
    assert message in capsys.readouterr().err


async def test_serve_defaults_to_the_file_backend_in_the_state_directory(
    sock_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFRAKIT_PLUGINS_DIR", str(sock_dir / "plugins"))
    monkeypatch.setenv("XDG_STATE_HOME", str(sock_dir / "state"))
    with running_daemon("--log-level", "warning") as daemon:
        assert "instance-file" in daemon.listening
        async with PluginClient("instance-file", plugins_dir=sock_dir / "plugins") as client:
            instance_id = await client.provision(Spec(properties={"a": 1}))
    documents = sock_dir / "state" / "instance-rpc" / "instance-file"
    assert [p.name for p in documents.glob("*.json")] == [f"{instance_id}.json"]


async def test_one_daemon_serves_several_types(sock_dir: Path) -> None:
    plugins = sock_dir / "plugins"
    args = ["--socket", str(plugins / "local"), "--dir", str(sock_dir / "state")]
    with running_daemon(*args, "--plugin", "file", "--plugin", "process", "--log-level", "error"):
        async with PluginClient("local", plugins_dir=plugins) as default:
            hello = await default.hello()
            assert [names for spec, names in hello.items() if spec.version == "0.6.1"] == [
                [".", "file", "process"]
            ]
        async with (
            PluginClient("local/process", plugins_dir=plugins) as process,
            PluginClient("local/file", plugins_dir=plugins) as file,
        ):
            instance_id = str(await process.provision(Spec(init="true")))
            assert [d.id for d in await process.describe_instances({})] == [instance_id]
            assert await file.describe_instances({}) == []
            await process.destroy(instance_id, TERMINATION)


def test_an_unknown_backend_is_refused_with_the_known_ones() -> None:
    done = run_cli("serve", "--plugin", "nosuch", "--socket", "/tmp/irpc-never-made.sock")
    assert done.returncode == 1
    assert "unknown backend 'nosuch'; available: docker, ec2, file, memory, process" in done.stderr


def test_the_shipped_backends_are_entry_points() -> None:
    points = {point.name: point.value for point in entry_points(group=ENTRY_POINT_GROUP)}
    assert points["file"] == "instance_rpc_plugins.file:FilePlugin"
    assert points["process"] == "instance_rpc_plugins.process.plugin:ProcessPlugin"
    assert points["memory"] == "instance_rpc_plugins.memory:MemoryPlugin"
    assert points["docker"] == "instance_rpc_plugins.docker.plugin:DockerPlugin"
    assert {"docker", "file", "memory", "process"} <= set(available_backends())


def test_load_backend_passes_the_state_directory(tmp_path: Path) -> None:
    backend = load_backend("file", dir=tmp_path / "state")
    assert isinstance(backend, FilePlugin)
    try:
        assert backend.directory == tmp_path / "state"
    finally:
        backend.close()
