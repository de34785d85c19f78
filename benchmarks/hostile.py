"""``python -m benchmarks.hostile`` (run by ``make bench``): what hostile peers cost a daemon
running with the default limits.

- **Peers**: a legitimate client calls DescribeInstances back to back, over mutual TLS (or plain
  TCP) and over the Unix socket, first alone (the baseline), then while 1,000 hostile peers, each
  from its own loopback address (127.0.1.0 and up, see :mod:`benchmarks.hostile_peers`), are held
  open: idle TCP connections and half-sent TLS ClientHellos on the TLS daemon, bodies sent a byte
  a second on the plain-TCP one. Target: at least 99% of the calls succeed, p99 under 1 s.
- **Memory**: the daemon's peak resident memory under a batch-describe load (clients posting
  batches of 50 DescribeInstances over 20,000 instances) and a large-body load (60 bodies of
  15 MiB at once). Target: below its resident memory before the load, plus
  ``--max-buffered-bytes``, plus 100 MB.

Prints the figures and each target's verdict; takes about two minutes.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import ssl
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import trustme

from instance_rpc import PluginClient
from instance_rpc.net.tls import client_context
from instance_rpc.server.connection_limits import DEFAULT_LIMITS

from . import procstat

_ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
PEERS = 1000
MEASURE_SECONDS = 15.0
BASELINE_SECONDS = 5.0


@dataclass
class Calls:
    """A legitimate client's calls: how many, how many succeeded, latencies in seconds."""

    where: str
    latencies: list[float]
    failures: int

    @property
    def success(self) -> float:
        total = len(self.latencies) + self.failures
        return len(self.latencies) / total if total else 0.0

    def percentile(self, fraction: float) -> float:
        """Over every call, a failed one counting as infinitely slow."""
        ordered = sorted(self.latencies) + [math.inf] * self.failures
        if not ordered:
            return math.inf
        return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]

    def line(self, label: str) -> str:
        total = len(self.latencies) + self.failures
        return (
            f"  {label:<9} {self.where:<12} calls {total:6d}  ok {self.success:7.2%}  "
            f"p50 {self.percentile(0.5) * 1000:8.1f} ms  p99 {self.percentile(0.99) * 1000:8.1f} ms"
        )


def _open_log(socket_path: Path) -> int:
    return os.open(f"{socket_path}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)


class Daemon:
    """``instance-rpc serve`` with the memory backend, in a process of its own."""

    def __init__(self, process: asyncio.subprocess.Process, socket_path: Path) -> None:
        self.process = process
        self.socket_path = socket_path

    @classmethod
    async def start(cls, socket_path: Path, *options: str) -> Daemon:
        log = _open_log(socket_path)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "instance_rpc", "serve", "--socket", str(socket_path),
                "--plugin", "memory", "--log-level", "warning", *options,
                stdout=asyncio.subprocess.PIPE, stderr=log,
            )  # fmt: skip
        finally:
            os.close(log)
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if not line.startswith(b"listening on"):
            raise RuntimeError(f"serve did not start; its log is {socket_path}.log")
        return cls(process, socket_path)

    @property
    def port(self) -> int:
        url = Path(f"{self.socket_path}.listen").read_text().strip()
        return int(url.rsplit(":", 1)[1])

    def resident(self) -> int:
        return procstat.memory_kib(self.process.pid)["VmRSS"] * 1024

    def peak(self) -> int:
        return procstat.memory_kib(self.process.pid)["VmHWM"] * 1024

    def reset_peak(self) -> None:
        """Make the peak resident memory the current one (Linux ``clear_refs``)."""
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    async def stop(self) -> None:
        self.process.terminate()
        await self.process.wait()


async def legit_calls(target: str, seconds: float, context: ssl.SSLContext | None) -> Calls:
    latencies: list[float] = []
    failures = 0
    async with PluginClient(target, ssl=context, timeout=5) as client:
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            started = time.perf_counter()
            try:
                await client.describe_instances(None)
            except Exception:  # any failure is a failed call
                failures += 1
                await asyncio.sleep(0.01)
                continue
            latencies.append(time.perf_counter() - started)
    return Calls(target.split("://")[0] if "://" in target else "unix", latencies, failures)


async def hostile(port: int, mode: str, count: int, seconds: float, first: int) -> Awaitable[str]:
    """Start ``count`` hostile peers; once they are all up, an awaitable of their report."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.hostile_peers",
        str(port), mode, str(count), str(seconds), str(first),
        cwd=_ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    stdout = process.stdout
    await asyncio.wait_for(stdout.readline(), 60)  # "ready"

    async def report() -> str:
        line = await stdout.readline()
        await process.wait()
        return f"{mode}: {line.decode().strip()}"

    return report()


Legit = list[tuple[str, ssl.SSLContext | None]]


async def peers_scenario(
    name: str, daemon: Daemon, legit: Legit, loads: list[tuple[str, int]]
) -> list[str]:
    """Baseline, then the same calls under ``loads`` (mode, peers); the report's lines."""
    lines = [f"{name}:"]

    async def measure(seconds: float) -> list[Calls]:
        runs = (legit_calls(target, seconds, context) for target, context in legit)
        return list(await asyncio.gather(*runs))

    for calls in await measure(BASELINE_SECONDS):
        lines.append(calls.line("baseline"))
    hold = MEASURE_SECONDS + 5
    reports = []
    first = 0
    for mode, count in loads:
        reports.append(await hostile(daemon.port, mode, count, hold, first))
        first += count
    under_attack = await measure(MEASURE_SECONDS)
    for calls in under_attack:
        lines.append(calls.line("attacked"))
        verdict = calls.success >= 0.99 and calls.percentile(0.99) < 1.0
        lines.append(f"    target >= 99% ok, p99 < 1 s: {'met' if verdict else 'MISSED'}")
    for report in reports:
        lines.append(f"    peers {await report}")
    return lines


