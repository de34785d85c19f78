"""Bodies and answers over a real Unix socket: a declared length over the limit is refused at
once, a slow body is cut at the minimum rate, a peer gone mid-body is one WARNING line, and a
client that does not read its answer is cut off."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

import pytest

from instance_rpc import PluginClient
from instance_rpc.server.connection_limits import ConnectionLimits
from instance_rpc.testing import running_server
from instance_rpc_plugins.memory import MemoryPlugin
from tests.daemon import eventually
from tests.rpc.test_streaming import filled

HEAD = "POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n"
DESCRIBE = (
    b'{"jsonrpc":"2.0","method":"Instance.DescribeInstances",'
    b'"params":{"Type":"","Tags":null,"Properties":true},"id":1}'
)


async def read_answer(reader: asyncio.StreamReader, timeout: float) -> bytes:
    """Everything the daemon sends until it closes, within ``timeout`` seconds."""
    return await asyncio.wait_for(reader.read(), timeout)


async def test_a_declared_length_over_the_limit_gets_413_at_once(sock_dir: Path) -> None:
    async with running_server(MemoryPlugin(), sock_dir / "p") as path:
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(HEAD.format(20 * 1024 * 1024).encode() + b"0123456789")
        await writer.drain()
        answer = await read_answer(reader, 5)  # the body timeout is 60 s
        writer.close()
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert b"larger than the limit of 16777216 bytes" in answer


async def test_a_slow_body_is_cut_at_the_minimum_rate(sock_dir: Path) -> None:
    limits = ConnectionLimits(transfer_grace=1, min_transfer_rate=100, body_timeout=60)
    async with running_server(MemoryPlugin(), sock_dir / "p", limits=limits) as path:
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(HEAD.format(1000).encode())
        started = time.monotonic()
        answered = asyncio.ensure_future(read_answer(reader, 20))
        for _ in range(40):  # a byte every 0.2 s: 5 bytes/s, below 100
            if answered.done():
                break
            with contextlib.suppress(ConnectionError):
                writer.write(b" ")
                await writer.drain()
            await asyncio.sleep(0.2)
        answer = await answered
        writer.close()
    assert time.monotonic() - started < 8
    assert b"408 " in answer
    assert b"not received at 100 bytes/s after 1s" in answer


async def test_peers_gone_mid_body_are_rate_limited_warning_lines_without_traceback(
    sock_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running_server(MemoryPlugin(), sock_dir / "p") as path:
        for _ in range(20):
            _, writer = await asyncio.open_unix_connection(str(path))
            writer.write(HEAD.format(1000).encode() + b'{"jsonrpc"')
            await writer.drain()
            await asyncio.sleep(0.01)
            writer.close()
        await eventually(lambda: _true(len(_gone(caplog)) >= 5), 10, "five lines")
        async with PluginClient(path) as client:  # the daemon still serves
            assert await client.describe_instances(None) == []
    lines = _gone(caplog)
    assert len(lines) == 5, caplog.text  # at most 5 per 10 s
    assert all(record.levelno == logging.WARNING for record in lines)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def _true(value: bool) -> bool:
    return value


def _gone(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "disconnected after" in r.getMessage()]


async def test_a_client_that_does_not_read_its_answer_is_cut_off(
    sock_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend = await filled(20000)  # an answer of megabytes: more than the socket buffers
    limits = ConnectionLimits(transfer_grace=1)
    async with running_server(backend, sock_dir / "p", limits=limits) as path:
        _, writer = await asyncio.open_unix_connection(str(path))
        writer.write(HEAD.format(len(DESCRIBE)).encode() + DESCRIBE)
        await writer.drain()
        await eventually(lambda: _true(bool(_cut(caplog))), 20, "cut off")
        writer.close()
    assert len(_cut(caplog)) == 1, caplog.text


def _cut(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "answer not read at" in r.getMessage()]
