"""The command line as a user runs it: separate processes against ``instance-rpc serve``."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.helpers import daemon_process, run_command


@pytest.fixture(scope="module")
def daemon(plugins_dir: Path) -> Iterator[Path]:
    with daemon_process(plugins_dir, "instance-memory", "--plugin", "memory") as path:
        yield path


def test_a_session(plugins_dir: Path, daemon: Path) -> None:
    spec = '{"Tags": {"group": "web"}, "Properties": {"price": 1.50}}'
    provisioned = run_command(plugins_dir, "provision", "instance-memory", "-", input=spec)
    assert (provisioned.returncode, provisioned.stderr) == (0, "")
    instance_id = provisioned.stdout.strip()
    assert instance_id.startswith("inst-")

    labelled = run_command(plugins_dir, "label", "instance-memory", instance_id, "owner=me")
    assert labelled.stdout == f"{instance_id}\n"

    described = run_command(
        plugins_dir, "describe", "instance-memory", "--properties", "-t", "owner=me"
    )
    assert described.returncode == 0
    assert described.stdout.splitlines()[1].split() == [
        instance_id,
        "-",
        "group=web,owner=me",
        '{"price":',
        "1.50}",
    ]

    destroyed = run_command(plugins_dir, "destroy", "instance-memory", instance_id)
    assert destroyed.stdout == f"{instance_id}\n"
    assert (
        run_command(plugins_dir, "describe", "instance-memory", "-q", "-t", "owner=me").stdout == ""
    )


def test_listing_with_a_stale_socket(plugins_dir: Path, daemon: Path) -> None:
    stale = plugins_dir / "crashed"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(stale))
    try:
        listed = run_command(plugins_dir, "ls")
        described = run_command(plugins_dir, "describe", "crashed")
    finally:
        stale.unlink()
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert lines[1].split()[0] == "crashed"
    assert lines[1].endswith("stale socket: nothing answers")
    assert lines[2].split() == ["instance-memory", "Instance/0.6.1", "(default)", "ok"]
    assert described.returncode == 1
    assert described.stderr == (
        f"instance-rpc: plugin at {stale} is unavailable: Connection refused\n"
    )


def test_errors_carry_no_traceback(plugins_dir: Path, daemon: Path) -> None:
    for args, stdin in [
        (("destroy", "instance-memory", "inst-404"), ""),
        (("provision", "instance-memory", "-"), "{not json"),
    ]:
        result = run_command(plugins_dir, *args, input=stdin)
        assert result.returncode == 1, args
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr


def test_info(plugins_dir: Path, daemon: Path) -> None:
    result = run_command(plugins_dir, "info", str(daemon))
    assert result.returncode == 0
    assert "Implements:  Instance/0.6.0, Instance/0.6.1" in result.stdout
