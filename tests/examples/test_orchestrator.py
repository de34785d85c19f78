"""examples/orchestrator.py: a group kept at its size, rolled over to a new spec one by one."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from examples.orchestrator import CONFIG_TAG, GROUP_TAG, Group, NotVisible
from instance_rpc import (
    TERMINATION,
    Context,
    Description,
    InstanceRPCError,
    Spec,
    SyncPluginClient,
    load_properties,
)
from instance_rpc.testing.daemon import spawn_daemon
from instance_rpc_plugins.memory import MemoryPlugin
from tests.examples.conftest import EXAMPLES

V1 = Spec(tags={"tier": "front"}, properties={"version": 1})
V2 = Spec(tags={"tier": "front"}, properties={"version": 2})


class Journal(MemoryPlugin):
    """A memory backend that writes down every change and every instance it lists."""

    def __init__(self, *, hide_new_for: int = 0) -> None:
        super().__init__()
        self.log: list[str] = []
        self.hide_new_for = hide_new_for  # describes during which a new instance is not listed
        self._hidden: dict[str, int] = {}

    async def provision(self, spec: Spec) -> str:
        instance = await super().provision(spec)
        self._hidden[instance] = self.hide_new_for
        self.log.append(f"provision {instance}")
        return instance

    async def destroy(self, instance: str, context: Context) -> None:
        await super().destroy(instance, context)
        self.log.append(f"destroy {instance} {context.reason}")

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        listed = []
        for d in await super().describe_instances(tags, properties):
            if self._hidden.get(d.id, 0) > 0:
                self._hidden[d.id] -= 1
            else:
                listed.append(d)
        self.log.append("describe " + " ".join(d.id for d in listed))
        return listed


def converge(group: Group, spec: Spec, size: int) -> None:
    asyncio.run(group.converge(spec, size))


def changes(plugin: Journal) -> list[str]:
    return [line for line in plugin.log if not line.startswith("describe")]


def test_provisions_a_tagged_group_and_then_leaves_it_alone() -> None:
    plugin, said = Journal(), list[str]()
    group = Group(plugin, "web", say=said.append)
    converge(group, V1, 3)
    members = asyncio.run(group.members())
    assert [m.id for m in members] == ["inst-1", "inst-2", "inst-3"]
    config = V1.fingerprint()[:12]
    assert all(m.tags == {"tier": "front", GROUP_TAG: "web", CONFIG_TAG: config} for m in members)
    assert said[-1] == f"web: 3 instances of config {config}"

    plugin.log.clear()
    converge(group, V1, 3)
    assert changes(plugin) == []


def test_a_spec_change_rolls_over_one_instance_at_a_time() -> None:
    plugin = Journal()
    group = Group(plugin, "web", say=lambda line: None)
    converge(group, V1, 2)
    plugin.log.clear()
    converge(group, V2, 2)
    # Each old instance is destroyed for a rolling update, its replacement provisioned and seen
    # listed before the next old one goes.
    assert plugin.log[1:] == [
        "destroy inst-1 rolling_update",
        "provision inst-3",
        "describe inst-2 inst-3",
        "destroy inst-2 rolling_update",
        "provision inst-4",
        "describe inst-3 inst-4",
    ]
    config = V2.fingerprint()[:12]
    assert {m.tags[CONFIG_TAG] for m in asyncio.run(group.members())} == {config}


def test_waits_for_a_replacement_to_be_listed() -> None:
    plugin = Journal(hide_new_for=2)
    converge(Group(plugin, "web", say=lambda line: None), V1, 1)
    assert plugin.log == [
        "describe ",
        "provision inst-1",
        "describe ",
        "describe ",
        "describe inst-1",
    ]


def test_gives_up_on_a_replacement_never_listed() -> None:
    group = Group(Journal(hide_new_for=1000), "web", wait=0.1, say=lambda line: None)
    with pytest.raises(NotVisible, match=r"inst-1 did not show within 0\.1s"):
        converge(group, V1, 1)


def test_shrinking_destroys_the_outdated_first_then_the_newest() -> None:
    plugin = Journal()
    group = Group(plugin, "web", say=lambda line: None)
    converge(group, V1, 2)
    converge(group, Spec(tags={"tier": "front"}, properties={"version": 1}), 3)  # same spec
    plugin.log.clear()
    converge(group, V1, 1)
    assert changes(plugin) == ["destroy inst-3 terminate", "destroy inst-2 terminate"]


def test_other_groups_are_not_touched() -> None:
    plugin = Journal()
    converge(Group(plugin, "web", say=lambda line: None), V1, 2)
    converge(Group(plugin, "db", say=lambda line: None), V2, 1)
    converge(Group(plugin, "web", say=lambda line: None), V1, 0)
    remaining = asyncio.run(plugin.describe_instances(None))
    assert [(d.id, d.tags[GROUP_TAG]) for d in remaining] == [("inst-3", "db")]


def test_a_spec_with_a_logical_id_is_refused() -> None:
    with pytest.raises(InstanceRPCError, match="a group's spec has no LogicalID"):
        converge(Group(Journal(), "web"), Spec(logical_id="web-1"), 2)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "orchestrator.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_against_a_real_daemon(daemon: Path, sock_dir: Path) -> None:
    spec = sock_dir / "web.yaml"
    spec.write_text("Tags: {tier: front}\nProperties: {version: 1}\n")
    args = (str(daemon), str(spec), "--group", "web", "--size", "3", "--rounds", "1")
    first = run(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("provisioned ") == 3

    spec.write_text("Tags: {tier: front}\nProperties: {version: 2}\n")
    second = run(*args)
    assert second.returncode == 0, second.stderr
    assert [line for line in second.stdout.splitlines() if line.startswith("rolling")] == [
        "rolling update: inst-1 -> inst-4",
        "rolling update: inst-2 -> inst-5",
        "rolling update: inst-3 -> inst-6",
    ]
    with SyncPluginClient(daemon) as plugin:
        members = plugin.describe_instances({GROUP_TAG: "web"}, properties=True)
    assert [m.id for m in members] == ["inst-4", "inst-5", "inst-6"]
    assert {bytes(m.properties) for m in members} == {b'{"version":2}'}


def test_reports_failures_and_exits_non_zero(daemon: Path, sock_dir: Path) -> None:
    missing = run(
        str(daemon),
        str(sock_dir / "none.json"),
        "--group",
        "g",
        "--size",
        "1",
        "--rounds",
        "2",
        "--interval",
        "0",
    )
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [
        f"orchestrator: round {n}: [Errno 2] No such file or directory: '{sock_dir / 'none.json'}'"
        for n in (1, 2)
    ]
    unknown = run("no-such-plugin", str(sock_dir / "x.json"), "--group", "g", "--size", "1")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("orchestrator: no plugin named 'no-such-plugin' in ")


def test_help() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "--group GROUP --size SIZE" in result.stdout
    assert "orchestrator.py instance-memory web.json --group web --size 3" in result.stdout


def _pids(plugin: SyncPluginClient) -> dict[str, int]:
    members = plugin.describe_instances({GROUP_TAG: "web"}, properties=True)
    return {m.id: load_properties(m.properties)["pid"] for m in members}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_rolls_real_processes_on_the_process_backend(sock_dir: Path) -> None:
    socket_path = sock_dir / "procs.sock"
    serve = ["--plugin", "process", "--dir", str(sock_dir / "state")]
    spec = sock_dir / "web.json"
    spec.write_text(
        '{"Init": "exec sleep 300", "Tags": {"tier": "front"},'
        ' "Properties": {"env": {"VERSION": "1"}, "stop_grace_seconds": 1}}'
    )
    args = (str(socket_path), str(spec), "--group", "web", "--size", "2", "--rounds", "1")
    with spawn_daemon(serve, socket_path, log=sock_dir / "daemon.log"):
        first = run(*args)
        assert first.returncode == 0, first.stderr
        with SyncPluginClient(socket_path) as plugin:
            before = _pids(plugin)
        assert len(before) == 2
        assert all(_alive(pid) for pid in before.values())

        spec.write_text(spec.read_text().replace('"VERSION": "1"', '"VERSION": "2"'))
        second = run(*args)
        assert second.returncode == 0, second.stderr
        rolled = [line for line in second.stdout.splitlines() if line.startswith("rolling")]
        assert len(rolled) == 2
        with SyncPluginClient(socket_path) as plugin:
            after = _pids(plugin)
            for instance in after:
                plugin.destroy(instance, TERMINATION)
        assert set(after).isdisjoint(before)
        assert not any(_alive(pid) for pid in before.values())  # the old processes are gone
        assert all(pid not in before.values() for pid in after.values())
