"""A cheap load generator: pre-encoded HTTP/1.1 requests over raw asyncio streams, kept alive.

It does as little as a client can (no HTTP library, no JSON), so the server is the bottleneck.
"""

from __future__ import annotations

import asyncio
import time

from instance_rpc.testing.bench import Sample

__all__ = ["fetch", "hammer", "http_post", "http_request"]


def http_request(method: str, path: str, body: bytes) -> bytes:
    """A complete keep-alive HTTP/1.1 request carrying ``body``."""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


def http_post(body: bytes) -> bytes:
    """A JSON-RPC request as Go clients send it: ``POST /``."""
    return http_request("POST", "/", body)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = value.strip().lower() == b"chunked"
    if chunked:
        return status, await _read_chunked(reader)
    return status, await reader.readexactly(length) if length else b""


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    """A chunked body (RFC 9112 section 7.1), without trailers."""
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _failed(status: int, body: bytes) -> bool:
    return status >= 300 or b'"error":' in body


async def fetch(socket_path: str, request: bytes) -> bytes:
    """Send one request on a new connection; return the response body."""
    reader, writer = await asyncio.open_unix_connection(socket_path, limit=1 << 26)
    try:
        writer.write(request)
        status, body = await _read_response(reader)
    finally:
        writer.close()
        await writer.wait_closed()
    if _failed(status, body):
        raise RuntimeError(f"request failed with HTTP {status}: {body[:200]!r}")
    return body


async def hammer(
    socket_path: str,
    request: bytes,
    *,
    concurrency: int,
    duration: float | None = None,
    count: int | None = None,
) -> Sample:
    """Send ``request`` over ``concurrency`` connections, each waiting for its answer, for
    ``duration`` seconds or until ``count`` requests have been answered."""
    if (duration is None) == (count is None):
        raise ValueError("give duration or count")
    latencies: list[float] = []
    errors = 0
    remaining = count if count is not None else -1
    started = time.perf_counter()
    deadline = started + duration if duration is not None else float("inf")

    async def connection() -> None:
        nonlocal errors, remaining
        reader, writer = await asyncio.open_unix_connection(socket_path)
        try:
            while remaining != 0 and time.perf_counter() < deadline:
                remaining -= 1
                sent = time.perf_counter()
                writer.write(request)
                status, body = await _read_response(reader)
                latencies.append(time.perf_counter() - sent)
                if _failed(status, body):
                    errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return Sample(latencies, errors, time.perf_counter() - started)
