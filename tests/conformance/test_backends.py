"""Every shipped backend passes the conformance suite, served on a real socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from instance_rpc.spi import Plugin
from instance_rpc.testing.pytest_plugin import conformance_test
from instance_rpc_plugins.file import FilePlugin
from instance_rpc_plugins.memory import MemoryPlugin
from instance_rpc_plugins.process import ProcessPlugin


@pytest.fixture(params=["memory", "file", "process"])
def conformance_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Plugin]:
    if request.param == "memory":
        yield MemoryPlugin()
        return
    plugin = FilePlugin(dir=tmp_path) if request.param == "file" else ProcessPlugin(dir=tmp_path)
    try:
        yield plugin
    finally:
        plugin.close()


test_conformance = conformance_test(concurrency=6)
