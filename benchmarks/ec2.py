"""``python -m benchmarks.ec2`` (run by ``make bench``): what the ec2 backend costs the EC2 API,
against moto's EC2 server on loopback (``moto[server]``, started here and stopped by PID).

- API calls per Provision (with and without a LogicalID) and per DescribeInstances;
- DescribeInstances of 1,000 instances seeded in the API server directly (one RunInstances
  there), with 1 and with 100 concurrent callers: API calls made and the p50 latency;
- Provisions a second under the default token buckets (RunInstances 2/s, burst 5);
- the baseline, in the same run: one raw DescribeInstances pagination of the same 1,000
  instances through aiobotocore (pages of 1,000), without the backend.

The figures measure the backend and moto together on this machine: moto answers far slower
than EC2, so latencies are an upper bound; call counts are exact.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from instance_rpc import Spec
from instance_rpc.cli import eventloop
from instance_rpc_plugins.ec2 import EC2Plugin
from instance_rpc_plugins.ec2._tags import OWNER
from tests.ec2.api_server import AMI, CREDENTIALS, api_server
from tests.ec2.direct import direct_client

PROPS: dict[str, Any] = {"RunInstancesInput": {"ImageId": AMI, "InstanceType": "t3.micro"}}


def _calls(backend: EC2Plugin) -> int:
    return sum(backend.api.calls.values())


async def _per_call(backend: EC2Plugin, call: Callable[[], Awaitable[Any]], times: int) -> float:
    before = _calls(backend)
    for _ in range(times):
        await call()
    return (_calls(backend) - before) / times


async def _seed(url: str, owner: str, count: int) -> None:
    async with direct_client(url) as client:
        tags = [{"Key": OWNER, "Value": owner}, {"Key": "group", "Value": "seeded"}]
        await client.run_instances(
            ImageId=AMI, InstanceType="t3.micro", MinCount=count, MaxCount=count,
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )  # fmt: skip


async def _raw_pagination(url: str, owner: str) -> tuple[float, int]:
    async with direct_client(url) as client:
        started = time.perf_counter()
        pages = 0
        paginator = client.get_paginator("describe_instances")
        filters = [{"Name": f"tag:{OWNER}", "Values": [owner]}]
        async for _ in paginator.paginate(Filters=filters, PaginationConfig={"PageSize": 1000}):
            pages += 1
        return time.perf_counter() - started, pages


async def _concurrent_describes(backend: EC2Plugin, callers: int, rounds: int) -> dict[str, Any]:
    latencies: list[float] = []
    before = _calls(backend)
    sizes: set[int] = set()

    async def one() -> None:
        started = time.perf_counter()
        found = await backend.describe_instances({"group": "seeded"})
        latencies.append(time.perf_counter() - started)
        sizes.add(len(found))

    for _ in range(rounds):
        await asyncio.gather(*(one() for _ in range(callers)))
    return {
        "callers": callers,
        "describes": callers * rounds,
        "api_calls": _calls(backend) - before,
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "instances": sorted(sizes),
    }


async def run(seeded: int, provisions: int) -> dict[str, Any]:
    with api_server() as server:
        owner = f"bench-{secrets.token_hex(3)}"
        backend = EC2Plugin(name=owner, ec2_endpoint=server.url)
        try:
            results: dict[str, Any] = {}
            results["calls_per_provision"] = await _per_call(
                backend, lambda: backend.provision(Spec(properties=PROPS)), 5
            )
            counter = iter(range(1_000_000))
            results["calls_per_provision_logical_id"] = await _per_call(
                backend,
                lambda: backend.provision(Spec(properties=PROPS, logical_id=f"l{next(counter)}")),
                5,
            )
            results["calls_per_describe"] = await _per_call(
                backend, lambda: backend.describe_instances({}), 5
            )
            await _seed(server.url, owner, seeded)
            seconds, pages = await _raw_pagination(server.url, owner)
            results["baseline_raw_pagination"] = {"seconds": round(seconds, 3), "pages": pages}
            results["describe_1_caller"] = await _concurrent_describes(backend, 1, 5)
            results["describe_100_callers"] = await _concurrent_describes(backend, 100, 3)
            fresh = EC2Plugin(name=f"{owner}-p", ec2_endpoint=server.url)  # full buckets
            try:
                started = time.perf_counter()
                await asyncio.gather(
                    *(fresh.provision(Spec(properties=PROPS)) for _ in range(provisions))
                )
                elapsed = time.perf_counter() - started
                results["provisions_per_second"] = {
                    "provisions": provisions,
                    "seconds": round(elapsed, 2),
                    "per_second": round(provisions / elapsed, 2),
                    "run_instances_calls": fresh.api.calls["RunInstances"],
                }
            finally:
                await fresh.aclose()
            return results
        finally:
            await backend.aclose()


def render(results: dict[str, Any]) -> str:
    one, many = results["describe_1_caller"], results["describe_100_callers"]
    rate = results["provisions_per_second"]
    base = results["baseline_raw_pagination"]
    return "\n".join(
        [
            "== ec2 backend (moto's EC2 server on loopback)",
            f"API calls per Provision: {results['calls_per_provision']:.1f} without a LogicalID, "
            f"{results['calls_per_provision_logical_id']:.1f} with one",
            f"API calls per DescribeInstances: {results['calls_per_describe']:.1f}",
            f"baseline: one raw DescribeInstances pagination of the seeded instances through "
            f"aiobotocore: {base['seconds'] * 1000:.0f} ms, {base['pages']} page(s)",
            f"DescribeInstances of {one['instances']} instances, 1 caller: {one['describes']} "
            f"describes, {one['api_calls']} API calls, p50 {one['p50_ms']} ms",
            f"DescribeInstances of {many['instances']} instances, 100 callers: "
            f"{many['describes']} describes, {many['api_calls']} API calls, "
            f"p50 {many['p50_ms']} ms",
            f"Provisions under the default buckets: {rate['provisions']} in {rate['seconds']} s "
            f"= {rate['per_second']}/s ({rate['run_instances_calls']} RunInstances calls)",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ec2", description=__doc__)
    parser.add_argument("--seeded", type=int, default=1000, help="instances to describe")
    parser.add_argument("--provisions", type=int, default=15, help="concurrent Provisions")
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    try:
        import aiobotocore  # noqa: F401
    except ImportError:
        print("== ec2 backend: skipped (pip install -e '.[dev]' for aiobotocore and moto)")
        return
    print(render(eventloop.run(run(args.seeded, args.provisions))))


if __name__ == "__main__":
    main()
