"""Checks of Instance.Validate."""

from __future__ import annotations

from ...errors import PluginError
from .report import CheckFailed
from .run import Run

__all__ = ["validate_bad", "validate_good"]


async def validate_good(run: Run) -> None:
    await run.client.validate(run.properties)


async def validate_bad(run: Run) -> None:
    try:
        await run.client.validate(run.bad_properties)
    except PluginError:
        return
    raise CheckFailed(f"Validate accepted {bytes(run.bad_properties).decode()}")
