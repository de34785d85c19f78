"""Malformed HTTP over a raw socket: a 400 with a JSON-RPC error, one WARNING line, counted."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from instance_rpc import PluginClient
from instance_rpc.server.http_errors import RateLimitedLog
from instance_rpc.testing import running_server
from instance_rpc_plugins.memory import MemoryPlugin

HEAD = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"

MALFORMED = {
    "bad chunk size": HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "Content-Length with Transfer-Encoding": HEAD
    + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "negative length": HEAD + b"Content-Length: -5\r\n\r\n{}",
    "huge header": b"GET /info/api.json HTTP/1.1\r\nHost: h\r\nX-A: " + b"a" * 20000 + b"\r\n\r\n",
    "countless headers": b"GET /info/api.json HTTP/1.1\r\nHost: h\r\n"
    + b"".join(b"X-%d: v\r\n" % i for i in range(1000))
    + b"\r\n",
    "garbage request line": b"HELLO WORLD FOO\r\n\r\n",
    "TLS on the plain port": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
}


async def exchange(path: Path, data: bytes) -> bytes:
    reader, writer = await asyncio.open_unix_connection(str(path))
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_malformed_request_is_refused_with_a_json_rpc_error_and_one_warning(
    case: str, sock_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    refusals: list[str] = []
    memory = MemoryPlugin()
    caplog.set_level(logging.DEBUG)
    async with running_server(memory, sock_dir / "p.sock", on_refusal=refusals.append) as path:
        status, headers, body = split_response(await exchange(path, MALFORMED[case]))
        async with PluginClient(path) as client:  # the daemon still serves
            assert await client.describe_instances(None) == []
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert error["code"] == -32600
    assert error["message"].startswith("malformed HTTP request")
    assert refusals == ["malformed_http"]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].levelno == logging.WARNING
    assert warnings[0].exc_info is None
    assert "malformed HTTP request" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage()


async def test_a_flood_of_malformed_requests_logs_a_few_lines_and_counts_the_rest(
    sock_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    refusals: list[str] = []
    caplog.set_level(logging.WARNING)
    async with running_server(MemoryPlugin(), sock_dir / "p.sock", on_refusal=refusals.append):
        for _ in range(30):
            await exchange(sock_dir / "p.sock", MALFORMED["garbage request line"])
    assert len(refusals) == 30
    lines = [r for r in caplog.records if r.name == "instance_rpc.http_errors"]
    assert 1 <= len(lines) < 30


def test_rate_limited_log_reports_how_many_lines_it_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    log = RateLimitedLog(interval=10.0, per_interval=2, clock=lambda: now[0])
    caplog.set_level(logging.WARNING)
    for n in range(5):
        log.warning("refused %d", n)
    now[0] = 10.0
    log.warning("refused %d", 5)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["refused 0", "refused 1", "refused 5 (3 similar lines dropped)"]