async def post(session: aiohttp.ClientSession, body: bytes) -> int:
    async with session.post("http://h/", data=body) as response:
        async for _ in response.content.iter_chunked(MiB):
            pass
        return response.status


def describe_batch(count: int) -> bytes:
    params = {"Type": "", "Tags": None, "Properties": False}
    method = "Instance.DescribeInstances"
    batch = [{"jsonrpc": "2.0", "method": method, "params": params, "id": n} for n in range(count)]
    return json.dumps(batch).encode()


def provisions(first: int, count: int) -> bytes:
    batch = [
        {
            "jsonrpc": "2.0",
            "method": "Instance.Provision",
            "params": {"Type": "", "Spec": {"Tags": {"n": str(n), "pad": "x" * 200}}},
            "id": n,
        }
        for n in range(first, first + count)
    ]
    return json.dumps(batch).encode()


async def memory_load(
    daemon: Daemon, session: aiohttp.ClientSession, name: str, load: Callable[[], Awaitable[None]]
) -> str:
    before = daemon.resident()
    daemon.reset_peak()
    started = time.perf_counter()
    await load()
    elapsed = time.perf_counter() - started
    peak = daemon.peak()
    allowed = before + DEFAULT_LIMITS.max_buffered_bytes + 100 * 1000 * 1000
    verdict = "met" if peak < allowed else "MISSED"
    return (
        f"  {name:<13} RSS before {before / MiB:6.0f} MiB  peak {peak / MiB:6.0f} MiB  "
        f"(+{(peak - before) / MiB:4.0f})  allowed {allowed / MiB:6.0f} MiB  {elapsed:5.1f} s  "
        f"target: {verdict}"
    )


async def memory_scenario(directory: Path) -> list[str]:
    daemon = await Daemon.start(directory / "m")
    lines = [f"memory (--max-buffered-bytes {DEFAULT_LIMITS.max_buffered_bytes // MiB} MiB):"]
    connector = aiohttp.UnixConnector(path=str(daemon.socket_path), limit=100)
    headers = {"Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=300)
    try:
        async with aiohttp.ClientSession(
            connector=connector, headers=headers, timeout=timeout
        ) as session:
            for first in range(0, 20_000, 1000):
                await post(session, provisions(first, 1000))
            batch = describe_batch(50)

            async def batches() -> None:
                statuses = await asyncio.gather(*(post(session, batch) for _ in range(4)))
                assert statuses == [200] * 4, statuses

            lines.append(await memory_load(daemon, session, "batch-describe", batches))
            blob = {"blob": "x" * (15 * MiB)}
            body = json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "Instance.Validate",
                    "params": {"Type": "", "Properties": blob},
                    "id": 1,
                }
            ).encode()

            async def bodies() -> None:
                statuses = await asyncio.gather(*(post(session, body) for _ in range(60)))
                assert statuses == [200] * 60, statuses

            lines.append(await memory_load(daemon, session, "large-body", bodies))
    finally:
        await daemon.stop()
    return lines


def certificates(directory: Path) -> tuple[list[str], ssl.SSLContext]:
    ca = trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    client = ca.issue_cert("orchestrator@example.org")
    paths = {name: directory / f"{name}.pem" for name in ("ca", "cert", "key", "ccert", "ckey")}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    server.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    server.private_key_pem.write_to_path(str(paths["key"]))
    client.cert_chain_pems[0].write_to_path(str(paths["ccert"]))
    client.private_key_pem.write_to_path(str(paths["ckey"]))
    options = [
        "--tls-cert", str(paths["cert"]), "--tls-key", str(paths["key"]),
        "--tls-client-ca", str(paths["ca"]),
    ]  # fmt: skip
    context = client_context(ca=paths["ca"], cert=paths["ccert"], key=paths["ckey"])
    return options, context


async def run(directory: Path) -> list[str]:
    lines: list[str] = []
    tls_options, context = certificates(directory)
    listen = ("--listen", "tcp://127.0.0.1:0")
    daemon = await Daemon.start(directory / "t", *listen, *tls_options)
    try:
        legit: Legit = [
            (f"https://localhost:{daemon.port}", context),
            (str(daemon.socket_path), None),
        ]
        loads = [("idle", PEERS // 2), ("hello", PEERS // 2)]
        lines += await peers_scenario(
            "idle TCP and half handshakes (mutual TLS)", daemon, legit, loads
        )
    finally:
        await daemon.stop()
    daemon = await Daemon.start(directory / "p", *listen)
    try:
        legit = [(f"tcp://127.0.0.1:{daemon.port}", None), (str(daemon.socket_path), None)]
        lines += await peers_scenario("slow bodies (plain TCP)", daemon, legit, [("slow", PEERS)])
    finally:
        await daemon.stop()
    lines += await memory_scenario(directory)
    return lines


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="irpc-hostile-", dir="/tmp") as directory:
        lines = asyncio.run(run(Path(directory)))
    print("\n".join(["Hostile peers, default limits", *lines]))


if __name__ == "__main__":
    main()
