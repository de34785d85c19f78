"""Fixtures of the example tests: a short directory and a real memory daemon in it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from instance_rpc.testing.daemon import spawn_daemon

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory whose paths fit in a Unix socket address (about 100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="irpc-ex-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def daemon(short_dir: Path) -> Iterator[Path]:
    """``instance-rpc serve --plugin memory`` as a separate process; yields its socket."""
    log = short_dir / "daemon.log"
    with spawn_daemon(["--plugin", "memory"], short_dir / "memory.sock", log=log) as path:
        yield path
