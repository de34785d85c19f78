"""The docker backend under the faults of real use (issue 21, items 1-6 and 9): AutoRemove, a
Destroy interrupted by a restart, containers left ``created``, a hung engine, ``StopTimeout: 0``
and tags the engine's label filter cannot express, each against the private engine."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from instance_rpc import ROLLING_UPDATE, TERMINATION, PluginClient, Spec, load_properties
from instance_rpc.errors import InstanceNotFound, PluginError
from instance_rpc_plugins.docker import DockerPlugin
from instance_rpc_plugins.docker._labels import CREATION, LOGICAL_ID, OWNER, PROPERTIES
from instance_rpc_plugins.docker._teardown import marker_name
from instance_rpc_plugins.memory import MemoryPlugin
from tests.daemon import eventually, running_daemon
from tests.docker.conftest import SERVICE, props
from tests.docker.engine import Engine, kill_and_restart, private_engine
from tests.docker.test_backend import exists, gone
from tests.docker.test_daemon import serve_args

IGNORES_TERM = ["sleep", "300"]  # sleep as PID 1: SIGTERM does nothing, only SIGKILL ends it


def stubborn(engine: Engine, stop_timeout: int, **host: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "Config": {"Image": engine.image, "Cmd": IGNORES_TERM},
        "StopTimeout": stop_timeout,
    }
    if host:
        properties["HostConfig"] = host
    return properties


async def test_autoremove_destroy_is_done_when_the_engine_removed_it(
    plugin: DockerPlugin, engine: Engine, docker: Any
) -> None:
    properties = props(engine, HostConfig={"AutoRemove": True})
    instances = [await plugin.provision(Spec(properties=properties)) for _ in range(3)]
    began = time.monotonic()
    for instance in instances:  # a rolling update: one after the other
        await plugin.destroy(instance, ROLLING_UPDATE)
    for instance in instances:
        await gone(docker, instance, timeout=10)
    assert time.monotonic() - began < 10  # it waited about 60 s for its own entry, then failed
    for instance in instances:
        with pytest.raises(InstanceNotFound):
            await plugin.destroy(instance, ROLLING_UPDATE)
    assert await plugin.describe_instances({}) == []


async def test_destroy_commits_on_the_engine_and_answers_before_the_grace(
    plugin: DockerPlugin, engine: Engine, docker: Any
) -> None:
    instance = await plugin.provision(Spec(properties=stubborn(engine, 3), tags={"k": "v"}))
    began = time.monotonic()
    await plugin.destroy(instance, TERMINATION)
    assert time.monotonic() - began < 1.0  # the 3 s grace runs in the background
    shown = await docker.containers.container(instance).show()
    assert shown["Name"] == f"/{marker_name(instance)}"  # durable, on the engine
    assert await plugin.describe_instances({"k": "v"}) == []
    with pytest.raises(InstanceNotFound):
        await plugin.label(instance, {"a": "b"})
    began = time.monotonic()
    await plugin.destroy(instance, TERMINATION)  # joins
    assert time.monotonic() - began < 1.0
    await gone(docker, instance)
    with pytest.raises(InstanceNotFound):
        await plugin.destroy(instance, TERMINATION)


async def test_a_destroy_interrupted_by_a_restart_is_finished_and_never_handed_out(
    engine: Engine, owner: str, tmp_path: Path, docker: Any
) -> None:
    spec = Spec(properties=stubborn(engine, 2), logical_id=f"{owner}-pet", tags={"pet": "1"})
    first = DockerPlugin(dir=tmp_path / "s", name=owner, docker_host=engine.host)
    old = await first.provision(spec)
    await first.destroy(old, ROLLING_UPDATE)
    await first.aclose()  # the daemon stops during the graceful stop
    assert await exists(docker, old)

    again = DockerPlugin(dir=tmp_path / "s", name=owner, docker_host=engine.host)
    try:
        assert await again.describe_instances({"pet": "1"}) == []
        new = await again.provision(spec)  # waits for the resumed destroy, then makes one
        assert new != old
        assert not await exists(docker, old)
        assert [d.id for d in await again.describe_instances({"pet": "1"})] == [new]
    finally:
        await again.aclose()


async def test_a_daemon_killed_after_destroy_answered_resumes_it_at_start_up(
    engine: Engine, owner: str, tmp_path: Path, docker: Any
) -> None:
    args = serve_args(engine, tmp_path, owner)
    with running_daemon(*args) as daemon:
        async with PluginClient(daemon.socket_path) as client:
            instance = str(await client.provision(Spec(properties=stubborn(engine, 30))))
            await client.destroy(instance, TERMINATION)
        daemon.process.send_signal(signal.SIGKILL)
        daemon.process.wait()
    assert await exists(docker, instance)
    await docker.containers.container(instance).kill()  # the grace is not the point here
    with running_daemon(*args):  # no call: the start-up resumes the destroy
        await gone(docker, instance, timeout=15)


async def leftover(docker: Any, engine: Engine, owner: str, name: str | None) -> str:
    """What a Provision leaves when the engine dies between create and start."""
    labels = {OWNER: owner, CREATION: secrets.token_hex(16), PROPERTIES: "{}", "t": "1"}
    if name is not None:
        labels[LOGICAL_ID] = name
    config = {"Image": engine.image, "Cmd": SERVICE, "Labels": labels}
    created = await docker.containers.create(config, name=name)
    return str(created.id)


async def test_containers_left_created_are_not_instances_and_are_removed(
    engine: Engine, owner: str, tmp_path: Path, docker: Any
) -> None:
    stray = await leftover(docker, engine, owner, None)
    named = await leftover(docker, engine, owner, f"{owner}-db")
    running = DockerPlugin(dir=tmp_path / "s", name=owner, docker_host=engine.host)
    try:
        assert await running.describe_instances({"t": "1"}) == []
        # a Provision of that LogicalID makes a new container (and removes the leftover)
        spec = Spec(properties=props(engine), logical_id=f"{owner}-db", tags={"t": "1"})
        instance = await running.provision(spec)
        assert instance != named
        assert not await exists(docker, named)
        await running.astart()
        await gone(docker, stray)  # the start-up sweep removes what is left created
        assert [d.id for d in await running.describe_instances({"t": "1"})] == [instance]
    finally:
        await running.aclose()


async def test_containers_left_created_are_removed_once_stale_without_a_restart(
    engine: Engine, owner: str, tmp_path: Path, docker: Any
) -> None:
    # Stale after twice the engine timeout: 6 s, so the first Describe comes well before it
    # even on a busy machine.
    running = DockerPlugin(
        dir=tmp_path / "s", name=owner, docker_host=engine.host, docker_engine_timeout=3
    )
    try:
        await running.astart()
        await asyncio.sleep(0.2)  # the start-up sweep is over: this one is left after it
        stray = await leftover(docker, engine, owner, None)
        assert await running.describe_instances({}) == []
        assert await exists(docker, stray)  # not yet: a Provision may be starting it
        await asyncio.sleep(6)  # twice the engine timeout
        for _ in range(40):  # a Describe removes it; bounded, half a second apart
            assert await running.describe_instances({}) == []
            if not await exists(docker, stray):
                break
            await asyncio.sleep(0.5)
        assert not await exists(docker, stray)
    finally:
        await running.aclose()


@contextmanager
def stopped(engine: Engine) -> Iterator[None]:
    """dockerd stopped with SIGSTOP: it accepts connections and answers nothing."""
    os.kill(engine.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(engine.process.pid, signal.SIGCONT)


async def test_a_hung_engine_is_named_within_the_engine_timeout(
    engine: Engine, owner: str, tmp_path: Path
) -> None:
    hung = DockerPlugin(
        dir=tmp_path / "s", name=owner, docker_host=engine.host, docker_engine_timeout=1
    )
    try:
        await hung.describe_instances({})  # the session is open, the sweep is over
        await asyncio.sleep(0.1)
        tasks = len(asyncio.all_tasks())
        with stopped(engine):
            for call in (
                lambda: hung.describe_instances({}),
                lambda: hung.provision(Spec(properties=props(engine))),
                lambda: hung.destroy("0" * 64, TERMINATION),
            ):
                began = time.monotonic()
                with pytest.raises(PluginError) as raised:
                    await asyncio.wait_for(call(), 10)
                assert time.monotonic() - began < 3
                message = raised.value.message
                assert f"docker engine at {engine.host} did not answer within 1 s" in message
                assert len(asyncio.all_tasks()) == tasks  # nothing left in flight
    finally:
        await hung.aclose()


async def test_serve_takes_docker_engine_timeout(
    engine: Engine, owner: str, tmp_path: Path
) -> None:
    args = [*serve_args(engine, tmp_path, owner), "--docker-engine-timeout", "1"]
    with running_daemon(*args) as daemon:
        async with PluginClient(daemon.socket_path) as client:
            await client.describe_instances({})
            with stopped(engine):
                began = time.monotonic()
                with pytest.raises(PluginError, match=r"did not answer within 1 s"):
                    await client.describe_instances({})
                assert time.monotonic() - began < 3
            await client.describe_instances({})  # the engine is back: so is the daemon


async def test_stop_timeout_zero_kills_at_once(
    plugin: DockerPlugin, engine: Engine, docker: Any
) -> None:
    instance = await plugin.provision(Spec(properties=stubborn(engine, 0)))
    shown = await docker.containers.container(instance).show()
    assert shown["Config"]["StopTimeout"] == 0
    began = time.monotonic()
    await plugin.destroy(instance, TERMINATION)
    await gone(docker, instance)
    assert time.monotonic() - began < 4  # it waited the default 10 s


HUGE = "v" * (1024 * 1024)
TAG_SETS: list[dict[str, str]] = [
    {"n": "a", "k=x": "1", "plain": "p"},
    {"n": "b", "k=x": "2", "plain": "p"},
    {"n": "c", "k": "x=1", "plain": "q"},
    {"n": "d", "big": HUGE, "plain": "p"},
    {"n": "e", "big": HUGE[:-1] + "w", "=": "eq"},
]
QUERIES: list[dict[str, str]] = [
    {},
    {"k=x": "1"},
    {"k=x": "2", "plain": "p"},
    {"k": "x=1"},
    {"k": "x"},
    {"big": HUGE},
    {"big": HUGE, "plain": "p"},
    {"=": "eq"},
    {"plain": "p"},
    {"plain": "p", "k=x": "1", "n": "a"},
    {"missing": "x"},
]


async def test_tags_the_label_filter_cannot_express_match_as_the_memory_backend(
    plugin: DockerPlugin, engine: Engine
) -> None:
    memory = MemoryPlugin()
    for tags in TAG_SETS:
        await plugin.provision(Spec(properties=props(engine), tags=tags))
        await memory.provision(Spec(properties={}, tags=tags))
    for query in QUERIES:
        ours = sorted(d.tags["n"] for d in await plugin.describe_instances(query))
        theirs = sorted(d.tags["n"] for d in await memory.describe_instances(query))
        assert ours == theirs, {k: v[:20] for k, v in query.items()}


async def test_describe_costs_one_engine_call_with_or_without_properties(
    plugin: DockerPlugin, engine: Engine
) -> None:
    for n in range(6):
        await plugin.provision(Spec(properties=props(engine), tags={"n": str(n), "g": "1"}))
    await plugin.describe_instances({})  # the image's labels are read once, then known
    for query, properties in (({}, False), ({}, True), ({"g": "1"}, True), ({"k=x": "1"}, True)):
        before = plugin.engine_calls
        found = await plugin.describe_instances(query, properties=properties)
        assert plugin.engine_calls - before == 1, (query, properties)  # was 1 + one per container
        assert len(found) == (0 if "k=x" in query else 6)


async def test_the_engine_killed_mid_provision_leaves_nothing_described_or_created(
    engine: Engine, owner: str, tmp_path: Path
) -> None:
    with private_engine() as own:  # killed by this test: not the session's engine
        state = tmp_path / "s"
        plugin = DockerPlugin(dir=state, name=owner, docker_host=own.host, docker_engine_timeout=5)
        try:
            spec = Spec(properties=props(own), tags={"g": "1"})
            provisions = [asyncio.create_task(plugin.provision(spec)) for _ in range(24)]
            await asyncio.wait(provisions, return_when=asyncio.FIRST_COMPLETED)
            await asyncio.to_thread(kill_and_restart, own)
            results = await asyncio.gather(*provisions, return_exceptions=True)
            assert any(isinstance(r, PluginError) for r in results), results
            query = quote(f'{{"label":["{OWNER}={owner}"],"status":["created"]}}')
            left = own.json("GET", f"/containers/json?all=1&filters={query}")
            assert left, "the kill left no container created: the test proves nothing"
        finally:
            await plugin.aclose()
        again = DockerPlugin(dir=state, name=owner, docker_host=own.host)
        try:
            found = await again.describe_instances({"g": "1"}, properties=True)
            states = {load_properties(d.properties)["state"] for d in found}
            assert "created" not in states, states
            await again.astart()
            await asyncio.sleep(0)

            async def none_created() -> bool:
                query = f'{{"label":["{OWNER}={owner}"],"status":["created"]}}'
                listed = own.json("GET", f"/containers/json?all=1&filters={quote(query)}")
                return not listed

            await eventually(none_created, what="the containers left created removed")
        finally:
            await again.aclose()
