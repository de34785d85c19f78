"""Fixtures of the example tests: a short directory and a real memory daemon in it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from instance_rpc.testing.daemon import spawn_daemon

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def daemon(sock_dir: Path) -> Iterator[Path]:
    """``instance-rpc serve --plugin memory`` as a separate process; yields its socket."""
    log = sock_dir / "daemon.log"
    with spawn_daemon(["--plugin", "memory"], sock_dir / "memory.sock", log=log) as path:
        yield path
