"""Ceilings per instance of the process backend (``--process-max-pids``,
``--process-max-memory``): kept by the instance's cgroup v2 where the controller is there, by a
cgroup v1 of the instance's own where only a v1 hierarchy offers it (a hybrid host), refused at
start-up where neither does.

Each test makes a cgroup v2 of its own (see ``_test_cgroup``) and points the backend at it; the
cgroups v1 an instance gets are its own (``instance-rpc.<ID>`` under this process's cgroup of
the hierarchy), found through its description. The positive tests skip only where neither
version offers the controller, naming what is missing; the refusal runs everywhere root can hide
the v1 hierarchy in a mount namespace of its own (``unshare``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from instance_rpc import TERMINATION, Spec
from instance_rpc.errors import PluginError
from instance_rpc.types import load_properties
from instance_rpc_plugins.process import ProcessPlugin, _cgroup, _cgroup_v1
from tests.daemon import CLI, eventually, short_tmp_dir
from tests.tools import as_nobody


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
    """Skip unless the children of the cgroup v2 ``cgroup`` can be given ``controller``, or a
    cgroup v1 hierarchy of it is there for this process to create cgroups in."""
    if controller in _cgroup.controllers(cgroup):
        return
    try:
        _cgroup_v1.parent(controller)
    except _cgroup_v1.NotUsable as exc:
        parent = cgroup.parent
        raise pytest.skip.Exception(
            f"the {controller!r} controller is not available here: {parent} offers "
            f"{sorted(_cgroup.controllers(parent))} and gives its children "
            f"{sorted(_cgroup.controllers(parent, 'cgroup.subtree_control'))}; and {exc}"
        ) from None


async def _view(plugin: ProcessPlugin, instance_id: str) -> dict[str, object]:
    described = await plugin.describe_instances({}, properties=True)
    [found] = [description for description in described if description.id == instance_id]
    view: dict[str, object] = load_properties(found.properties)
    return view


def _cgroups_v1(view: dict[str, object]) -> list[Path]:
    cgroups_v1 = view["cgroups_v1"]
    assert isinstance(cgroups_v1, list)
    return [Path(path) for path in cgroups_v1]


def _holder(view: dict[str, object], instance_id: str, controller: str) -> tuple[Path, int]:
    """The instance's cgroup that keeps ``controller``'s ceiling, and its cgroup version. A v1
    one is the instance's own, under this process's cgroup of that hierarchy."""
    for path in _cgroups_v1(view):
        if (path / _cgroup_v1.SETTINGS[controller]).exists():
            assert path == _cgroup_v1.parent(controller) / f"instance-rpc.{instance_id}"
            return path, 1
    return Path(str(view["cgroup"])), 2


def _counters(cgroup: Path, name: str) -> dict[str, int]:
    lines = (cgroup / name).read_text().splitlines()
    return {key: int(value) for key, value in (line.split() for line in lines)}


@contextlib.asynccontextmanager
async def _plugin(
    controller: str, directory: Path, max_pids: int | None = None, max_memory: int | None = None
) -> AsyncIterator[tuple[ProcessPlugin, Path, list[Path]]]:
    """A backend with the ceilings given whose cgroup v2 parent is a :func:`_test_cgroup`, skipping
    where ``controller`` is not available; yields it, that parent and a list where the test
    puts its instances' cgroups v1, all removed after (closed more than once: harmless)."""
    made_v1: list[Path] = []
    try:
        with _test_cgroup() as parent:
            _given(parent, controller)
            plugin = ProcessPlugin(
                dir=directory,
                process_cgroup_parent=parent,
                process_max_pids=max_pids,
                process_max_memory=max_memory,
            )
            try:
                yield plugin, parent, made_v1
            finally:
                plugin.close()
    finally:
        for path in made_v1:  # none is left behind, even when the test failed
            _cgroup_v1.remove(path, 5.0)
            assert not path.exists(), f"{path} was left behind"


def _without_v1(controller: str) -> list[str]:
    """A command prefix that runs what follows in a mount namespace of its own where no
    cgroup v1 hierarchy of ``controller`` is mounted (none where none is)."""
    mounts = [str(point) for _, point in _cgroup_v1.mounts(controller)]
    if not mounts:
        return []
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip(f"hiding the cgroup v1 {controller!r} hierarchy needs root and unshare")
    umount = 'while [ "$1" != -- ]; do umount "$1" || exit 126; shift; done; shift; exec "$@"'
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        umount,
        "sh",
        *mounts,
        "--",
    ]


