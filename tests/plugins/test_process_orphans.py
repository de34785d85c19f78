"""The process backend: after Destroy no process the instance started is alive, whether or not
its Init shell still runs, and across a daemon restart; a stranger is never signalled."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from instance_rpc import TERMINATION, PluginClient, Spec
from instance_rpc.types import Description, load_properties
from instance_rpc_plugins.process import ProcessPlugin, ProcessRecord
from instance_rpc_plugins.process._cgroup import usable_parent
from instance_rpc_plugins.process._procfs import identity_of
from instance_rpc_plugins.store.documents import DocumentStore
from tests.daemon import eventually, running_daemon, short_tmp_dir

BOOT_SCRIPT = "sleep 600 & sleep 600 & exit 0"


def _session_members(session: int) -> list[int]:
    """Live (not zombie) processes in ``session``, read straight from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == session and fields[0] not in "ZX":
            found.append(int(entry.name))
    return sorted(found)


def _reaped(pids: list[int]) -> bool:
    """None of ``pids`` is in /proc any more, not even as a zombie."""
    return not any(Path(f"/proc/{pid}").exists() for pid in pids)


def _groups(pids: list[int]) -> set[int]:
    groups = set()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            groups.add(os.getpgid(pid))
    return groups


def _is_directory(path: str) -> bool:
    return Path(path).is_dir()


def _reap_our_zombies(pids: list[int]) -> None:
    """Processes re-parented to this test process (a subreaper) are ours to reap."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)


async def _view(plugin: Any, instance_id: str) -> dict[str, Any]:
    described: list[Description] = await plugin.describe_instances({}, properties=True)
    [found] = [d for d in described if d.id == instance_id]
    view: dict[str, Any] = load_properties(found.properties)
    return view


async def _background_left_behind(plugin: Any, instance_id: str) -> tuple[int, list[int]]:
    """Wait until the boot script exited, leaving its two sleeps; their session and pids."""

    async def init_exited() -> bool:
        view = await _view(plugin, instance_id)
        return bool(view["state"] == "exited" and len(view["processes"]) == 2)

    await eventually(init_exited, what=f"{instance_id}'s Init exiting")
    view = await _view(plugin, instance_id)
    session = view["pid"]
    sleeps = _session_members(session)
    assert sleeps == view["processes"], "Describe does not report the live processes"
    assert len(sleeps) == 2
    return session, sleeps


@pytest.fixture(params=[True, False], ids=["cgroup-if-usable", "no-cgroup"])
def cgroups(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


async def test_destroy_ends_what_the_boot_script_left_running(
    tmp_path: Path, cgroups: bool
) -> None:
    plugin = ProcessPlugin(dir=tmp_path / "state", cgroups=cgroups)
    sleeps: list[int] = []
    try:
        instance_id = await plugin.provision(Spec(init=BOOT_SCRIPT))
        session, sleeps = await _background_left_behind(plugin, instance_id)
        await plugin.destroy(instance_id, TERMINATION)
        await plugin.destroys_finished()
        assert _session_members(session) == [], "background processes outlived Destroy"
        assert _reaped(sleeps), "left as zombies"
    finally:
        _kill(sleeps)
        _reap_our_zombies(sleeps)
        plugin.close()


async def test_destroy_waits_for_a_large_process_to_finish_exiting(tmp_path: Path) -> None:
    """A process exiting releases its memory (and with it the environment that marks it) before
    it becomes a zombie; with 256 MiB to release, Destroy used to see no member left in that
    window, return, and leave the zombie unreaped."""
    ready = tmp_path / "ready"
    hold = (
        "import pathlib, time; b = b'x' * (1 << 28); "
        f"pathlib.Path('{ready}').touch(); time.sleep(600)"
    )
    plugin = ProcessPlugin(dir=tmp_path / "state", cgroups=False)
    pids: list[int] = []
    try:
        instance_id = await plugin.provision(Spec(init=f'{sys.executable} -c "{hold}" & exit 0'))

        async def holding_alone() -> bool:
            view = await _view(plugin, instance_id)
            return ready.exists() and view["state"] == "exited"

        await eventually(holding_alone, what="the large process alone in the instance")
        pids = (await _view(plugin, instance_id))["processes"]
        assert len(pids) == 1
        await plugin.destroy(instance_id, TERMINATION)
        await plugin.destroys_finished()
        assert _reaped(pids), "left as a zombie"
    finally:
        _kill(pids)
        _reap_our_zombies(pids)
        plugin.close()


async def test_destroy_ends_a_grandchild_in_another_process_group(tmp_path: Path) -> None:
    """A process group of its own (``setsid`` is not used) is still in the instance's session."""
    plugin = ProcessPlugin(dir=tmp_path / "state", cgroups=False)
    members: list[int] = []
    try:
        regroup = "import os, time; os.setpgid(0, 0); time.sleep(600)"
        init = f"{sys.executable} -c '{regroup}' & exec sleep 600"
        instance_id = await plugin.provision(Spec(init=init))

        session = (await _view(plugin, instance_id))["pid"]

        async def two_groups() -> bool:
            nonlocal members
            members = _session_members(session)
            return len(_groups(members)) == 2

        await eventually(two_groups, what="a second process group in the session")
        assert (await _view(plugin, instance_id))["processes"] == members
        await plugin.destroy(instance_id, TERMINATION)
        await plugin.destroys_finished()
        assert _session_members(session) == []
    finally:
        _kill(members)
        _reap_our_zombies(members)
        plugin.close()


