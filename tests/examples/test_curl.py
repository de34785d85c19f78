"""examples/curl.sh against a real daemon."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from instance_rpc.testing.daemon import serve_in_thread
from instance_rpc_plugins.memory import MemoryPlugin
from tests.examples.conftest import EXAMPLES

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")

SCRIPT = EXAMPLES / "curl.sh"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_every_method_answers(daemon: Path) -> None:
    result = run(str(daemon))
    assert result.returncode == 0, result.stdout + result.stderr
    sent = [line for line in result.stdout.splitlines() if line.startswith("> {")]
    methods = [line.split('"method":"')[1].split('"')[0] for line in sent]
    assert set(methods) == {
        "Handshake.Hello",
        "Handshake.Implements",
        "Handshake.Types",
        "Instance.Validate",
        "Instance.Provision",
        "Instance.DescribeInstances",
        "Instance.Label",
        "Instance.Destroy",
    }
    assert '"Properties":{"size":"small","price":1.50}' in result.stdout
    assert result.stdout.rstrip().endswith("# all methods answered as expected")


def test_help_and_a_bad_socket(sock_dir: Path) -> None:
    helped = run("--help")
    assert helped.returncode == 0
    assert helped.stdout.startswith("usage: curl.sh SOCKET")
    missing = run(str(sock_dir / "none"))
    assert missing.returncode == 1
    assert missing.stderr == f"curl.sh: {sock_dir / 'none'} is not a socket\n"


def test_a_wrong_answer_stops_the_script(sock_dir: Path) -> None:
    class Refusing(MemoryPlugin):
        async def validate(self, properties: object) -> None:
            raise ValueError("no validation today")

    with serve_in_thread(Refusing(), sock_dir / "r.sock") as path:
        result = run(str(path))
    assert result.returncode == 1
    assert 'curl.sh: Instance.Validate: expected "OK":true in the answer' in result.stderr
