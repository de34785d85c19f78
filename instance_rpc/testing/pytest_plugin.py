"""The conformance suite as pytest tests, for backend authors' own test suites.

In a test module, define a fixture ``conformance_target`` and make the tests::

    import pytest
    from instance_rpc.testing.pytest_plugin import conformance_test
    from my_backend import MyPlugin

    @pytest.fixture
    def conformance_target(tmp_path):
        plugin = MyPlugin(dir=tmp_path)     # a Plugin: served on a temporary socket per check
        yield plugin
        plugin.close()

    test_conformance = conformance_test(properties={"size": "small"})

``conformance_target`` may also return a socket path or a plugin name (``lookup[/type]``) of a
daemon that is already running. Each check is one test (``test_conformance[handshake]``, ...);
each runs in its own event loop, so the fixture must be function-scoped and the plugin it returns
must not be tied to a loop yet. The tests need pytest only, not an asyncio plugin.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ..spi import Plugin
from . import running_server
from .conformance import CHECK_NAMES, ConformanceReport, run_conformance

__all__ = ["conformance_test", "run_checks"]

Target = Plugin | str | os.PathLike[str]


async def _run(target: Target, checks: list[str], options: dict[str, Any]) -> ConformanceReport:
    if isinstance(target, str | os.PathLike):
        return await run_conformance(target, checks=checks, **options)
    with tempfile.TemporaryDirectory(prefix="irpc-") as directory:
        async with running_server(target, Path(directory) / "plugin.sock") as socket_path:
            report = await run_conformance(socket_path, checks=checks, **options)
    # A backend that finishes Destroys in the background (the process backend) finishes them
    # on this loop, which ends with this run: let them, or what they stop would be left running.
    finished = getattr(target, "destroys_finished", None)
    if callable(finished):
        await finished()
    return report


def run_checks(
    target: Target, checks: list[str] | None = None, **options: Any
) -> ConformanceReport:
    """Run checks (default: all) against ``target`` in a fresh event loop; return the report.

    ``options`` go to :func:`~instance_rpc.testing.conformance.run_conformance`.
    """
    return asyncio.run(_run(target, list(checks or CHECK_NAMES), options))


def conformance_test(**options: Any) -> Callable[..., None]:
    """A test function parametrized over every check, run against ``conformance_target``.

    ``options`` (``properties``, ``bad_properties``, ``type_name``, ``concurrency``, ...) go
    to :func:`~instance_rpc.testing.conformance.run_conformance`.
    """

    @pytest.mark.parametrize("conformance_check", CHECK_NAMES)
    def test_conformance(conformance_target: Target, conformance_check: str) -> None:
        report = run_checks(conformance_target, [conformance_check], **options)
        failures = report.failures()
        assert not failures, "\n".join(result.line() for result in failures)

    return test_conformance
