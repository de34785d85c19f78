"""The file backend: persistence, atomicity under SIGKILL, path safety, locking, exact bytes."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from instance_rpc import TERMINATION, InstanceRPCError, PluginClient, PluginError, Spec
from instance_rpc.testing import running_server
from instance_rpc_plugins.file import FilePlugin
from instance_rpc_plugins.store.documents import (
    MAX_ID_LENGTH,
    InvalidInstanceID,
    StateDirectoryLocked,
)
from tests.daemon import Daemon, run_cli, running_daemon

EXACT = msgspec.Raw(b'{"price":1.50,"big":123456789012345678901234567890,"s":"<>&\\u00e9"}')


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def plugin(state: Path) -> Iterator[FilePlugin]:
    backend = FilePlugin(dir=state)
    try:
        yield backend
    finally:
        backend.close()


def _documents(state: Path) -> list[str]:
    return sorted(entry.name for entry in state.iterdir() if entry.name != ".lock")


async def test_instances_survive_a_restart_with_exact_properties(state: Path) -> None:
    first = FilePlugin(dir=state)
    instance_id = await first.provision(
        Spec(properties=EXACT, tags={"group": "web"}, logical_id="web-1", init="echo ✓\n")
    )
    await first.label(instance_id, {"owner": "me"})
    first.close()

    second = FilePlugin(dir=state)
    try:
        [described] = await second.describe_instances({"group": "web"}, properties=True)
    finally:
        second.close()
    assert described.id == instance_id
    assert described.logical_id == "web-1"
    assert described.tags == {"group": "web", "owner": "me"}
    assert bytes(described.properties) == bytes(EXACT)
    assert _documents(state) == [f"{instance_id}.json"]


async def test_properties_are_exact_over_the_wire(plugin: FilePlugin, sock_dir: Path) -> None:
    async with (
        running_server(plugin, sock_dir / "p.sock") as sock,
        PluginClient(sock) as client,
    ):
        instance_id = await client.provision(Spec(properties=EXACT))
        [described] = await client.describe_instances({}, properties=True)
    assert described.id == instance_id
    assert bytes(described.properties) == bytes(EXACT)


async def test_provision_is_idempotent_by_logical_id(plugin: FilePlugin) -> None:
    first = await plugin.provision(Spec(logical_id="db-0", tags={"a": "1"}))
    again = await plugin.provision(Spec(logical_id="db-0", tags={"a": "2"}))
    other = await plugin.provision(Spec(logical_id="db-1"))
    assert again == first
    assert other != first
    assert [d.tags for d in await plugin.describe_instances({"a": "1"})] == [{"a": "1"}]
    await plugin.destroy(first, TERMINATION)
    assert await plugin.provision(Spec(logical_id="db-0")) != first


async def test_concurrent_provisions_of_one_logical_id_make_one_instance(
    plugin: FilePlugin,
) -> None:
    ids = await asyncio.gather(*(plugin.provision(Spec(logical_id="x")) for _ in range(10)))
    assert len(set(ids)) == 1
    assert len(await plugin.describe_instances({})) == 1


async def test_concurrent_calls_are_all_kept(plugin: FilePlugin, state: Path) -> None:
    ids = await asyncio.gather(*(plugin.provision(Spec(tags={"n": str(n)})) for n in range(20)))
    await asyncio.gather(*(plugin.label(i, {"labelled": "yes"}) for i in ids))
    described = await plugin.describe_instances({"labelled": "yes"})
    assert sorted(d.id for d in described) == sorted(ids)
    assert _documents(state) == sorted(f"{i}.json" for i in ids)


async def test_bad_properties_are_refused_and_change_nothing(
    plugin: FilePlugin, state: Path
) -> None:
    with pytest.raises(PluginError, match="invalid Properties: must be a JSON object, got array"):
        await plugin.validate(msgspec.Raw(b"[1]"))
    with pytest.raises(PluginError, match="got string"):
        await plugin.provision(Spec(properties="small"))
    assert _documents(state) == []


BAD_IDS = [
    ("", "must not be empty"),
    ("..", "must not start with '.'"),
    (".", "must not start with '.'"),
    (".lock", "must not start with '.'"),
    (".hidden", "must not start with '.'"),
    ("../outside", "path separator"),
    ("a/b", "path separator"),
    ("/etc/passwd", "path separator"),
    ("a\\b", "path separator"),
    ("a\0b", "NUL"),
    ("x" * (MAX_ID_LENGTH + 1), f"longer than {MAX_ID_LENGTH}"),
    ("ünïcode", "may contain only"),
    ("a b", "may contain only"),
]


@pytest.mark.parametrize(("bad_id", "reason"), BAD_IDS)
async def test_ids_that_are_not_plain_names_are_refused(
    plugin: FilePlugin, state: Path, bad_id: str, reason: str
) -> None:
    outside = state.parent / "outside.json"
    outside.write_text('{"ID": "outside"}')
    (state.parent / "outside").mkdir()
    keep = await plugin.provision(Spec())
    before = _documents(state)
    with pytest.raises(InvalidInstanceID, match=f"invalid instance ID .*{reason}"):
        await plugin.label(bad_id, {"a": "b"})
    with pytest.raises(InvalidInstanceID, match=reason):
        await plugin.destroy(bad_id, TERMINATION)
    assert _documents(state) == before
    assert outside.read_text() == '{"ID": "outside"}'
    assert (state.parent / "outside").is_dir()
    assert [d.id for d in await plugin.describe_instances({})] == [keep]


async def test_a_bad_id_reaches_a_remote_caller_as_a_plugin_error(
    plugin: FilePlugin, sock_dir: Path
) -> None:
    async with (
        running_server(plugin, sock_dir / "p.sock") as sock,
        PluginClient(sock) as client,
    ):
        with pytest.raises(PluginError, match=re.escape("invalid instance ID '../x'")) as caught:
            await client.destroy("../x", TERMINATION)
    assert caught.value.code == -32000


async def test_unreadable_and_stray_files_do_not_break_describe(
    state: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = FilePlugin(dir=state)
    good = await first.provision(Spec(tags={"ok": "1"}))
    first.close()
    outside = state.parent / "secret.json"
    outside.write_bytes(b'{"ID":"file-link"}')
    (state / "file-link.json").symlink_to(outside)  # never followed
    (state / "file-truncated.json").write_bytes(b'{"ID":"file-truncated","Tags":{"a"')
    (state / "file-empty.json").write_bytes(b"")
    (state / "file-other.json").write_bytes(b'{"ID":"file-not-this-name"}')
    (state / f".tmp-{good}-0001").write_bytes(b'{"ID":')  # a write cut short
    (state / "notes.txt").write_text("not an instance")
    (state / "..json").write_text("{}")

    with caplog.at_level(logging.WARNING):
        second = FilePlugin(dir=state)
    try:
        described = await second.describe_instances({})
    finally:
        second.close()
    assert [d.id for d in described] == [good]
    assert "file-truncated.json" in caplog.text
    assert "file-empty.json" in caplog.text
    assert "file-other.json: it holds instance 'file-not-this-name'" in caplog.text
    assert not (state / f".tmp-{good}-0001").exists()
    assert outside.read_bytes() == b'{"ID":"file-link"}'


async def test_a_second_daemon_on_the_same_directory_is_refused(state: Path) -> None:
    first = FilePlugin(dir=state)
    try:
        with pytest.raises(StateDirectoryLocked, match="in use by another daemon"):
            FilePlugin(dir=state)
    finally:
        first.close()
    FilePlugin(dir=state).close()  # free again once the first has gone


def test_serve_refuses_a_directory_another_daemon_holds(sock_dir: Path) -> None:
    state = str(sock_dir / "state")
    with running_daemon("--socket", str(sock_dir / "a"), "--plugin", "file", "--dir", state):
        done = run_cli("serve", "--socket", str(sock_dir / "b"), "--plugin", "file", "--dir", state)
    assert done.returncode == 1
    assert "in use by another daemon" in done.stderr
    assert not (sock_dir / "b").exists()


async def test_every_acknowledged_instance_survives_sigkill(sock_dir: Path) -> None:
    """SIGKILL a daemon under concurrent provisions; its successor describes every acknowledged
    instance and is not upset by whatever the kill left half-done."""
    sock, state = sock_dir / "p.sock", sock_dir / "state"
    args = ("--socket", str(sock), "--plugin", "file", "--dir", str(state), "--log-level", "error")
    acknowledged: list[str] = []
    enough = asyncio.Event()

    async def provision_until_gone(client: PluginClient, worker: int) -> None:
        for n in range(500):
            spec = Spec(properties=EXACT, tags={"worker": str(worker), "n": str(n)})
            try:
                instance_id = str(await client.provision(spec))
                acknowledged.append(instance_id)
                # a rewrite of an acknowledged document must never lose it either
                await client.label(instance_id, {"labelled": "yes"})
            except InstanceRPCError:
                return  # the daemon is gone
            if len(acknowledged) >= 60:
                enough.set()

    daemon = Daemon(*args)
    try:
        daemon.wait_listening()
        async with PluginClient(sock, timeout=10) as client:
            workers = [asyncio.create_task(provision_until_gone(client, w)) for w in range(8)]
            await asyncio.wait_for(enough.wait(), 30)
            daemon.kill()
            await asyncio.wait_for(asyncio.gather(*workers), 30)
    finally:
        daemon.close()
    assert len(acknowledged) >= 60

    with running_daemon(*args):
        async with PluginClient(sock) as client:
            described = await client.describe_instances({}, properties=True)
    by_id = {d.id: d for d in described}
    missing = set(acknowledged) - set(by_id)
    assert not missing, f"{len(missing)} acknowledged instances lost"
    assert all(bytes(d.properties) == bytes(EXACT) for d in described)
    assert not [name for name in os.listdir(state) if name.startswith(".tmp-")]
