"""``serve``'s backend options: given on the command line for backends that do not take them,
refused with one line; defaults from the environment keep working."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from instance_rpc import PluginClient, Spec
from instance_rpc.cli._backend_options import BACKEND_OPTIONS, BACKEND_PREFIXES
from instance_rpc.cli.serve import serve
from tests.daemon import run_cli, running_daemon


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--plugin", "memory", "--dir", "/nonexistent/state"],
            "--dir: no backend served here keeps state in a directory (serving memory)",
        ),
        (
            ["--plugin", "memory", "--docker-host", "unix:///nonexistent.sock"],
            "--docker-host is an option of the docker backend, not served here (serving memory)",
        ),
        (
            ["--plugin", "file", "--plugin", "memory", "--run-as", "nobody"],
            "--run-as is an option of the process backend, not served here (serving file, memory)",
        ),
        (
            ["--plugin", "memory", "--process-max-pids", "5"],
            "--process-max-pids is an option of the process backend, not served here "
            "(serving memory)",
        ),
        (
            ["--plugin", "process", "--docker-allow", "privileged"],
            "--docker-allow is an option of the docker backend, not served here (serving process)",
        ),
    ],
)
def test_an_option_of_a_backend_not_served_is_refused(
    sock_dir: Path, args: list[str], line: str
) -> None:
    refused = run_cli("serve", "--socket", str(sock_dir / "p.sock"), *args)
    assert refused.returncode == 1
    assert refused.stderr == f"instance-rpc: {line}\n"
    assert not (sock_dir / "p.sock").exists()


def test_every_backend_option_of_serve_is_declared() -> None:
    """A new ``--docker-...``, ``--ec2-...`` or ``--process-...`` option names its backend in
    BACKEND_OPTIONS, or this fails (so it is refused, not ignored, for other backends)."""
    names = {param.name for param in serve.params if param.name is not None}
    prefixed = {name for name in names if name.startswith(BACKEND_PREFIXES)}
    assert prefixed <= set(BACKEND_OPTIONS), prefixed - set(BACKEND_OPTIONS)
    assert {"docker_host", "run_as", "docker_allow"} <= set(BACKEND_OPTIONS)


def test_defaults_from_the_environment_are_not_refused(sock_dir: Path) -> None:
    env = {"DOCKER_HOST": "unix:///nonexistent/docker.sock", "STATE_DIRECTORY": "/nonexistent"}
    path = sock_dir / "m.sock"
    with running_daemon("--plugin", "memory", "--socket", str(path), env=env) as daemon:
        assert daemon.socket_path == path
        assert daemon.signal(signal.SIGTERM) == 0


def test_state_directory_from_systemd_is_the_default(sock_dir: Path) -> None:
    state = sock_dir / "state"
    env = {"STATE_DIRECTORY": f"{state}:/nonexistent/second"}
    path = sock_dir / "f.sock"

    async def provision() -> str | None:
        async with PluginClient(path) as client:
            return await client.provision(Spec(tags={"a": "b"}))

    with running_daemon("--plugin", "file", "--socket", str(path), env=env):
        created = asyncio.run(provision())
    assert created is not None
    assert any(created in item.name for item in state.rglob("*"))
