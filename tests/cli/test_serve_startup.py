"""``instance-rpc serve`` start-up failures, each in a real process: status 1, one stderr line,
and nothing left behind (no socket, no directory it made, no lock: another serve then starts)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from instance_rpc import PluginClient, Spec
from instance_rpc_plugins.file import FilePlugin
from tests.daemon import CLI, run_cli, running_daemon

FAILING = "tests.failing_backend:FailingPlugin"


def _tree(root: Path, ignore: Path) -> set[Path]:
    return {p for p in root.rglob("*") if ignore not in (p, *p.parents)}


def _refused(*args: str, env: dict[str, str]) -> str:
    """The one stderr line of a serve that must fail with status 1."""
    result = run_cli("serve", *args, env=env, timeout=30)
    assert result.returncode == 1, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("instance-rpc: "), lines[0]
    assert result.stdout == ""
    return lines[0].removeprefix("instance-rpc: ")


def _serves(socket_path: Path, *args: str, env: dict[str, str]) -> None:
    """A serve on the same path (and state directory) starts, answers, and stops cleanly."""
    with running_daemon("--socket", str(socket_path), *args, env=env) as running:

        async def provision() -> str | None:
            async with PluginClient(socket_path) as plugin:
                return await plugin.provision(Spec())

        assert asyncio.run(provision()) is not None
        assert running.signal(signal.SIGTERM) == 0
    assert not socket_path.exists()


@pytest.fixture
def env(sock_dir: Path) -> dict[str, str]:
    return {
        "INFRAKIT_PLUGINS_DIR": str(sock_dir / "plugins"),
        "XDG_STATE_HOME": str(sock_dir / "xdg"),
        "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])),
    }


# Each case: extra serve arguments (the socket is sock_dir/<socket>), the words of the one line.
CASES: dict[str, tuple[str, list[str], str]] = {
    "unknown backend": ("s", ["--plugin", "nope"], "unknown backend 'nope'; available: "),
    "backend that cannot be imported": (
        "s",
        ["--plugin", "tests.broken_backend:X"],
        "cannot load backend 'tests.broken_backend:X': this module is broken",
    ),
    "backend missing from its module": ("s", ["--plugin", "tests.daemon:Nope"], "cannot load"),
    "backend constructor fails": (
        "s",
        ["--plugin", FAILING],
        f"backend '{FAILING}' failed to start: cannot reach the cloud",
    ),
    "second backend fails after the first opened its state directory": (
        "s",
        ["--plugin", "file", "--plugin", FAILING, "--dir", "{state}"],
        "failed to start: cannot reach the cloud",
    ),
    "state directory is a file": (
        "s",
        ["--plugin", "file", "--dir", "{file}"],
        "backend 'file': cannot open the state directory: {file}: File exists",
    ),
    "--dir twice": (
        "s",
        ["--plugin", "file", "--dir", "a", "--dir", "b"],
        "--dir given twice without a backend name",
    ),
    "--dir for a backend without state": (
        "s",
        ["--plugin", "memory", "--dir", "memory=/m"],
        "no served backend 'memory' keeps state",
    ),
    "bad --socket-mode": ("s", ["--socket-mode", "1777"], "--socket-mode must be octal"),
    "--socket and --name": ("s", ["--name", "x"], "give --socket or --name, not both"),
    "socket under a file": ("{file}/sub/s", [], "cannot listen on {file}/sub/s: Not a directory"),
    "socket in a directory that cannot be made": (
        "/proc/instance-rpc-test/s",
        [],
        "cannot listen on /proc/instance-rpc-test/s: No such file or directory",
    ),
    "socket path too long (new directories made first)": (
        "new/deeper/" + "x" * 110,
        [],
        "AF_UNIX path too long",
    ),
    "path is not a socket": ("{file}", [], "exists and is not a socket; refusing to replace it"),
    "bad --socket-group, after the socket is bound": (
        "new/s",
        ["--plugin", "file", "--dir", "{state}", "--socket-group", "no-such-group-x"],
        "no such group: 'no-such-group-x'",
    ),
}


@pytest.fixture
def layout(sock_dir: Path) -> Callable[[str], str]:
    (sock_dir / "file").write_text("keep me")

    def fill(text: str) -> str:
        return text.format(file=sock_dir / "file", state=sock_dir / "state")

    return fill


@pytest.mark.parametrize("case", list(CASES))
def test_a_failed_start_is_one_line_and_leaves_nothing(
    case: str, sock_dir: Path, env: dict[str, str], layout: Callable[[str], str]
) -> None:
    socket_name, args, words = CASES[case]
    socket_path = sock_dir / layout(socket_name)
    state = sock_dir / "state"
    before = _tree(sock_dir, state)
    plugin = [] if "--plugin" in args else ["--plugin", "memory"]
    line = _refused(*plugin, "--socket", str(socket_path), *map(layout, args), env=env)
    assert layout(words) in line
    assert _tree(sock_dir, state) == before
    assert (sock_dir / "file").read_text() == "keep me"
    if "{state}" in args or socket_name.startswith("new/"):
        # The same socket path and state directory: nothing is left locked.
        usable = sock_dir / "again" if len(str(socket_path)) > 100 else socket_path
        _serves(usable, "--plugin", "file", "--dir", str(state), env=env)


def test_a_locked_state_directory(sock_dir: Path, env: dict[str, str]) -> None:
    state = sock_dir / "state"
    holder = FilePlugin(dir=state)
    try:
        line = _refused(
            "--socket", str(sock_dir / "s"), "--plugin", "file", "--dir", str(state), env=env
        )
        lock = state / ".lock"
        assert line == f"state directory {state} is in use by another daemon (lock held on {lock})"
    finally:
        holder.close()
    assert not (sock_dir / "s").exists()
    _serves(sock_dir / "s", "--plugin", "file", "--dir", str(state), env=env)


def test_a_live_daemon_on_the_path(sock_dir: Path, env: dict[str, str]) -> None:
    path = sock_dir / "live"
    with running_daemon("--plugin", "memory", "--socket", str(path), env=env) as first:
        line = _refused("--plugin", "memory", "--socket", str(path), env=env)
        assert line.startswith("another daemon is already ")  # serving (the lock) or listening
        assert line.endswith(f" {path}")
        assert first.signal(signal.SIGTERM) == 0
    _serves(path, "--plugin", "memory", env=env)


def test_standard_output_that_cannot_be_written_after_the_socket_is_bound(
    sock_dir: Path, env: dict[str, str]
) -> None:
    path = sock_dir / "s"
    state = sock_dir / "state"
    args = [*CLI, "serve", "--socket", str(path), "--plugin", "file", "--dir", str(state)]
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            args, stdout=full, stderr=-1, text=True, timeout=60, env={**os.environ, **env}
        )
    assert result.returncode == 1
    assert (
        result.stderr == "instance-rpc: cannot write to standard output: No space left on device\n"
    )
    assert not path.exists()
    _serves(path, "--plugin", "file", "--dir", str(state), env=env)


def test_a_stale_socket_then_a_failure_leaves_no_socket(
    sock_dir: Path, env: dict[str, str]
) -> None:
    path = sock_dir / "stale"
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(path))
    line = _refused(
        "--socket",
        str(path),
        "--plugin",
        "memory",
        "--socket-group",
        "no-such-group-x",
        "--log-level",
        "error",
        env=env,
    )
    assert "no such group" in line
    assert not path.exists()
