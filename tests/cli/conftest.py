"""Fixtures of the command line tests: a plugins directory with a memory daemon in it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from instance_rpc.testing.daemon import serve_in_thread
from tests.cli.helpers import Cli, RecordingPlugin, plugins_directory


@pytest.fixture
def plugins_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty plugins directory, short enough for socket paths, named by the environment."""
    with plugins_directory("irpc-cli-") as directory:
        monkeypatch.setenv("INFRAKIT_PLUGINS_DIR", str(directory))
        yield directory


@pytest.fixture(scope="module")
def plugins_dir() -> Iterator[Path]:
    """A plugins directory of the test module's own, for daemons it runs in processes."""
    with plugins_directory("irpc-cli-") as directory:
        yield directory


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
