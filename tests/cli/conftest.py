"""Fixtures of the command line tests: a plugins directory with a memory daemon in it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from instance_rpc.testing.daemon import serve_in_thread
from tests.cli.helpers import Cli, RecordingPlugin


@pytest.fixture
def plugins_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty plugins directory, short enough for socket paths, named by the environment."""
    home = Path(tempfile.mkdtemp(prefix="irpc-cli-", dir="/tmp"))
    directory = home / "plugins"
    directory.mkdir()
    monkeypatch.setenv("INFRAKIT_PLUGINS_DIR", str(directory))
    try:
        yield directory
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def backend() -> RecordingPlugin:
    return RecordingPlugin()


@pytest.fixture
def memory_socket(plugins_home: Path, backend: RecordingPlugin) -> Iterator[Path]:
    """``backend`` served as the plugin ``instance-memory`` from a thread."""
    with serve_in_thread(backend, plugins_home / "instance-memory") as path:
        yield path


@pytest.fixture
def cli() -> Cli:
    return Cli()
