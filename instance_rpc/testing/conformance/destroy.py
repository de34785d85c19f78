"""Checks of Instance.Destroy, and of Label and Destroy on IDs the plugin does not know."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ...errors import PluginError
from ...types import TERMINATION, Context
from .report import CheckFailed, expect
from .run import Run

__all__ = ["GONE_SECONDS", "destroy_check", "unknown_ids"]

GONE_SECONDS = 60.0
"""How long a destroyed instance may take to be gone: a Destroy answers once the instance is
committed to being destroyed; a Destroy meanwhile joins (succeeds), one after says not found."""


def destroy_check(check: str, context: Context) -> Callable[[Run], Awaitable[None]]:
    async def destroy(run: Run) -> None:
        instance_id = await run.provision(check)
        await run.destroy(instance_id, context)
        left = await run.ids(check)
        expect(instance_id not in left, f"{instance_id} still described after Destroy")
        deadline = time.monotonic() + GONE_SECONDS
        while time.monotonic() < deadline:
            try:
                await run.client.destroy(instance_id, context)  # joins the one under way
            except PluginError:
                return
            await asyncio.sleep(0.1)
        raise CheckFailed(f"a Destroy of {instance_id} still succeeds {GONE_SECONDS:g} s later")

    return destroy


async def unknown_ids(run: Run) -> None:
    unknown = f"conformance-no-such-instance-{run.run_id}"
    calls: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("Label", lambda: run.client.label(unknown, {"a": "b"})),
        ("Destroy", lambda: run.client.destroy(unknown, TERMINATION)),
    ]
    for method, call in calls:
        try:
            await call()
        except PluginError:
            continue
        raise CheckFailed(f"{method} of unknown ID {unknown!r} succeeded")
