"""Large DescribeInstances answers, and batches, are streamed (chunked) on a real socket; a
failure while streaming breaks the answer instead of truncating it."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

import msgspec
import pytest

from instance_rpc import CallOutcomeUnknown, Description, PluginClient, Spec
from instance_rpc.rpc.service import InstanceService
from instance_rpc.testing import running_server
from instance_rpc_plugins.memory import MemoryPlugin
from instance_rpc_plugins.store.encoded import SLICE

COUNT = 2 * SLICE + 7  # three slices, the last one short
DESCRIBE = json.dumps(
    {
        "jsonrpc": "2.0",
        "method": "Instance.DescribeInstances",
        "params": {"Type": "", "Tags": None, "Properties": True},
        "id": 7,
    }
).encode()
VALIDATE = b'{"jsonrpc":"2.0","method":"Instance.Validate","params":{"Properties":{}},"id":8}'


async def filled(count: int = COUNT) -> MemoryPlugin:
    backend = MemoryPlugin()
    for number in range(count):
        spec = Spec(
            tags={"group": "g", "n": str(number % 10)},
            properties={"n": number, "price": msgspec.Raw(b"1.50")} if number % 3 else None,
            logical_id=f"host-{number}" if number % 2 else None,
        )
        await backend.provision(spec)
    return backend


async def raw_exchange(
    path: Path, body: bytes, version: str = "1.1"
) -> tuple[bytes, asyncio.StreamReader]:
    """Send ``body`` as a Go client would; the response head and the reader of what follows."""
    reader, writer = await asyncio.open_unix_connection(str(path), limit=1 << 24)
    head = (
        f"POST / HTTP/{version}\r\nHost: h\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    writer.write(head + body)
    await writer.drain()
    response_head = await reader.readuntil(b"\r\n\r\n")
    # Kept open (a collected StreamWriter closes its connection): the answer may still be
    # coming, and a peer that half-closes is taken as gone. The daemon closes it after the
    # answer (Connection: close).
    reader.writer = writer  # type: ignore[attr-defined]
    return response_head, reader


async def read_chunks(reader: asyncio.StreamReader) -> list[bytes]:
    """The chunks of a chunked body (RFC 9112 section 7.1) up to its last, empty chunk;
    ``asyncio.IncompleteReadError`` when the connection ends before it."""
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        chunk = await reader.readexactly(size + 2)
        assert chunk.endswith(b"\r\n")
        if size == 0:
            return chunks
        chunks.append(chunk[:-2])


def header_lines(head: bytes) -> set[str]:
    return {line.lower() for line in head.decode().split("\r\n")[1:] if line}


async def test_a_large_describe_arrives_whole_and_in_order_through_the_plugin_client(
    sock_dir: Path,
) -> None:
    backend = await filled()
    async with (
        running_server(backend, sock_dir / "p.sock") as path,
        PluginClient(path) as client,
    ):
        for properties in (True, False):
            described = await client.describe_instances(None, properties=properties)
            assert described == await backend.describe_instances(None, properties=properties)
    assert len(described) == COUNT
    assert described[-1].id == f"inst-{COUNT}"


async def test_a_large_describe_is_sent_chunked_and_is_the_bytes_of_the_joined_answer(
    sock_dir: Path,
) -> None:
    backend = await filled()
    joined = await InstanceService({"": backend}).handle(DESCRIBE)
    assert joined is not None
    async with running_server(backend, sock_dir / "p.sock") as path:
        head, reader = await raw_exchange(path, DESCRIBE)
        chunks = await read_chunks(reader)
    assert head.startswith(b"HTTP/1.1 200")
    assert "transfer-encoding: chunked" in header_lines(head)
    assert "content-type: application/json" in header_lines(head)
    assert len(chunks) >= 3
    assert b"".join(chunks) == joined
    answer = json.loads(joined)
    assert answer["id"] == 7
    assert answer["result"]["Type"] == ""
    assert len(answer["result"]["Descriptions"]) == COUNT
    assert b'"price":1.50' in joined  # Properties byte for byte


async def test_a_small_describe_keeps_its_content_length(sock_dir: Path) -> None:
    backend = await filled(SLICE)
    async with running_server(backend, sock_dir / "p.sock") as path:
        head, reader = await raw_exchange(path, DESCRIBE)
        lines = header_lines(head)
        length = content_length(lines)
        body = await reader.readexactly(length)
    assert "transfer-encoding: chunked" not in lines
    assert len(json.loads(body)["result"]["Descriptions"]) == SLICE


async def test_an_http_1_0_client_gets_the_large_answer_whole_with_its_length(
    sock_dir: Path,
) -> None:
    backend = await filled()
    joined = await InstanceService({"": backend}).handle(DESCRIBE)
    async with running_server(backend, sock_dir / "p.sock") as path:
        head, reader = await raw_exchange(path, DESCRIBE, version="1.0")
        lines = header_lines(head)
        length = content_length(lines)
        body = await reader.readexactly(length)
    assert head.startswith(b"HTTP/1.0 200")
    assert "transfer-encoding: chunked" not in lines
    assert body == joined


def content_length(lines: set[str]) -> int:
    return next(int(line.split(":")[1]) for line in lines if line.startswith("content-length"))


async def test_a_batch_holding_a_large_describe_is_streamed_in_order(sock_dir: Path) -> None:
    backend = await filled()
    batch = b"[" + DESCRIBE + b"," + VALIDATE + b"," + DESCRIBE + b"]"
    joined = await InstanceService({"": backend}).handle(batch)
    async with running_server(backend, sock_dir / "p.sock") as path:
        head, reader = await raw_exchange(path, batch)
        chunks = await read_chunks(reader)
    assert "transfer-encoding: chunked" in header_lines(head)
    assert b"".join(chunks) == joined
    answers = json.loads(joined)
    assert [answer["id"] for answer in answers] == [7, 8, 7]
    assert answers[0] == answers[2]
    by_id = {answer["id"]: answer for answer in answers}
    assert len(by_id[7]["result"]["Descriptions"]) == COUNT
    assert by_id[8]["result"] == {"Type": "", "OK": True}


class FailsWhileDescribing(MemoryPlugin):
    """Its encoded answer fails after ``good`` slices (0: before the first one)."""

    def __init__(self, good: int) -> None:
        super().__init__()
        self.good = good

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        return await super().describe_instances(tags, properties)

    async def describe_encoded(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> bytes | Iterator[bytes]:
        pieces = await super().describe_encoded(tags, properties)
        return pieces if isinstance(pieces, bytes) else self._failing(iter(pieces))

    def _failing(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        for _ in range(self.good):
            yield next(pieces)
        raise RuntimeError("the inventory went away")


async def failing(good: int) -> FailsWhileDescribing:
    backend = FailsWhileDescribing(good)
    for _ in range(COUNT):
        await backend.provision(Spec(tags={"group": "g"}, properties={"a": 1}))
    return backend


async def test_a_failure_in_the_middle_of_a_stream_breaks_the_answer_and_the_daemon_serves_on(
    sock_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend = await failing(good=2)
    async with running_server(backend, sock_dir / "p.sock") as path:
        head, reader = await raw_exchange(path, DESCRIBE)
        assert "transfer-encoding: chunked" in header_lines(head)
        with pytest.raises(asyncio.IncompleteReadError):
            await read_chunks(reader)  # no last chunk: the connection ends first
        async with PluginClient(path) as client:
            with pytest.raises(CallOutcomeUnknown):
                await client.describe_instances(None, properties=True)
            await client.validate({"a": 1})  # the daemon serves on
            assert len(await client.describe_instances({"group": "none"})) == 0
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(r.exc_info and "inventory went away" in str(r.exc_info[1]) for r in failures)


async def test_a_failure_before_the_first_piece_is_a_json_rpc_error(sock_dir: Path) -> None:
    backend = await failing(good=0)
    async with running_server(backend, sock_dir / "p.sock") as path:
        head, reader = await raw_exchange(path, DESCRIBE)
        lines = header_lines(head)
        length = content_length(lines)
        answer = json.loads(await reader.readexactly(length))
    assert head.startswith(b"HTTP/1.1 200")
    assert answer["error"]["code"] == -32603
    assert "inventory" not in json.dumps(answer)  # no backend text or traceback on the wire


async def test_a_client_leaving_in_the_middle_of_a_stream_leaves_the_daemon_serving(
    sock_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend = await filled(20 * SLICE)
    async with running_server(backend, sock_dir / "p.sock") as path:
        for _ in range(3):
            head, reader = await raw_exchange(path, DESCRIBE)
            assert "transfer-encoding: chunked" in header_lines(head)
            await reader.readexactly(1000)  # then the connection is gone (closed on exit)
        async with PluginClient(path) as client:
            described = await client.describe_instances(None, properties=True)
    assert len(described) == 20 * SLICE
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
