"""The process backend: what it runs and reports, how it stops, and who it re-adopts."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from instance_rpc import ROLLING_UPDATE, TERMINATION, PluginClient, PluginError, Spec
from instance_rpc.types import Context, Description, load_properties
from instance_rpc_plugins.process import ProcessPlugin, ProcessRecord
from instance_rpc_plugins.process._procfs import ProcessIdentity, identity_of
from instance_rpc_plugins.store.documents import DocumentStore
from tests.daemon import eventually, running_daemon, short_tmp_dir
from tests.plugins.sigterm import ignoring_sigterm


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def plugin(state: Path) -> Iterator[ProcessPlugin]:
    backend = ProcessPlugin(dir=state)
    try:
        yield backend
    finally:
        backend.close()


def _alive(pid: int) -> bool:
    """True while ``pid`` is a process that has not ended (zombies have ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def _reaped(pid: int) -> bool:
    """True once ``pid`` is gone altogether: ended, and not a zombie waiting for its parent."""
    return not Path(f"/proc/{pid}").exists()


async def _view(plugin: Any, instance_id: str) -> dict[str, Any]:
    described: list[Description] = await plugin.describe_instances({}, properties=True)
    [found] = [d for d in described if d.id == instance_id]
    view: dict[str, Any] = load_properties(found.properties)
    return view


async def _wait_state(plugin: Any, instance_id: str, state: str) -> dict[str, Any]:
    async def reached() -> bool:
        return bool((await _view(plugin, instance_id))["state"] == state)

    await eventually(reached, what=f"{instance_id} {state}")
    return await _view(plugin, instance_id)


async def test_runs_init_with_env_and_cwd_and_reports_the_exit(
    plugin: ProcessPlugin, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    properties = {"env": {"GREETING": "héllo wörld"}, "cwd": str(work)}
    init = '#!/bin/sh\nprintf "%s|%s" "$GREETING" "$(pwd)" > out.txt\nexit 7\n'
    instance_id = await plugin.provision(Spec(init=init, properties=properties))
    view = await _wait_state(plugin, instance_id, "exited")
    assert view["exit_code"] == 7
    assert view["ended_at"] is not None
    assert view["started_at"].endswith("Z")
    assert view["properties"] == properties
    assert (work / "out.txt").read_text() == f"héllo wörld|{work}"
    assert _reaped(view["pid"]), "the ended child was not reaped"


async def test_concurrent_provisions_each_record_their_exit(plugin: ProcessPlugin) -> None:
    """Concurrent Provisions are written as one batch, after their processes started: a process
    that ends before its record is on disk still has its exit recorded."""
    ids = await asyncio.gather(*(plugin.provision(Spec(init="exit 3")) for _ in range(20)))

    async def all_recorded() -> bool:
        views = [await _view(plugin, instance_id) for instance_id in ids]
        return all(view["exit_code"] == 3 for view in views)

    await eventually(all_recorded, what="every exit recorded")
    for instance_id in ids:
        assert (await _view(plugin, instance_id))["state"] == "exited"


async def test_describe_reports_a_running_process(plugin: ProcessPlugin) -> None:
    instance_id = await plugin.provision(Spec(init="exec sleep 30", tags={"role": "sleeper"}))
    view = await _view(plugin, instance_id)
    assert view["state"] == "running"
    assert view["exit_code"] is None
    assert _alive(view["pid"])
    assert os.getpgid(view["pid"]) == view["pid"], "not in a process group of its own"
    [plain] = await plugin.describe_instances({"role": "sleeper"})
    assert plain.properties is None
    await plugin.destroy(instance_id, TERMINATION)
    await plugin.destroys_finished()
    assert not _alive(view["pid"])


async def test_destroy_sends_sigkill_after_the_grace_period(
    plugin: ProcessPlugin, caplog: pytest.LogCaptureFixture
) -> None:
    stubborn = "trap '' TERM\nsleep 30 &\nwait\nwait\n"
    instance_id = await plugin.provision(
        Spec(init=stubborn, properties={"stop_grace_seconds": 0.3})
    )
    pid = (await _view(plugin, instance_id))["pid"]
    await ignoring_sigterm(plugin, instance_id)
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="instance_rpc_plugins.process"):
        await plugin.destroy(instance_id, ROLLING_UPDATE)
        answered = time.monotonic() - started
        assert _alive(pid), "Destroy answered only after the processes were gone"
        await plugin.destroys_finished()
    took = time.monotonic() - started
    assert answered < 0.3 <= took < 5, (answered, took)
    assert not _alive(pid)
    assert f"destroying {instance_id!r}" in caplog.text
    assert "reason: 'rolling_update'" in caplog.text
    assert f"destroyed {instance_id}" in caplog.text
    assert await plugin.describe_instances({}) == []
    assert not (plugin.directory / f"{instance_id}.log").exists()


async def test_a_callers_instance_id_or_reason_cannot_forge_a_log_line(
    plugin: ProcessPlugin, caplog: pytest.LogCaptureFixture
) -> None:
    """The backend logs what a caller wrote quoted (%r): a newline stays an escape."""
    forged = "x\n2026-12-06 04:00:00 INFO instance_rpc.access: all is well"
    instance_id = await plugin.provision(Spec(init="exec sleep 30"))
    with caplog.at_level(logging.DEBUG):
        await plugin.destroy(instance_id, Context(reason=forged))
        with pytest.raises(PluginError):
            await plugin.destroy(f"proc-0{forged}", Context(reason=forged))
    messages = [record.getMessage() for record in caplog.records]
    assert sum(repr(forged) in message for message in messages) == 2, messages
    assert not [message for message in messages if "\n" in message]


async def test_destroy_does_not_wait_for_a_process_that_obeys_sigterm(
    plugin: ProcessPlugin,
) -> None:
    instance_id = await plugin.provision(
        Spec(init="sleep 30 & wait", properties={"stop_grace_seconds": 20})
    )
    pid = (await _view(plugin, instance_id))["pid"]
    started = time.monotonic()
    await plugin.destroy(instance_id, TERMINATION)
    await plugin.destroys_finished()
    assert time.monotonic() - started < 5
    assert not _alive(pid)


async def test_output_goes_to_the_instance_log(plugin: ProcessPlugin) -> None:
    instance_id = await plugin.provision(Spec(init="echo out; echo err >&2"))
    await _wait_state(plugin, instance_id, "exited")
    assert (plugin.directory / f"{instance_id}.log").read_text() == "out\nerr\n"


async def test_provision_is_idempotent_by_logical_id(plugin: ProcessPlugin) -> None:
    first = await plugin.provision(Spec(init="exec sleep 30", logical_id="worker-0"))
    again = await plugin.provision(Spec(init="exec sleep 30", logical_id="worker-0"))
    assert again == first
    assert len(await plugin.describe_instances({})) == 1
    await plugin.destroy(first, TERMINATION)


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ([], "Expected `object`, got `array`"),
        ({"env": []}, "Expected `object`, got `array` - at `\\$.env`"),
        ({"env": {"PORT": 8080}}, "Expected `str`, got `int` - at `\\$.env\\[...\\]`"),
        ({"env": {"A=B": "x"}}, "env: 'A=B' is not a variable name"),
        ({"env": {"": "x"}}, "env: '' is not a variable name"),
        ({"cwd": 3}, "Expected `str`, got `int` - at `\\$.cwd`"),
        ({"cwd": None}, "Expected `str`, got `null` - at `\\$.cwd`"),
        ({"cwd": "relative/dir"}, "cwd must be an absolute path"),
        ({"cwd": "/no/such/directory"}, "cwd '/no/such/directory' is not a directory"),
        ({"stop_grace_seconds": -1}, "Expected `float` >= 0.0 - at `\\$.stop_grace_seconds`"),
        ({"stop_grace_seconds": 1e9}, "Expected `float` <= 3600.0 - at `\\$.stop_grace_seconds`"),
        ({"stop_grace_seconds": "5"}, "Expected `float`, got `str` - at `\\$.stop_grace_seconds`"),
        ({"stop_grace_seconds": True}, "Expected `float`, got `bool`"),
        ({"grace": 1}, "Object contains unknown field `grace`"),
    ],
)
async def test_bad_properties_name_the_field_and_start_nothing(
    plugin: ProcessPlugin, properties: Any, message: str
) -> None:
    with pytest.raises(PluginError, match=f"invalid Properties: {message}"):
        await plugin.validate(properties)
    with pytest.raises(PluginError, match=message):
        await plugin.provision(Spec(init="touch should-not-exist", properties=properties))
    assert await plugin.describe_instances({}) == []
    assert [p.name for p in plugin.directory.iterdir()] == [".lock"]


