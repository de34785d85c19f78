"""SyncPluginClient: the async client's calls, blocking, on a loop of its own."""

from __future__ import annotations

import asyncio
import inspect
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from instance_rpc import (
    ROLLING_UPDATE,
    InstanceNotFound,
    InterfaceSpec,
    PluginError,
    PluginUnavailable,
    Spec,
    SyncPluginClient,
)
from instance_rpc.client import PluginClient
from instance_rpc.client.sync_client import ClientOptions
from instance_rpc.testing.daemon import serve_in_thread
from instance_rpc_plugins.memory import MemoryPlugin


@pytest.fixture
def socket_path() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="irpc-sync-", dir="/tmp"))
    try:
        with serve_in_thread(
            {"": MemoryPlugin(), "other": MemoryPlugin()}, directory / "s"
        ) as path:
            yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_every_method(socket_path: Path) -> None:
    with SyncPluginClient(socket_path) as plugin:
        plugin.validate({"size": "small"})
        instance = plugin.provision(Spec(tags={"group": "web"}, properties={"size": "small"}))
        assert instance == "inst-1"
        plugin.label(instance, {"owner": "me"})
        (described,) = plugin.describe_instances({"group": "web"}, properties=True)
        assert described.tags == {"group": "web", "owner": "me"}
        assert bytes(described.properties) == b'{"size":"small"}'
        plugin.destroy(instance, ROLLING_UPDATE)
        assert plugin.describe_instances(None) == []
        assert plugin.handshake() == InterfaceSpec("Instance", "0.6.1")
        assert plugin.hello() == {InterfaceSpec("Instance", "0.6.1"): [".", "other"]}
        assert plugin.info().Vendor is not None


def test_type_name_reaches_another_backend(socket_path: Path) -> None:
    with SyncPluginClient(socket_path, type_name="other") as other:
        other.provision(Spec())
        assert other.type_name == "other"
    with SyncPluginClient(socket_path) as default:
        assert default.describe_instances(None) == []
        assert default.socket_path == socket_path


def test_errors_are_the_async_clients(socket_path: Path) -> None:
    with SyncPluginClient(socket_path) as plugin:
        with pytest.raises(PluginError, match="instance not found: inst-7") as caught:
            plugin.destroy("inst-7", ROLLING_UPDATE)
        assert type(caught.value) is InstanceNotFound  # the class the backend raised
        assert caught.value.instance_id == "inst-7"
    with (
        SyncPluginClient(socket_path.parent / "missing.sock") as gone,
        pytest.raises(PluginUnavailable, match=r"missing\.sock is unavailable"),
    ):
        gone.describe_instances(None)


def test_close_stops_the_thread_and_refuses_further_calls(socket_path: Path) -> None:
    before = threading.active_count()
    plugin = SyncPluginClient(socket_path)
    assert threading.active_count() == before + 1
    plugin.describe_instances(None)
    plugin.close()
    plugin.close()
    assert threading.active_count() == before
    with pytest.raises(RuntimeError, match="closed"):
        plugin.describe_instances(None)


async def test_usable_inside_a_running_event_loop(socket_path: Path) -> None:
    # A script may call it from code that happens to run under asyncio (a notebook, a callback).
    with SyncPluginClient(socket_path) as plugin:
        assert plugin.provision(Spec()) == "inst-1"
    await asyncio.sleep(0)


def test_retry_options_reach_the_async_client(tmp_path: Path) -> None:
    plugin = SyncPluginClient(tmp_path / "none.sock", retries=0, retry_backoff=0.5)
    with plugin, pytest.raises(PluginUnavailable) as caught:
        plugin.describe_instances(None)
    assert caught.value.request_sent is False
    assert (plugin._client.retries, plugin._client.retry_backoff) == (0, 0.5)


def test_the_sync_client_takes_every_option_of_the_async_one() -> None:
    keyword_only = [
        name
        for name, parameter in inspect.signature(PluginClient).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    assert keyword_only == list(ClientOptions.__annotations__)
