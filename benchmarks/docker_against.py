"""``python -m benchmarks.docker_against REV`` (``make bench-docker-against REV=...``): the docker
backend's Provision/s and Destroy/s against its code at git revision ``REV``, on one engine, in
the same run.

Each round runs this tree's backend and ``REV``'s, in turn, each in a process of its own whose
import path starts with that code (``REV``'s ``instance_rpc`` and ``plugins/`` taken out with
``git archive``): ``--containers`` Provisions at concurrency 16, then as many Destroys at
concurrency 16, timed until the engine lists none of them (the work both versions do: a Destroy
of ``REV`` may answer only once its container is gone, this tree's once it is committed). The
figures are the medians over ``--rounds`` rounds and their ratios, this tree over ``REV``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

from benchmarks.docker import Skipped, engine_and_image

ROOT = Path(__file__).resolve().parent.parent

# Run in the child: the backend from the first entry of sys.path, its two figures as JSON.
_CHILD = r"""
import asyncio, json, secrets, sys, tempfile, time
from pathlib import Path
import aiodocker
from instance_rpc import TERMINATION, Spec
from instance_rpc_plugins.docker import DockerPlugin

HOST, IMAGE, COUNT = sys.argv[1], sys.argv[2], int(sys.argv[3])
SERVICE = ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]


async def bounded(calls):
    limit = asyncio.Semaphore(16)

    async def one(call):
        async with limit:
            return await call()

    began = time.perf_counter()
    results = await asyncio.gather(*(one(call) for call in calls))
    return time.perf_counter() - began, results


async def main():
    owner = f"against-{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory() as state:
        plugin = DockerPlugin(dir=Path(state), name=owner, docker_host=HOST)
        docker = aiodocker.Docker(url=HOST)
        params = {"all": "1", "filters": json.dumps({"label": [f"instance-rpc.plugin={owner}"]})}
        try:
            properties = {"Config": {"Image": IMAGE, "Cmd": SERVICE}, "StopTimeout": 1}
            spec = Spec(properties=properties, tags={"bench": owner})
            made, ids = await bounded([lambda: plugin.provision(spec)] * COUNT)
            began = time.perf_counter()
            await bounded([lambda i=i: plugin.destroy(i, TERMINATION) for i in ids])
            while await docker._query_json("containers/json", params=params):
                await asyncio.sleep(0.05)
            gone = time.perf_counter() - began
        finally:
            await plugin.aclose()
            await docker.close()
    print(json.dumps({"provisions_per_second": COUNT / made, "destroyed_per_second": COUNT / gone}))


asyncio.run(main())
"""


def extract(revision: str, into: Path) -> Path:
    """``revision``'s ``instance_rpc`` and ``plugins/`` under ``into``, as an import root (the
    backends' package under its installed name, ``instance_rpc_plugins``)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "instance_rpc", "plugins"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "plugins").rename(into / "instance_rpc_plugins")
    return into


def this_tree(into: Path) -> Path:
    """This tree's code as an import root, laid out as :func:`extract` lays out a revision's."""
    shutil.copytree(ROOT / "instance_rpc", into / "instance_rpc")
    shutil.copytree(ROOT / "plugins", into / "instance_rpc_plugins")
    return into


def run_once(root: Path, host: str, image: str, containers: int) -> dict[str, float]:
    """One measurement of the backend found at ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, host, image, str(containers)],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the measurement of {root} failed:\n{done.stderr}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.docker_against", description=__doc__
    )
    parser.add_argument("revision", help="the git revision to compare with (e.g. v0.5.0, 586dcfa)")
    parser.add_argument("--containers", type=int, default=32, help="containers a round (32)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    parser.add_argument("--docker-host", help="an engine to use (default: a private dockerd)")
    parser.add_argument("--image", help="with --docker-host: an image with /bin/sh")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"this tree": [], args.revision: []}
    with tempfile.TemporaryDirectory(prefix="irpc-against-") as scratch:
        roots = {
            "this tree": this_tree(Path(scratch, "now")),
            args.revision: extract(args.revision, Path(scratch, "then")),
        }
        try:
            with engine_and_image(args.docker_host, args.image) as (host, image):
                for _ in range(args.rounds):
                    for name, root in roots.items():
                        runs[name].append(run_once(root, host, image, args.containers))
        except Skipped as exc:
            print(f"docker comparison skipped: {exc}")
            return
    print(f"docker backend, {args.containers} containers a round, {args.rounds} rounds, c=16")
    for figure in ("provisions_per_second", "destroyed_per_second"):
        now = statistics.median(run[figure] for run in runs["this tree"])
        then = statistics.median(run[figure] for run in runs[args.revision])
        print(
            f"  {figure:<22} this tree {now:7.2f}  {args.revision} {then:7.2f}  {now / then:.2f}x"
        )


if __name__ == "__main__":
    main()
