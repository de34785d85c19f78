"""Faults on either side: missing daemons, dropped connections, and backends that misbehave."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path

import pytest

from instance_rpc import (
    INTERFACE,
    CallTimeout,
    Context,
    Description,
    InvalidParams,
    MethodNotFound,
    PluginClient,
    PluginError,
    PluginServer,
    PluginUnavailable,
    Spec,
)
from instance_rpc.rpc.service import InstanceService
from instance_rpc.testing import running_server
from instance_rpc_plugins.memory import MemoryPlugin


def fast_client(path: Path, **options: float) -> PluginClient:
    return PluginClient(path, retry_backoff=0.01, **options)  # type: ignore[arg-type]


async def test_missing_socket_is_a_clear_error_naming_it(sock_dir: Path) -> None:
    path = sock_dir / "gone.sock"
    async with fast_client(path) as client:
        with pytest.raises(PluginUnavailable, match=f"plugin at {path} is unavailable") as caught:
            await client.describe_instances(None)
    assert caught.value.request_sent is False


async def test_refused_connection_on_a_stale_socket(sock_dir: Path) -> None:
    import socket

    path = sock_dir / "stale.sock"
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(path))
    async with fast_client(path) as client:
        with pytest.raises(PluginUnavailable, match="Connection refused"):
            await client.provision(Spec())


async def test_a_call_waits_out_a_daemon_that_is_starting(sock_dir: Path) -> None:
    path = sock_dir / "late.sock"
    backend = MemoryPlugin()
    server = PluginServer(InstanceService({"": backend}), path)

    async def start_late() -> None:
        await asyncio.sleep(0.05)
        await server.start()

    async with PluginClient(path, retry_backoff=0.05, retries=5) as client:
        starter = asyncio.create_task(start_late())
        # never reached the daemon, so even a Provision without a LogicalID is safe to repeat
        assert await client.provision(Spec()) == "inst-1"
        await starter
    await server.close()
    assert [d.id for d in await backend.describe_instances(None)] == ["inst-1"]


async def test_daemon_restarted_mid_session(sock_dir: Path) -> None:
    path = sock_dir / "restart.sock"
    async with fast_client(path) as client:
        async with running_server(MemoryPlugin(), path):
            assert await client.provision(Spec()) == "inst-1"
        async with running_server(MemoryPlugin(id_prefix="new-"), path):
            assert await client.describe_instances(None) == []
            assert await client.provision(Spec()) == "new-1"


class Hangup:
    """A 'daemon' that reads each request and hangs up without answering."""

    def __init__(self) -> None:
        self.requests = 0
        self.calls: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(65536)
        self.requests += 1
        self.calls.append(data)
        writer.close()


async def test_only_safe_calls_are_repeated_after_a_dropped_request(sock_dir: Path) -> None:
    fake = Hangup()
    path = sock_dir / "hangup.sock"
    listener = await asyncio.start_unix_server(fake.handle, str(path))
    try:
        async with fast_client(path, retries=2) as client:
            with pytest.raises(PluginUnavailable):
                await client.handshake()
            assert fake.requests == 3  # the handshake is safe: 1 + 2 retries
            client._interface = INTERFACE  # as if the handshake had passed
            fake.requests = 0
            with pytest.raises(PluginUnavailable):
                await client.provision(Spec())
            assert fake.requests == 1  # may have reached the plugin: never repeated
            fake.requests = 0
            with pytest.raises(PluginUnavailable):
                await client.provision(Spec(logical_id="host-1"))
            assert fake.requests == 3  # idempotent by its LogicalID
            fake.requests = 0
            with pytest.raises(PluginUnavailable):
                await client.describe_instances(None)
            assert fake.requests == 3
    finally:
        listener.close()
        await listener.wait_closed()


class Misbehaving(MemoryPlugin):
    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.provisions = 0

    async def provision(self, spec: Spec) -> str:
        self.provisions += 1
        if spec.tags.get("mode") == "hang":
            await self.release.wait()
        if spec.tags.get("mode") == "garbage":
            return 42  # type: ignore[return-value]
        if spec.tags.get("mode") == "raise":
            raise RuntimeError("disk on fire")
        return await super().provision(spec)

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        if tags and tags.get("mode") == "garbage":
            return [1, 2]  # type: ignore[list-item]
        return await super().describe_instances(tags, properties)

    async def destroy(self, instance: str, context: Context) -> None:
        raise KeyError(instance)


async def test_misbehaving_backends_answer_minus_32000_and_the_daemon_serves_on(
    sock_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend = Misbehaving()
    async with running_server(backend, sock_dir / "bad.sock") as path, PluginClient(path) as client:
        with pytest.raises(PluginError, match=r"^disk on fire$"):
            await client.provision(Spec(tags={"mode": "raise"}))
        assert "Traceback" in caplog.text  # the traceback is logged, not sent
        with pytest.raises(PluginError, match="non-string ID: 42"):
            await client.provision(Spec(tags={"mode": "garbage"}))
        with pytest.raises(PluginError) as caught:
            await client.describe_instances({"mode": "garbage"})
        assert caught.value.code == -32000
        with pytest.raises(PluginError, match="'nope'"):
            await client.destroy("nope", Context("terminate"))
        assert await client.provision(Spec()) == "inst-1"


async def test_a_hung_backend_call_times_out_without_blocking_others(sock_dir: Path) -> None:
    backend = Misbehaving()
    async with running_server(backend, sock_dir / "hang.sock") as path:
        async with PluginClient(path, provision_timeout=0.3) as client:
            hung = asyncio.create_task(client.provision(Spec(tags={"mode": "hang"})))
            # other calls proceed while the first one hangs
            assert await client.provision(Spec()) == "inst-1"
            assert [d.id for d in await client.describe_instances(None)] == ["inst-1"]
            with pytest.raises(CallTimeout, match=r"Instance.Provision .* within 0.3s"):
                await hung
        assert backend.provisions == 2  # the timed-out Provision was not repeated
        backend.release.set()


async def test_call_errors_are_logged_one_line_per_call(
    sock_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="instance_rpc.service")
    async with (
        running_server(MemoryPlugin(), sock_dir / "log.sock") as path,
        PluginClient(path) as client,
    ):
        await client.provision(Spec(tags={"a": "b"}))
        with pytest.raises(PluginError):
            await client.label("nope", {})
    lines = [r.getMessage() for r in caplog.records if r.name == "instance_rpc.service"]
    assert any(line.startswith("Instance.Provision type=. ok (") for line in lines)
    assert any(
        line.startswith("Instance.Label type=. error -32000: instance not found: nope")
        for line in lines
    )


class RaisesProtocolErrors(MemoryPlugin):
    async def validate(self, properties: object) -> None:
        raise InvalidParams("size must be a number", data="size")

    async def destroy(self, instance: str, context: Context) -> None:
        raise MethodNotFound("this backend cannot destroy", data={"hint": "detach"})


async def test_a_backend_error_keeps_its_code_message_and_data(sock_dir: Path) -> None:
    async with (
        running_server(RaisesProtocolErrors(), sock_dir / "codes.sock") as path,
        PluginClient(path) as client,
    ):
        with pytest.raises(InvalidParams) as invalid:
            await client.validate({})
        # data names the kind; a raiser's data stays there (a dict's members, else as "data")
        assert invalid.value.message == "size must be a number"
        assert invalid.value.data == {"kind": "InvalidParams", "data": "size"}
        with pytest.raises(MethodNotFound) as missing:
            await client.destroy("x", Context("terminate"))
        assert missing.value.message == "this backend cannot destroy"
        assert missing.value.data == {"kind": "MethodNotFound", "hint": "detach"}