@pytest.mark.parametrize("env", [{}, {"INSTANCE_RPC_PROCESS_CGROUPS": "0"}], ids=["auto", "off"])
async def test_destroy_after_a_daemon_restart_ends_the_orphans(env: dict[str, str]) -> None:
    """Through real daemons: the first provisions and is killed; the second destroys."""
    with short_tmp_dir() as tmp:
        sock, state = tmp / "p.sock", tmp / "state"
        args = ("--socket", str(sock), "--plugin", "process", "--dir", str(state))
        sleeps: list[int] = []
        try:
            with running_daemon(*args, env=env) as daemon:
                async with PluginClient(sock) as client:
                    instance_id = str(await client.provision(Spec(init=BOOT_SCRIPT)))
                    session, sleeps = await _background_left_behind(client, instance_id)
                daemon.kill()
            assert _session_members(session) == sleeps, "killing the daemon took them along"
            with running_daemon(*args, env=env):
                async with PluginClient(sock) as client:
                    assert (await _view(client, instance_id))["processes"] == sleeps
                    await client.destroy(instance_id, TERMINATION)

                    async def stopped() -> bool:  # Destroy answered; the stop goes on
                        return _session_members(session) == []

                    await eventually(stopped, what="the background processes stopped")
        finally:
            _kill(sleeps)
            _reap_our_zombies(sleeps)


def _stranger() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "30"], start_new_session=True)


async def test_a_session_whose_leader_is_gone_is_not_taken_for_the_instance(
    tmp_path: Path,
) -> None:
    """A record names session S, its leader is gone (other start time), and S now holds a
    stranger without the instance's marker: Destroy leaves the stranger alone."""
    stranger = _stranger()
    try:
        identity = identity_of(stranger.pid)
        assert identity is not None
        store = DocumentStore(tmp_path / "state")
        try:
            record = ProcessRecord(
                ID="proc-gone",
                Pid=stranger.pid,
                StartTicks=identity.start_ticks - 1,
                BootID=identity.boot_id,
                SessionID=stranger.pid,
                StopGraceSeconds=1,
            )
            store.write(record.ID, msgspec.json.encode(record))
        finally:
            store.close()
        plugin = ProcessPlugin(dir=tmp_path / "state")
        try:
            assert (await _view(plugin, "proc-gone"))["processes"] == []
            await plugin.destroy("proc-gone", TERMINATION)
            await plugin.destroys_finished()
        finally:
            plugin.close()
        assert stranger.poll() is None, "a stranger in the recorded session was signalled"
    finally:
        stranger.kill()
        stranger.wait()


async def test_cgroups_are_removed(tmp_path: Path) -> None:
    """The cgroups of this test's own instances: a destroyed one's at once, an ended one's
    when the backend closes (other cgroups on the machine are not this test's to count)."""
    if usable_parent() is None:
        pytest.skip("no cgroup v2 this process may create cgroups in")
    plugin = ProcessPlugin(dir=tmp_path / "state", cgroups=True)
    try:
        destroyed = await plugin.provision(Spec(init="exec sleep 600"))
        ended = await plugin.provision(Spec(init="true"))  # its cgroup goes at close
        cgroups = [(await _view(plugin, i))["cgroup"] for i in (destroyed, ended)]
        assert all(_is_directory(cgroup) for cgroup in cgroups)

        async def exited() -> bool:
            return bool((await _view(plugin, ended))["state"] == "exited")

        await eventually(exited, what=f"{ended} exiting")
        await plugin.destroy(destroyed, TERMINATION)
        await plugin.destroys_finished()
        assert not _is_directory(cgroups[0]), "the destroyed instance's cgroup is left"
    finally:
        plugin.close()
    assert not _is_directory(cgroups[1]), "the ended instance's cgroup is left at close"