async def test_absent_properties_are_the_defaults(plugin: ProcessPlugin) -> None:
    await plugin.validate(None)
    await plugin.validate({})


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "30"], start_new_session=True)


def _record_processes(state: Path, *records: tuple[str, ProcessIdentity]) -> None:
    """Write inventory records, as a previous daemon would have, for ``(ID, identity)`` pairs."""
    store = DocumentStore(state)
    try:
        for instance_id, (pid, start_ticks, boot) in records:
            record = ProcessRecord(
                ID=instance_id, Pid=pid, StartTicks=start_ticks, BootID=boot, StopGraceSeconds=1
            )
            store.write(instance_id, msgspec.json.encode(record))
    finally:
        store.close()


async def test_a_recycled_pid_is_never_taken_for_the_instance(state: Path) -> None:
    """A record whose pid now belongs to another process (other start time): reported exited,
    and Destroy does not signal that process."""
    stranger = _sleeper()
    try:
        identity = identity_of(stranger.pid)
        assert identity is not None
        _record_processes(
            state,
            ("proc-old", identity._replace(start_ticks=identity.start_ticks - 1)),
            ("proc-reboot", identity._replace(boot_id="another-boot")),
        )

        plugin = ProcessPlugin(dir=state)
        try:
            for instance_id in ("proc-old", "proc-reboot"):
                view = await _view(plugin, instance_id)
                assert view["state"] == "exited"
                await plugin.destroy(instance_id, TERMINATION)
                await plugin.destroys_finished()
        finally:
            plugin.close()
        assert stranger.poll() is None, "a stranger holding the recorded pid was signalled"
    finally:
        stranger.kill()
        stranger.wait()


