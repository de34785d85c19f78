"""Ceilings per instance of the process backend (``--process-max-pids``,
``--process-max-memory``): kept by the instance's cgroup v2 where the controller exists, refused
at start-up where it does not.

Each test makes a cgroup of its own (see ``_test_cgroup``) and points the backend at it. Where
that cgroup is not given the controller (the machine offers it not at all, or its parent does
not pass it on) the tests that need it skip, naming what is missing; the refusal is tested
everywhere.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from instance_rpc import TERMINATION, Spec
from instance_rpc.errors import PluginError
from instance_rpc.types import load_properties
from instance_rpc_plugins import _cgroup
from instance_rpc_plugins.process import ProcessPlugin
from tests.daemon import eventually, run_cli, short_tmp_dir


@contextlib.contextmanager
def _test_cgroup() -> Iterator[Path]:
    """A new, empty cgroup v2 of this test's own; removed after (its processes killed).

    Made under the hierarchy's root where this test may (root: systemd gives the root's children
    every controller), else under this process's own cgroup."""
    parent = _cgroup.usable_parent(_cgroup.mount_point()) or _cgroup.usable_parent()
    if parent is None:
        pytest.skip("no cgroup v2 this test may create cgroups in (/proc/self/cgroup)")
    path = parent / f"irpc-test-{secrets.token_hex(4)}"
    path.mkdir()
    try:
        yield path
    finally:
        for _ in range(100):
            _cgroup.kill(path)
            for child in path.glob("instance-rpc.*"):
                _cgroup.kill(child)
                with contextlib.suppress(OSError):
                    child.rmdir()
            with contextlib.suppress(OSError):
                path.rmdir()
            if not path.exists():
                break
            time.sleep(0.05)  # killed processes take a moment to leave the cgroup


def _given(cgroup: Path, controller: str) -> None:
    """Skip unless ``cgroup``'s children can be given ``controller``."""
    if controller not in _cgroup.controllers(cgroup):
        parent = cgroup.parent
        raise pytest.skip.Exception(
            f"the cgroup v2 {controller!r} controller is not available here: {parent} offers "
            f"{sorted(_cgroup.controllers(parent))} and gives its children "
            f"{sorted(_cgroup.controllers(parent, 'cgroup.subtree_control'))}"
        )


async def _view(plugin: ProcessPlugin, instance_id: str) -> dict[str, object]:
    [found] = await plugin.describe_instances({}, properties=True)
    assert found.id == instance_id
    view: dict[str, object] = load_properties(found.properties)
    return view


def _counters(cgroup: Path, name: str) -> dict[str, int]:
    lines = (cgroup / name).read_text().splitlines()
    return {key: int(value) for key, value in (line.split() for line in lines)}


@pytest.mark.parametrize(
    ("option", "controller"),
    [("--process-max-pids", "pids"), ("--process-max-memory", "memory")],
)
def test_a_ceiling_is_refused_at_start_up_where_its_controller_is_not_enabled(
    option: str, controller: str
) -> None:
    """The parent cgroup holds a process: cgroup v2 then cannot give its children a controller
    (and where the machine does not offer it at all, it is not there to give)."""
    with _test_cgroup() as parent, short_tmp_dir() as tmp:
        holder = subprocess.Popen(["sleep", "60"])
        try:
            _cgroup.move(parent, holder.pid)
            args = ("--socket", str(tmp / "p.sock"), "--plugin", "process", "--dir", str(tmp))
            done = run_cli(
                "serve", *args, option, "65536", "--process-cgroup-parent", str(parent), timeout=30
            )
        finally:
            holder.kill()
            holder.wait()
        assert done.returncode == 1, done
        [line] = done.stderr.splitlines()
        assert line.startswith(f"instance-rpc: {option}"), line
        assert f"{controller!r} controller" in line, line
        assert str(parent) in line, line
        assert not (tmp / "p.sock").exists()


def test_a_ceiling_is_refused_without_cgroups() -> None:
    with pytest.raises(PluginError, match=r"--process-max-pids needs a cgroup v2 per instance"):
        ProcessPlugin(dir="/nonexistent-irpc", cgroups=False, process_max_pids=10)


async def test_a_fork_bomb_stops_at_max_pids(tmp_path: Path) -> None:
    with _test_cgroup() as parent:
        _given(parent, "pids")
        plugin = ProcessPlugin(dir=tmp_path, process_cgroup_parent=parent, process_max_pids=8)
        try:
            bomb = "i=0\nwhile [ $i -lt 100 ]; do sleep 60 & i=$((i+1)); done\nwait"
            instance_id = await plugin.provision(Spec(init=bomb))
            cgroup = Path(str((await _view(plugin, instance_id))["cgroup"]))
            assert (cgroup / "pids.max").read_text().strip() == "8"

            async def refused() -> bool:
                return _counters(cgroup, "pids.events")["max"] > 0

            await eventually(refused, what="a fork refused at pids.max")
            assert len(_cgroup.procs(cgroup)) <= 8
            processes = (await _view(plugin, instance_id))["processes"]
            assert isinstance(processes, list)
            assert 0 < len(processes) <= 8
            await plugin.destroy(instance_id, TERMINATION)
        finally:
            plugin.close()


async def test_an_allocation_beyond_max_memory_is_killed(tmp_path: Path) -> None:
    with _test_cgroup() as parent:
        _given(parent, "memory")
        limit = 64 << 20
        plugin = ProcessPlugin(dir=tmp_path, process_cgroup_parent=parent, process_max_memory=limit)
        try:
            grab = f"exec {sys.executable} -c 'b = b\"x\" * (256 << 20); print(len(b))'"
            instance_id = await plugin.provision(Spec(init=grab))
            cgroup = Path(str((await _view(plugin, instance_id))["cgroup"]))
            assert (cgroup / "memory.max").read_text().strip() == str(limit)

            async def ended() -> bool:
                return (await _view(plugin, instance_id))["state"] == "exited"

            await eventually(ended, timeout=30, what="the allocation ending")
            assert (await _view(plugin, instance_id))["exit_code"] == -9
            assert _counters(cgroup, "memory.events")["oom_kill"] >= 1
            await plugin.destroy(instance_id, TERMINATION)
        finally:
            plugin.close()
