"""The collector pause and the event loop choice (no timing is checked)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from instance_rpc import collector, eventloop


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


def test_the_standard_loop_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(eventloop.ENVIRONMENT_VARIABLE, "asyncio")
    assert eventloop.loop_factory() is None
    assert eventloop.loop_name() == "asyncio"

    async def loop_type() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert eventloop.run(loop_type()).startswith("asyncio")


def test_uvloop_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop")
    monkeypatch.delenv(eventloop.ENVIRONMENT_VARIABLE, raising=False)
    assert eventloop.loop_name() == "uvloop"

    async def loop_type() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert eventloop.run(loop_type()).startswith("uvloop")
