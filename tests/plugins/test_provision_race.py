"""Every shipped backend: a Provision racing a Destroy of the instance with its LogicalID never
gets the dying instance's ID, and one LogicalID still gives one live instance."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from instance_rpc import ROLLING_UPDATE, TERMINATION, PluginClient, Spec
from instance_rpc.errors import InstanceNotFound
from instance_rpc.spi import Plugin
from instance_rpc.types import load_properties
from instance_rpc_plugins.process import ProcessPlugin, ProcessRecord
from instance_rpc_plugins.process._procfs import identity_of, is_running
from instance_rpc_plugins.store.documents import DocumentStore
from tests.daemon import destroy_finished, eventually, running_daemon, short_tmp_dir
from tests.plugins.sigterm import ignoring_sigterm
from tests.shipped_backends import SHIPPED, shipped_backend

IGNORES_SIGTERM = "trap '' TERM\nsleep 600 &\nwait\n"
SPEC = Spec(init=IGNORES_SIGTERM, logical_id="mgr1", properties={"stop_grace_seconds": 2})


@pytest.fixture(params=SHIPPED)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Plugin]:
    with shipped_backend(request.param, tmp_path) as plugin:
        yield plugin


async def _state(plugin: Plugin, instance_id: str) -> str | None:
    """``Properties.state`` as described (``None`` where the backend reports none)."""
    for described in await plugin.describe_instances({}, properties=True):
        if described.id == instance_id:
            view = load_properties(described.properties)
            return view.get("state") if isinstance(view, dict) else None
    return None


async def _processes(plugin: ProcessPlugin, instance_id: str) -> list[int]:
    for described in await plugin.describe_instances({}, properties=True):
        if described.id == instance_id:
            return list(load_properties(described.properties)["processes"])
    raise AssertionError(f"{instance_id} is not described")


def _alive(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running (a zombie has ended)."""
    return [pid for pid in pids if (now := identity_of(pid)) is not None and is_running(now)]


async def test_provision_during_a_destroy_gets_a_new_live_instance(backend: Plugin) -> None:
    first = str(await backend.provision(SPEC))
    old: list[int] = []
    if isinstance(backend, ProcessPlugin):
        await ignoring_sigterm(backend, first)
        old = await _processes(backend, first)
    await backend.destroy(first, ROLLING_UPDATE)  # answers once committed
    assert first not in {d.id for d in await backend.describe_instances({})}
    if isinstance(backend, ProcessPlugin):
        assert _alive(old), "the SIGTERM-ignoring processes were not stopping in the background"
    again, concurrent = map(
        str, await asyncio.gather(backend.provision(SPEC), backend.provision(SPEC))
    )
    assert not _alive(old), "Provision did not wait for the Destroy of its LogicalID to finish"
    assert again != first, "Provision handed out the instance being destroyed"
    assert concurrent == again, "two Provisions of one LogicalID gave two instances"
    described = await backend.describe_instances({}, properties=True)
    assert [d.id for d in described] == [again]
    if isinstance(backend, ProcessPlugin):
        assert await _state(backend, again) == "running"
    await backend.destroy(again, TERMINATION)
    if isinstance(backend, ProcessPlugin):
        await backend.destroys_finished()


async def test_destroy_answers_once_committed_and_a_second_joins(tmp_path: Path) -> None:
    """InfraKit's 0.6.0-era client gives up after 1 s: Destroy answers before the grace period,
    with the Destroy on disk; the instance is no longer described, labelled or counted."""
    plugin = ProcessPlugin(dir=tmp_path)
    try:
        instance_id = await plugin.provision(SPEC)
        await ignoring_sigterm(plugin, instance_id)
        pids = await _processes(plugin, instance_id)
        started = time.monotonic()
        await plugin.destroy(instance_id, TERMINATION)
        assert time.monotonic() - started < 1.0
        on_disk = msgspec.json.decode((tmp_path / f"{instance_id}.json").read_bytes())
        assert on_disk["DestroyReason"] == "terminate", "the Destroy is not committed on disk"
        assert await plugin.describe_instances({}) == []
        assert await plugin.describe_instances({}, properties=True) == []
        assert await plugin.describe_instances({"a": "b"}) == []
        assert plugin.instance_count() == 0
        with pytest.raises(InstanceNotFound):
            await plugin.label(instance_id, {"still": "here"})
        started = time.monotonic()
        await plugin.destroy(instance_id, ROLLING_UPDATE)  # joins the one under way
        assert time.monotonic() - started < 0.5
        assert _alive(pids), "the grace period was cut short"
        await plugin.destroys_finished()
        assert not _alive(pids)
        assert not (tmp_path / f"{instance_id}.json").exists()
        with pytest.raises(InstanceNotFound):
            await plugin.destroy(instance_id, TERMINATION)
    finally:
        plugin.close()


