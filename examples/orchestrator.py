"""A small group controller: keeps SIZE instances of a spec alive on any Instance plugin.

Each round it reads the spec file, then
  - provisions instances while the group has fewer than SIZE, destroys extras when it has more;
  - tags every instance with the group's name and the spec's fingerprint;
  - replaces instances of an older spec one at a time (a rolling update): Destroy with the
    ``rolling_update`` reason, Provision the replacement, wait until DescribeInstances shows it.

Edit the spec file while it runs and watch the group roll over to the new version.

    python examples/orchestrator.py instance-memory web.json --group web --size 3
    python examples/orchestrator.py /tmp/p.sock web.yaml --group web --size 2 --rounds 1

It uses only the client proxy, ``PluginClient``, which is a ``Plugin`` like any local backend:
``Group`` drives either.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

from instance_rpc import (
    ROLLING_UPDATE,
    TERMINATION,
    Description,
    InstanceRPCError,
    Plugin,
    PluginClient,
    Spec,
    parse_spec,
)

GROUP_TAG = "infrakit.group"
CONFIG_TAG = "infrakit.config_sha"


class NotVisible(InstanceRPCError):
    """A new instance did not show in DescribeInstances in time."""


class Group:
    """The instances of one group on one plugin, tagged ``GROUP_TAG=name``."""

    def __init__(
        self,
        plugin: Plugin,
        name: str,
        *,
        wait: float = 60.0,
        say: Callable[[str], None] = print,
    ) -> None:
        self.plugin = plugin
        self.name = name
        self.wait = wait
        self.say = say

    async def members(self) -> list[Description]:
        return sorted(await self.plugin.describe_instances({GROUP_TAG: self.name}))

    async def converge(self, spec: Spec, size: int) -> None:
        """One round: make the group SIZE instances of ``spec``."""
        if spec.logical_id is not None:
            raise InstanceRPCError("a group's spec has no LogicalID: its instances are alike")
        config = spec.fingerprint()[:12]
        members = await self.members()
        current = [m for m in members if m.tags.get(CONFIG_TAG) == config]
        outdated = [m for m in members if m.tags.get(CONFIG_TAG) != config]
        self.say(f"{self.name}: {len(current)} current, {len(outdated)} outdated, want {size}")

        # Too many: the outdated go first, then the newest.
        extras = (outdated + current[::-1])[: max(0, len(members) - size)]
        for extra in extras:
            await self.plugin.destroy(extra.id, TERMINATION)
            self.say(f"destroyed {extra.id} (extra)")
        outdated = [m for m in outdated if m not in extras]
        current = [m for m in current if m not in extras]

        for _ in range(size - len(current) - len(outdated)):
            new = await self._provision(spec, config)
            self.say(f"provisioned {new}")

        for old in outdated:
            await self.plugin.destroy(old.id, ROLLING_UPDATE)
            new = await self._provision(spec, config)
            self.say(f"rolling update: {old.id} -> {new}")
        self.say(f"{self.name}: {size} instances of config {config}")

    async def _provision(self, spec: Spec, config: str) -> str:
        tags = {**spec.tags, GROUP_TAG: self.name, CONFIG_TAG: config}
        tagged = Spec(
            properties=spec.properties, tags=tags, init=spec.init, attachments=spec.attachments
        )
        new = await self.plugin.provision(tagged)
        if new is None:
            raise InstanceRPCError("the plugin gave the new instance no ID")
        await self._until_visible(new)
        return new

    async def _until_visible(self, instance: str) -> None:
        """Wait (bounded) until DescribeInstances lists ``instance``: some plugins lag."""
        deadline = time.monotonic() + self.wait
        pause = 0.05
        while instance not in {m.id for m in await self.members()}:
            if time.monotonic() + pause > deadline:
                raise NotVisible(f"{instance} did not show within {self.wait:g}s")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)


async def run(args: argparse.Namespace) -> int:
    """Converge every ``interval`` seconds, ``rounds`` times (0: until interrupted)."""
    failed = False
    async with PluginClient(args.plugin) as plugin:
        group = Group(plugin, args.group, wait=args.wait, say=lambda line: print(line, flush=True))
        round_number = 0
        while args.rounds == 0 or round_number < args.rounds:
            if round_number:
                await asyncio.sleep(args.interval)
            round_number += 1
            try:
                spec = parse_spec(args.spec.read_bytes(), source=str(args.spec))
                await group.converge(spec, args.size)
            except (OSError, InstanceRPCError) as exc:  # report, and try again next round
                print(f"orchestrator: round {round_number}: {exc}", file=sys.stderr, flush=True)
                failed = True
            else:
                failed = False
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Keep SIZE instances of the spec in SPEC alive on PLUGIN, rolling them "
        "over to a new version when SPEC changes.",
        epilog="examples:\n"
        "  orchestrator.py instance-memory web.json --group web --size 3\n"
        "  orchestrator.py /tmp/p.sock web.yaml --group web --size 2 --rounds 1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("plugin", help="plugin name (lookup[/type]) or socket path")
    parser.add_argument("spec", type=Path, help="spec file, JSON or YAML (Go field names)")
    parser.add_argument("--group", required=True, help="the group's name, tagged on instances")
    parser.add_argument("--size", type=int, required=True, help="how many instances to keep")
    parser.add_argument(
        "--rounds", type=int, default=0, help="rounds to run, then exit (default 0: forever)"
    )
    parser.add_argument(
        "--interval", type=float, default=10.0, help="seconds between rounds (default 10)"
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=60.0,
        help="seconds to wait for a new instance to be listed (default 60)",
    )
    args = parser.parse_args(argv)
    if args.size < 0 or args.rounds < 0 or args.interval < 0:
        parser.error("--size, --rounds and --interval cannot be negative")
    try:
        return asyncio.run(run(args))
    except InstanceRPCError as exc:  # the plugin name does not resolve
        print(f"orchestrator: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
