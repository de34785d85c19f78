"""A daemon's memory under loads that ask it to hold many bytes: a batch of DescribeInstances
over many instances, and many large bodies at once. Its peak resident memory (``VmHWM``) grows
by no more than its ``--max-buffered-bytes`` and a margin; every caller is answered."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp

from tests.daemon import Daemon, running_daemon

MiB = 1024 * 1024
MARGIN = 100 * MiB
"""Growth allowed beyond the budget: the interpreter's own, one answer's making, parsing."""


def peak_rss(daemon: Daemon) -> int:
    """The daemon's peak resident memory so far, in bytes (``VmHWM``, Linux)."""
    with open(f"/proc/{daemon.process.pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def provisions(first: int, count: int) -> bytes:
    pad = "x" * 200  # about 300 bytes a description
    return json.dumps(
        [
            {
                "jsonrpc": "2.0",
                "method": "Instance.Provision",
                "params": {"Type": "", "Spec": {"Tags": {"n": str(n), "pad": pad}}},
                "id": n,
            }
            for n in range(first, first + count)
        ]
    ).encode()


def describe(request_id: int) -> dict[str, object]:
    params = {"Type": "", "Tags": None, "Properties": False}
    method = "Instance.DescribeInstances"
    return {"jsonrpc": "2.0", "method": method, "params": params, "id": request_id}


async def post(session: aiohttp.ClientSession, body: bytes) -> tuple[int, int, bytes, bytes]:
    """Status, body length, first and last bytes of the answer, read in pieces."""
    async with session.post("http://h/", data=body) as response:
        length, first, last = 0, b"", b""
        async for chunk in response.content.iter_chunked(MiB):
            first = first or chunk[:64]
            last = (last + chunk)[-64:]
            length += len(chunk)
        return response.status, length, first, last


def session_on(path: Path) -> aiohttp.ClientSession:
    connector = aiohttp.UnixConnector(path=str(path), limit=100)
    timeout = aiohttp.ClientTimeout(total=120)
    headers = {"Content-Type": "application/json"}
    return aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers)


async def test_a_batch_of_describes_is_answered_within_the_budget(sock_dir: Path) -> None:
    path = sock_dir / "p"
    budget = 16 * MiB
    options = ("--plugin", "memory", "--max-body", str(budget), "--log-level", "warning")
    with running_daemon("--socket", str(path), *options, "--max-buffered-bytes", str(budget)) as d:
        async with session_on(path) as session:
            for first in range(0, 20000, 1000):
                status, *_ = await post(session, provisions(first, 1000))
                assert status == 200
            _, single, _, _ = await post(session, json.dumps(describe(10)).encode())
            before = peak_rss(d)
            batch = json.dumps([describe(n) for n in range(10, 60)]).encode()
            status, length, first_bytes, last = await post(session, batch)
        grown = peak_rss(d) - before
    assert status == 200
    assert length == 50 * single + 49 + 2  # every answer, in a JSON array
    assert first_bytes.startswith(b'[{"result":{"Type":"","Descriptions":')
    assert last.endswith(b'"id":59,"jsonrpc":"2.0"}]')
    assert grown < budget + MARGIN, f"grew {grown / MiB:.0f} MiB"


async def test_many_large_bodies_at_once_wait_for_the_budget(sock_dir: Path) -> None:
    path = sock_dir / "p"
    options = ("--plugin", "memory", "--log-level", "warning")
    budget = 64 * MiB  # the default
    with running_daemon("--socket", str(path), *options) as daemon:
        properties = {"blob": "x" * (15 * MiB)}
        request = {"jsonrpc": "2.0", "method": "Instance.Validate", "id": 1}
        body = json.dumps({**request, "params": {"Type": "", "Properties": properties}}).encode()
        async with session_on(path) as session:
            await post(session, b'{"jsonrpc":"2.0","method":"Handshake.Hello","id":1}')
            before = peak_rss(daemon)
            answers = await asyncio.gather(*(post(session, body) for _ in range(30)))
        grown = peak_rss(daemon) - before
    assert [status for status, *_ in answers] == [200] * 30
    assert all(last.endswith(b'"OK":true},"id":1,"jsonrpc":"2.0"}') for *_, last in answers)
    assert grown < budget + MARGIN, f"grew {grown / MiB:.0f} MiB"
