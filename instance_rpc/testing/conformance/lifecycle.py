"""Checks of methods together: concurrent provisions and destroys, a provision racing a destroy."""

from __future__ import annotations

import asyncio

from ...types import ROLLING_UPDATE
from .report import expect
from .run import Run

__all__ = [
    "RACE_DELAY_SECONDS",
    "SLOW_TO_STOP_INIT",
    "concurrent_provisions",
    "provision_racing_destroy",
]


SLOW_TO_STOP_INIT = (
    "#!/bin/sh\n"
    "# instance-rpc conformance: takes a second to stop\n"
    "trap 'sleep 1; exit 0' TERM\n"
    "sleep 600 &\n"
    "wait\n"
)
RACE_DELAY_SECONDS = 0.3
"""How long the race check lets a Destroy run before it provisions the same LogicalID again."""


async def concurrent_provisions(run: Run) -> None:
    check = "concurrent"
    ids = await asyncio.gather(*(run.provision(check) for _ in range(run.concurrency)))
    expect(len(set(ids)) == len(ids), f"{len(ids)} provisions gave {len(set(ids))} distinct IDs")
    described = await run.ids(check)
    expect(described == set(ids), f"described {len(described)} of {len(ids)}: {described}")
    await asyncio.gather(*(run.destroy(instance_id) for instance_id in ids))
    left = await run.ids(check)
    expect(not left, f"still described after concurrent destroys: {sorted(left)}")


async def provision_racing_destroy(run: Run) -> None:
    """InfraKit's group controller replacing a pet: Destroy, and Provision its LogicalID again
    while the instance stops (it takes a second): before the Destroy answered, or after it
    answered and while it finishes in the background (a backend with a graceful stop may
    answer once the Destroy is committed). The dying instance must not be handed out, nor
    described once the Destroy answered, and one LogicalID gives one instance."""
    check = "race"
    logical_id = run.logical_id(check)
    first = await run.provision(check, logical_id=logical_id, init=SLOW_TO_STOP_INIT)
    destroying = asyncio.create_task(run.client.destroy(first, ROLLING_UPDATE))
    await asyncio.wait([destroying], timeout=RACE_DELAY_SECONDS)  # under way, or done
    provisions = asyncio.gather(
        *(run.provision(check, logical_id=logical_id, init=SLOW_TO_STOP_INIT) for _ in range(2))
    )
    try:
        await destroying
        run.live.discard(first)
        described = {d.id for d in await run.describe(check)}
        expect(first not in described, f"{first} still described after its Destroy answered")
    finally:
        again, concurrent = await provisions
    expect(again != first, f"Provision of {logical_id} during its Destroy returned {first}")
    expect(
        concurrent == again,
        f"two Provisions of {logical_id} during a Destroy gave {again} and {concurrent}",
    )
    found = await run.describe(check)
    expect(
        [d.id for d in found] == [again],
        f"after the Destroy of {first}, described {[d.id for d in found]}, want [{again!r}]",
    )
