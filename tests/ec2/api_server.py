"""An EC2-compatible API server on loopback for tests and benchmarks: moto in server mode
(``moto_server``, from ``moto[server]``), started as a process on a free port and stopped by its
PID, with static dummy credentials and no instance-metadata lookups."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "AMI",
    "CREDENTIALS",
    "HOW_TO_ENABLE",
    "APIServer",
    "APIUnavailable",
    "api_server",
    "free_port",
]

HOW_TO_ENABLE = "the EC2 tests need moto's server: pip install -e '.[dev]' (moto[server])"

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
"""Static dummy credentials: the chain must never reach for the instance-metadata address."""

AMI = "ami-12c6146b"
"""An image moto knows."""


class APIUnavailable(Exception):
    """moto's server cannot run here."""


class APIServer:
    def __init__(self, url: str, pid: int, log: Path) -> None:
        self.url = url
        self.pid = pid
        self.log = log


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _moto_server() -> str:
    beside = Path(sys.executable).with_name("moto_server")
    if beside.exists():
        return str(beside)
    found = shutil.which("moto_server")
    if found is None:
        raise APIUnavailable("moto_server is not installed")
    return found


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise APIUnavailable(f"moto_server exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise APIUnavailable("moto_server did not listen within 30 s")


@contextlib.contextmanager
def api_server() -> Iterator[APIServer]:
    """moto's server on a free loopback port, stopped by PID on exit."""
    command = _moto_server()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="ec2-api-") as where:
        log = Path(where) / "moto.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [command, "-H", "127.0.0.1", "-p", str(port)],
                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **CREDENTIALS},
                start_new_session=True,
            )  # fmt: skip
        try:
            _wait_listening(port, process, log)
            yield APIServer(f"http://127.0.0.1:{port}", process.pid, log)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
