"""Every shipped backend passes the conformance suite, served on a real socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from instance_rpc.spi import Plugin
from instance_rpc.testing.pytest_plugin import conformance_test
from tests.shipped_backends import SHIPPED, shipped_backend


@pytest.fixture(params=SHIPPED)
def conformance_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Plugin]:
    with shipped_backend(request.param, tmp_path) as plugin:
        yield plugin


test_conformance = conformance_test(concurrency=6)