def _refused_serve(prefix: list[str], tmp: Path, parent: Path, option: str, value: str) -> str:
    """Run ``prefix instance-rpc serve`` with the process backend in ``tmp``, ``option value``
    and ``parent`` as its cgroup parent; check it stops at start-up in one line, and return it."""
    served = ("--socket", str(tmp / "p.sock"), "--plugin", "process", "--dir", str(tmp))
    given = (option, value, "--process-cgroup-parent", str(parent))
    done = subprocess.run(
        [*prefix, *CLI, "serve", *served, *given],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1, done
    [line] = done.stderr.splitlines()
    assert not (tmp / "p.sock").exists()
    return line


@pytest.mark.parametrize(
    ("option", "controller"),
    [("--process-max-pids", "pids"), ("--process-max-memory", "memory")],
)
def test_a_ceiling_is_refused_at_start_up_where_neither_cgroup_version_offers_it(
    option: str, controller: str
) -> None:
    """The parent cgroup v2 holds a process: cgroup v2 then cannot give its children a
    controller (and where the machine does not offer it at all, it is not there to give); the
    daemon runs where no cgroup v1 hierarchy of the controller is mounted."""
    prefix = _without_v1(controller)
    with _test_cgroup() as parent, short_tmp_dir() as tmp:
        holder = subprocess.Popen(["sleep", "60"])
        try:
            _cgroup.move(parent, holder.pid)
            line = _refused_serve(prefix, tmp, parent, option, "65536")
        finally:
            holder.kill()
            holder.wait()
        assert line.startswith(f"instance-rpc: {option}"), line
        assert f"{controller!r} controller" in line, line
        assert str(parent) in line, line
        if controller not in _cgroup.controllers(parent):
            hidden = f"nor a cgroup v1 one: no cgroup v1 {controller!r} hierarchy is mounted"
            assert line.endswith(hidden), line


def test_a_ceiling_is_refused_without_cgroups() -> None:
    with pytest.raises(PluginError, match=r"--process-max-pids needs a cgroup v2 per instance"):
        ProcessPlugin(dir="/nonexistent-irpc", cgroups=False, process_max_pids=10)


async def test_a_fork_bomb_stops_at_max_pids(tmp_path: Path) -> None:
    async with _plugin("pids", tmp_path, max_pids=8) as (plugin, _, made_v1):
        bomb = "i=0\nwhile [ $i -lt 100 ]; do sleep 60 & i=$((i+1)); done\nwait"
        instance_id = await plugin.provision(Spec(init=bomb))
        view = await _view(plugin, instance_id)
        made_v1 += _cgroups_v1(view)
        cgroup, _ = _holder(view, instance_id, "pids")
        assert (cgroup / "pids.max").read_text().strip() == "8"

        async def refused() -> bool:
            return _counters(cgroup, "pids.events")["max"] > 0

        await eventually(refused, what="a fork refused at pids.max")
        assert len(_cgroup.procs(cgroup)) <= 8
        processes = (await _view(plugin, instance_id))["processes"]
        assert isinstance(processes, list)
        assert 0 < len(processes) <= 8
        await plugin.destroy(instance_id, TERMINATION)
        assert not cgroup.exists()  # removed once its processes were gone


async def test_an_allocation_beyond_max_memory_is_killed(tmp_path: Path) -> None:
    limit = 64 << 20
    async with _plugin("memory", tmp_path, max_memory=limit) as (plugin, _, made_v1):
        grab = f"exec {sys.executable} -c 'b = b\"x\" * (256 << 20); print(len(b))'"
        instance_id = await plugin.provision(Spec(init=grab))
        view = await _view(plugin, instance_id)
        made_v1 += _cgroups_v1(view)
        cgroup, version = _holder(view, instance_id, "memory")
        ceiling = "memory.max" if version == 2 else "memory.limit_in_bytes"
        assert (cgroup / ceiling).read_text().strip() == str(limit)
        swap = cgroup / "memory.memsw.limit_in_bytes"
        if version == 1 and swap.exists():
            assert swap.read_text().strip() == str(limit)

        async def ended() -> bool:
            return (await _view(plugin, instance_id))["state"] == "exited"

        await eventually(ended, timeout=30, what="the allocation ending")
        assert (await _view(plugin, instance_id))["exit_code"] == -9
        events = "memory.events" if version == 2 else "memory.oom_control"
        assert _counters(cgroup, events)["oom_kill"] >= 1
        await plugin.destroy(instance_id, TERMINATION)
        assert not cgroup.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="running the daemon as nobody needs root")
def test_a_ceiling_is_refused_where_its_v1_hierarchy_is_not_writable() -> None:
    """A daemon running as nobody: its cgroup v2 parent is its own, but the cgroup v1 pids
    hierarchy, the only one offering the controller, is root's."""
    with _test_cgroup() as parent, short_tmp_dir() as tmp:
        if "pids" in _cgroup.controllers(parent) or not _cgroup_v1.mounts("pids"):
            pytest.skip("the pids controller is not on a cgroup v1 hierarchy here")
        os.chown(parent, 65534, 65534)
        os.chown(tmp, 65534, 65534)
        nobody = as_nobody()
        line = _refused_serve(nobody, tmp, parent, "--process-max-pids", "8")
        assert line.startswith("instance-rpc: --process-max-pids needs the cgroup v2 'pids'"), line
        root_only = _cgroup_v1.parent("pids")  # the daemon's too: setpriv keeps the cgroups
        assert line.endswith(
            f"nor a cgroup v1 one: the daemon may not create cgroups in {root_only}"
        ), line


async def test_a_later_daemon_removes_the_v1_cgroups_of_what_it_destroys(tmp_path: Path) -> None:
    """The instance's cgroups are in its record: a daemon started after the one that made them
    (here with no ceiling at all) still removes them at Destroy; closing keeps those that still
    hold a process, and removes those that are empty."""
    async with _plugin("pids", tmp_path, max_pids=8) as (first, parent, made_v1):
        running = await first.provision(Spec(init="sleep 60"))
        ended = await first.provision(Spec(init="exit 3"))
        made_v1 += [path for i in (running, ended) for path in _cgroups_v1(await _view(first, i))]

        async def exited() -> bool:
            return (await _view(first, ended))["state"] == "exited"

        await eventually(exited, what="the second instance ending")
        first.close()
        if not made_v1:
            pytest.skip("the pids ceiling is kept on cgroup v2 here")
        kept, removed = made_v1
        assert kept.exists()
        assert not removed.exists()
        later = ProcessPlugin(dir=tmp_path, process_cgroup_parent=parent)
        try:
            await later.destroy(running, TERMINATION)
            assert not kept.exists()
        finally:
            later.close()
