"""``python -m benchmarks.docker`` (part of ``make bench``): the docker backend's cost on the
engine, with the engine's own list call as the baseline, timed in the same run.

Measured on one engine (``--docker-host URL``, else a private ``dockerd`` the tests' helper
starts where this machine can run one; else the section is skipped, saying why):

- Provision/s at concurrency 16, of ``--containers`` containers (100 by default: 1,000 on the
  vfs storage driver take minutes to make; ``--containers 1000`` for the issue's figure);
- the baseline: one ``GET /containers/json?all=1`` with the backend's label filter, p50;
- DescribeInstances p50 without and with Properties, and the ratio of each to the baseline;
- engine API calls per Describe (the backend's own count);
- Destroy/s at concurrency 16: Destroys answered (committed on the engine), and containers
  removed (the background stop and removal) per second.

Prints a table and writes ``bench-docker.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiodocker

from instance_rpc import TERMINATION, Spec
from instance_rpc_plugins.docker import DockerPlugin

CONCURRENCY = 16
SERVICE = ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]


class Skipped(Exception):
    """No engine to measure on; the message says why."""


@contextlib.contextmanager
def engine_and_image(host: str | None, image: str | None) -> Iterator[tuple[str, str]]:
    """The engine's URL and an image that has ``/bin/sh``."""
    if host is not None:
        yield host, image or "busybox:latest"
        return
    from tests.docker.engine import EngineUnavailable, private_engine

    try:
        with private_engine() as engine:
            yield engine.host, engine.image
    except EngineUnavailable as exc:
        raise Skipped(str(exc)) from None


async def _timed(calls: list[Callable[[], Awaitable[Any]]], repeats: int) -> list[float]:
    """p50 of each call, in milliseconds, over ``repeats`` rounds of all of them in turn
    (after one warm-up round), so a busy moment of the machine costs each the same."""
    times: list[list[float]] = [[] for _ in calls]
    for round_ in range(repeats + 1):
        for index, call in enumerate(calls):
            began = time.perf_counter()
            await call()
            if round_:
                times[index].append((time.perf_counter() - began) * 1000)
    return [statistics.median(each) for each in times]


async def _bounded(calls: list[Callable[[], Awaitable[Any]]]) -> float:
    """Seconds to run ``calls`` with at most :data:`CONCURRENCY` at once."""
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(call: Callable[[], Awaitable[Any]]) -> None:
        async with limit:
            await call()

    began = time.perf_counter()
    await asyncio.gather(*(one(call) for call in calls))
    return time.perf_counter() - began


async def measure(host: str, image: str, containers: int, repeats: int) -> dict[str, Any]:
    owner = f"bench-{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory(prefix="irpc-bench-docker-") as state:
        plugin = DockerPlugin(dir=Path(state), name=owner, docker_host=host)
        docker = aiodocker.Docker(url=host)
        try:
            properties = {"Config": {"Image": image, "Cmd": SERVICE}, "StopTimeout": 1}
            specs = [Spec(properties=properties, tags={"bench": owner}) for _ in range(containers)]
            ids: list[str] = []

            async def provision(spec: Spec) -> None:
                ids.append(await plugin.provision(spec))

            made = await _bounded([lambda s=s: provision(s) for s in specs])  # type: ignore[misc]
            params = {
                "all": "1",
                "filters": json.dumps({"label": [f"instance-rpc.plugin={owner}"]}),
            }
            await plugin.describe_instances({})  # the image's labels, read once
            before = plugin.engine_calls
            baseline, plain, with_properties = await _timed(
                [
                    lambda: docker._query_json("containers/json", params=params),
                    lambda: plugin.describe_instances({}),
                    lambda: plugin.describe_instances({}, properties=True),
                ],
                repeats,
            )
            calls = (plugin.engine_calls - before) / (2 * (repeats + 1))
            answered = await _bounded(
                [lambda i=i: plugin.destroy(i, TERMINATION) for i in ids]  # type: ignore[misc]
            )
            began = time.perf_counter()
            while await docker._query_json("containers/json", params=params):  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # the engine's state, polled: no event to wait on
            removed = answered + time.perf_counter() - began
        finally:
            await plugin.aclose()
            await docker.close()
    return {
        "containers": containers,
        "provisions_per_second": containers / made,
        "engine_list_p50_ms": baseline,
        "describe_p50_ms": plain,
        "describe_properties_p50_ms": with_properties,
        "describe_over_list": plain / baseline,
        "describe_properties_over_list": with_properties / baseline,
        "engine_calls_per_describe": calls,
        "destroys_answered_per_second": containers / answered,
        "containers_removed_per_second": containers / removed,
    }


def render(figures: dict[str, Any]) -> str:
    n = figures["containers"]
    rows = [
        (f"Provision/s, c={CONCURRENCY}", f"{figures['provisions_per_second']:.1f}"),
        ("engine GET /containers/json p50 (baseline)", f"{figures['engine_list_p50_ms']:.2f} ms"),
        (
            "Describe p50, no Properties",
            f"{figures['describe_p50_ms']:.2f} ms ({figures['describe_over_list']:.2f}x list)",
        ),
        (
            "Describe p50, with Properties",
            f"{figures['describe_properties_p50_ms']:.2f} ms "
            f"({figures['describe_properties_over_list']:.2f}x list)",
        ),
        ("engine API calls per Describe", f"{figures['engine_calls_per_describe']:.2f}"),
        (f"Destroy/s answered, c={CONCURRENCY}", f"{figures['destroys_answered_per_second']:.1f}"),
        ("containers removed/s", f"{figures['containers_removed_per_second']:.1f}"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"docker backend, {n} containers on one engine"]
    lines += [f"  {name:<{width}}  {value}" for name, value in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.docker", description=__doc__)
    parser.add_argument("--containers", type=int, default=100, help="containers (default 100)")
    parser.add_argument("--repeats", type=int, default=20, help="calls per Describe figure")
    parser.add_argument("--docker-host", help="an engine to use (default: a private dockerd)")
    parser.add_argument("--image", help="with --docker-host: an image with /bin/sh")
    parser.add_argument("--output", type=Path, default=Path("bench-docker.json"))
    args = parser.parse_args()
    try:
        with engine_and_image(args.docker_host, args.image) as (host, image):
            figures = asyncio.run(measure(host, image, args.containers, args.repeats))
    except Skipped as exc:
        print(f"docker section skipped: {exc}")
        return
    print(render(figures))
    args.output.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