async def test_a_restart_resumes_a_committed_destroy(tmp_path: Path) -> None:
    """The daemon stops (its background work cancelled) during a graceful stop; the next one
    on the directory finishes the Destroy at start, without being asked again."""
    first = ProcessPlugin(dir=tmp_path)
    try:
        instance_id = await first.provision(SPEC)
        await ignoring_sigterm(first, instance_id)
        pids = await _processes(first, instance_id)
        await first.destroy(instance_id, TERMINATION)
    finally:
        await first.aclose()
        first.close()
    assert _alive(pids), "stopping the daemon finished the Destroy"
    assert (tmp_path / f"{instance_id}.json").exists()
    later = ProcessPlugin(dir=tmp_path)
    try:
        assert await later.describe_instances({}) == []
        await later.astart()
        await later.destroys_finished()
        assert not _alive(pids), "the committed Destroy was not resumed"
        assert not (tmp_path / f"{instance_id}.json").exists()
        with pytest.raises(InstanceNotFound):
            await later.destroy(instance_id, TERMINATION)
    finally:
        later.close()


async def test_provision_finishes_a_destroy_interrupted_by_a_daemon_stop(tmp_path: Path) -> None:
    """A record left destroying (the daemon stopped mid-Destroy) still runs its process: a
    Provision of its LogicalID waits for its end and creates a new instance."""
    left = _sleeper()
    try:
        identity = identity_of(left.pid)
        assert identity is not None
        record = ProcessRecord(
            ID="proc-interrupted",
            LogicalID="mgr1",
            Pid=left.pid,
            StartTicks=identity.start_ticks,
            BootID=identity.boot_id,
            StopGraceSeconds=1,
            DestroyReason="rolling_update",
        )
        _write(tmp_path, record)
        plugin = ProcessPlugin(dir=tmp_path)
        try:
            assert await _state(plugin, "proc-interrupted") is None  # not described
            new = await plugin.provision(SPEC)
            assert new != "proc-interrupted"
            assert [d.id for d in await plugin.describe_instances({})] == [new]
            assert left.poll() is not None, "the interrupted Destroy was not finished"
            await plugin.destroy(new, TERMINATION)
            await plugin.destroys_finished()
        finally:
            plugin.close()
    finally:
        if left.poll() is None:
            left.kill()
            left.wait()


async def test_a_daemon_killed_during_a_destroy_finishes_it_when_restarted() -> None:
    """A real daemon: Destroy answers within the 0.6.0-era client's 1 s although the instance
    ignores SIGTERM for 5 s; ``kill -9`` of the daemon; the restarted daemon ends it."""
    grace = Spec(init=IGNORES_SIGTERM, properties={"stop_grace_seconds": 5})
    with short_tmp_dir() as tmp:
        sock, state = tmp / "p.sock", tmp / "state"
        args = ("--socket", str(sock), "--plugin", "process", "--dir", str(state))
        pids: list[int] = []
        try:
            with running_daemon(*args) as daemon:
                async with PluginClient(sock, timeout=1.0) as client:
                    instance_id = str(await client.provision(grace))

                    async def ignoring() -> bool:
                        nonlocal pids
                        view = (await client.describe_instances({}, properties=True))[0]
                        pids = list(load_properties(view.properties)["processes"])
                        return len(pids) >= 2

                    await eventually(ignoring, what="the instance ignoring SIGTERM")
                    await client.destroy(instance_id, TERMINATION)
                    assert await client.describe_instances({}) == []
                daemon.kill()
            assert _alive(pids), "the grace period was cut short"
            with running_daemon(*args):
                async with PluginClient(sock) as client:
                    assert await client.describe_instances({}) == []
                    # the grace period starts again: SIGKILL after 5 s
                    await destroy_finished(state, instance_id, timeout=60)
            assert not _alive(pids)
        finally:
            for pid in _alive(pids):
                os.kill(pid, signal.SIGKILL)


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "600"], start_new_session=True)


def _write(directory: Path, record: Any) -> None:
    store = DocumentStore(directory)
    try:
        store.write(record.ID, msgspec.json.encode(record))
    finally:
        store.close()