async def test_a_recorded_process_that_still_runs_is_adopted(state: Path) -> None:
    orphan = _sleeper()
    try:
        identity = identity_of(orphan.pid)
        assert identity is not None
        _record_processes(state, ("proc-orphan", identity))

        plugin = ProcessPlugin(dir=state)
        try:
            assert (await _view(plugin, "proc-orphan"))["state"] == "running"
            await plugin.destroy("proc-orphan", TERMINATION)
            await plugin.destroys_finished()
        finally:
            plugin.close()
        # stopped, and reaped by the plugin: in this test it is the plugin's process's child
        assert _reaped(orphan.pid)
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()


async def test_a_restarted_daemon_readopts_running_processes() -> None:
    """Through real daemons: SIGKILL the first, end one of its processes meanwhile; the second
    reports the survivor running (same pid), the other exited, and stops the survivor."""
    with short_tmp_dir() as tmp:
        sock, state = tmp / "p.sock", tmp / "state"
        args = ("--socket", str(sock), "--plugin", "process", "--dir", str(state))
        with running_daemon(*args) as daemon:
            async with PluginClient(sock) as client:
                survivor = str(await client.provision(Spec(init="exec sleep 60")))
                victim = str(await client.provision(Spec(init="exec sleep 60")))
                survivor_pid = (await _view(client, survivor))["pid"]
                victim_pid = (await _view(client, victim))["pid"]
            daemon.kill()
        assert _alive(survivor_pid), "killing the daemon took its processes along"
        os.killpg(victim_pid, signal.SIGKILL)

        async def victim_gone() -> bool:
            return not _alive(victim_pid)

        await eventually(victim_gone, what="the victim ending")

        with running_daemon(*args):
            async with PluginClient(sock) as client:
                survivor_view = await _view(client, survivor)
                victim_view = await _view(client, victim)
                assert survivor_view["state"] == "running"
                assert survivor_view["pid"] == survivor_pid
                assert victim_view["state"] == "exited"
                await client.destroy(survivor, TERMINATION)
                await client.destroy(victim, TERMINATION)
                assert await client.describe_instances({}) == []

                async def survivor_gone() -> bool:  # Destroy answered; the stop goes on
                    return not _alive(survivor_pid)

                await eventually(survivor_gone, what="the survivor stopped")


async def test_a_process_that_cannot_start_leaves_nothing_behind(
    plugin: ProcessPlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied", "/bin/sh")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    with pytest.raises(PluginError, match=r"cannot start /bin/sh for proc-.*Permission denied"):
        await plugin.provision(Spec(init="true"))
    assert await plugin.describe_instances({}) == []
    assert [p.name for p in plugin.directory.iterdir()] == [".lock"]


@pytest.mark.parametrize("planted", ["symlink", "hardlink"])
async def test_an_entry_planted_at_an_instance_log_is_never_written_through(
    plugin: ProcessPlugin,
    state: Path,
    tmp_path: Path,
    planted: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    known = f"proc-planted-{os.getpid()}"  # cgroups are named after IDs, machine-wide
    log = state / f"{known}.log"
    # IDs are random; this one is known beforehand, as an ID chosen by someone else would be.
    monkeypatch.setattr(plugin._inventory, "_new_id", lambda prefix: known)
    if planted == "symlink":
        log.symlink_to(victim)
    else:
        os.link(victim, log)
    instance_id = await plugin.provision(Spec(init="echo out"))
    assert instance_id == known
    await _wait_state(plugin, instance_id, "exited")
    assert victim.read_text() == "keep me"
    assert log.read_text() == "out\n"
