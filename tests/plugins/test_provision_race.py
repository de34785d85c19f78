"""Every shipped backend: a Provision racing a Destroy of the instance with its LogicalID never
gets the dying instance's ID, and one LogicalID still gives one live instance."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from instance_rpc import ROLLING_UPDATE, TERMINATION, Spec
from instance_rpc.spi import Plugin
from instance_rpc.types import load_properties
from instance_rpc_plugins.process import ProcessPlugin, ProcessRecord
from instance_rpc_plugins.process._procfs import identity_of
from instance_rpc_plugins.store.documents import DocumentStore
from tests.daemon import eventually
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


async def test_provision_during_a_destroy_gets_a_new_live_instance(backend: Plugin) -> None:
    first = str(await backend.provision(SPEC))
    if isinstance(backend, ProcessPlugin):
        await ignoring_sigterm(backend, first)
    destroying = asyncio.create_task(backend.destroy(first, ROLLING_UPDATE))

    async def destroy_under_way() -> bool:
        # a backend whose Destroy takes time shows it; the others are done at once
        return destroying.done() or await _state(backend, first) == "destroying"

    await eventually(destroy_under_way, what=f"the Destroy of {first} under way")
    if isinstance(backend, ProcessPlugin):
        assert not destroying.done(), "the SIGTERM-ignoring process did not delay Destroy"
    again, concurrent = map(
        str, await asyncio.gather(backend.provision(SPEC), backend.provision(SPEC))
    )
    await destroying
    assert again != first, "Provision handed out the instance being destroyed"
    assert concurrent == again, "two Provisions of one LogicalID gave two instances"
    described = await backend.describe_instances({}, properties=True)
    assert [d.id for d in described] == [again]
    if isinstance(backend, ProcessPlugin):
        assert await _state(backend, again) == "running"
    await backend.destroy(again, TERMINATION)


async def test_a_second_destroy_joins_the_first(tmp_path: Path) -> None:
    plugin = ProcessPlugin(dir=tmp_path)
    try:
        instance_id = await plugin.provision(SPEC)
        await ignoring_sigterm(plugin, instance_id)
        first = asyncio.create_task(plugin.destroy(instance_id, TERMINATION))

        async def destroying() -> bool:
            return await _state(plugin, instance_id) == "destroying"

        await eventually(destroying, what=f"{instance_id} destroying")
        await plugin.label(instance_id, {"still": "here"})  # allowed until it is gone
        await plugin.destroy(instance_id, TERMINATION)
        assert first.done(), "the second Destroy returned before the instance was gone"
        await first
        assert await plugin.describe_instances({}) == []
    finally:
        plugin.close()


async def test_provision_finishes_a_destroy_interrupted_by_a_daemon_stop(tmp_path: Path) -> None:
    """A record left destroying (the daemon stopped mid-Destroy) still runs its process: a
    Provision of its LogicalID ends it and creates a new instance."""
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
            assert await _state(plugin, "proc-interrupted") == "destroying"
            new = await plugin.provision(SPEC)
            assert new != "proc-interrupted"
            assert [d.id for d in await plugin.describe_instances({})] == [new]
            assert left.poll() is not None, "the interrupted Destroy was not finished"
            await plugin.destroy(new, TERMINATION)
        finally:
            plugin.close()
    finally:
        if left.poll() is None:
            left.kill()
            left.wait()


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "600"], start_new_session=True)


def _write(directory: Path, record: Any) -> None:
    store = DocumentStore(directory)
    try:
        store.write(record.ID, msgspec.json.encode(record))
    finally:
        store.close()
