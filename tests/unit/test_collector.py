"""The collector pause and the event loop choice (no timing is checked)."""

from __future__ import annotations

import asyncio
import gc
import importlib.metadata
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from instance_rpc.cli import eventloop
from instance_rpc.cli._common import call_plugin
from instance_rpc.client import PluginClient
from instance_rpc.observability import collector


@pytest.fixture
def collector_enabled() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.enable()
    yield
    if not was_enabled:
        gc.disable()


@pytest.mark.usefixtures("collector_enabled")
def test_paused_disables_for_the_block_and_resumes() -> None:
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_enabled")
def test_paused_resumes_after_an_exception() -> None:
    with pytest.raises(ValueError, match="boom"), collector.paused():
        raise ValueError("boom")
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_enabled")
def test_small_builds_do_not_pause() -> None:
    with collector.paused(large=False):
        assert gc.isenabled()


@pytest.mark.usefixtures("collector_enabled")
def test_a_collector_turned_off_by_the_application_stays_off() -> None:
    gc.disable()
    with collector.paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_the_standard_loop_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(eventloop.ENVIRONMENT_VARIABLE, "asyncio")
    assert eventloop.loop_factory() is None
    assert eventloop.loop_name() == "asyncio"
    assert eventloop.run(_loop_module()).startswith("asyncio")


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop is not built for Windows")
@pytest.mark.parametrize("value", [None, "", "uvloop", "UVLOOP"])
def test_uvloop_by_default(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv(eventloop.ENVIRONMENT_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(eventloop.ENVIRONMENT_VARIABLE, value)
    assert eventloop.loop_name() == "uvloop"
    assert eventloop.run(_loop_module()).startswith("uvloop")


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop is not built for Windows")
def test_an_unknown_choice_is_logged_and_the_default_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger=eventloop.__name__):
        assert eventloop.loop_name({eventloop.ENVIRONMENT_VARIABLE: "tokio"}) == "uvloop"
    assert "INSTANCE_RPC_LOOP='tokio' is not one of uvloop, asyncio" in caplog.text


def test_uvloop_is_a_dependency_outside_windows() -> None:
    requirements = importlib.metadata.requires("instance-rpc") or []
    uvloop = [r for r in requirements if r.startswith("uvloop")]
    assert uvloop, requirements
    marker = uvloop[0].partition(";")[2]
    assert "sys_platform" in marker
    assert "win32" in marker
    assert "extra" not in marker  # a regular dependency, not only an extra's


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop is not built for Windows")
@pytest.mark.parametrize(("value", "expected"), [(None, "uvloop"), ("asyncio", "asyncio")])
def test_client_commands_run_on_the_chosen_loop(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str | None, expected: str
) -> None:
    if value is None:
        monkeypatch.delenv(eventloop.ENVIRONMENT_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(eventloop.ENVIRONMENT_VARIABLE, value)

    async def loop_of(client: PluginClient) -> str:
        return await _loop_module()

    assert call_plugin(str(tmp_path / "p.sock"), loop_of).startswith(expected)
