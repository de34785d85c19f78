"""``python -m benchmarks.hostile_peers PORT MODE COUNT SECONDS [FIRST]``: hostile peers, in a
process of their own, each from its own loopback address (the FIRST-th, default 0, counting from
127.0.1.0), held open for SECONDS.

Modes: ``idle`` connects and sends nothing; ``hello`` sends the first bytes of a TLS ClientHello
and stalls; ``slow`` sends a request head announcing a 1,000-byte body, then one byte a second.
A peer the daemon closes connects again (after 0.2 s, so that the peers do not spin). Prints
``ready`` once every peer has connected once, and at the end a JSON line of what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import socket
import sys

HALF_CLIENT_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
SLOW_HEAD = (
    b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\n\r\n"
)
RECONNECT_PAUSE = 0.2


def peer_address(number: int) -> str:
    """The ``number``-th peer's own loopback address: 127.0.1.0 and up."""
    return f"127.0.{1 + number // 256}.{number % 256}"


async def _connect(port: int, number: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(
        "127.0.0.1", port, local_addr=(peer_address(number), 0), family=socket.AF_INET
    )


async def _hold(
    port: int, number: int, mode: str, stop: asyncio.Event, counts: dict[str, int]
) -> None:
    first = True
    while not stop.is_set():
        try:
            reader, writer = await _connect(port, number)
        except OSError:
            counts["connect_failures"] += 1
            await asyncio.sleep(RECONNECT_PAUSE)
            continue
        counts["connections"] += 1
        if first:
            counts["up"] += 1
            first = False
        try:
            if mode == "hello":
                writer.write(HALF_CLIENT_HELLO)
            elif mode == "slow":
                writer.write(SLOW_HEAD)
            closed = asyncio.ensure_future(reader.read())
            while not stop.is_set() and not closed.done():
                if mode == "slow":
                    writer.write(b" ")
                await asyncio.wait([closed], timeout=1.0)
            if closed.done():
                counts["closed_by_daemon"] += 1
                closed.exception()  # a reset is one way of being closed: retrieved, not logged
            else:
                closed.cancel()
        except OSError:
            counts["closed_by_daemon"] += 1
        finally:
            writer.close()
        await asyncio.sleep(RECONNECT_PAUSE)


async def main(port: int, mode: str, count: int, seconds: float, first: int) -> dict[str, int]:
    stop = asyncio.Event()
    counts = {"up": 0, "connections": 0, "closed_by_daemon": 0, "connect_failures": 0}
    numbers = range(first, first + count)
    tasks = [asyncio.ensure_future(_hold(port, n, mode, stop, counts)) for n in numbers]
    for _ in range(200):  # up to 20 s for every peer to connect once
        if counts["up"] >= count:
            break
        await asyncio.sleep(0.1)
    print("ready", flush=True)
    await asyncio.sleep(seconds)
    stop.set()
    for task in tasks:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*tasks, return_exceptions=True)
    return counts


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port_text, mode_name, count_text, seconds_text = sys.argv[1:5]
    first_number = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    figures = asyncio.run(
        main(int(port_text), mode_name, int(count_text), float(seconds_text), first_number)
    )
    print(json.dumps(figures), flush=True)
