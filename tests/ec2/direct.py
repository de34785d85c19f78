"""The API server as it is, without the backend or the proxy between: what tests check
against, and how benchmarks seed instances."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from instance_rpc_plugins.ec2._tags import OWNER, all_tags

__all__ = ["direct_client", "everything", "owned"]


@contextlib.asynccontextmanager
async def direct_client(url: str) -> AsyncIterator[Any]:
    """An aiobotocore EC2 client of ``url``."""
    from aiobotocore.session import get_session

    async with get_session().create_client("ec2", endpoint_url=url) as client:
        yield client


async def everything(url: str) -> list[dict[str, Any]]:
    """Every instance the server has, in every state."""
    found: list[dict[str, Any]] = []
    async with direct_client(url) as client:
        async for page in client.get_paginator("describe_instances").paginate():
            for reservation in page["Reservations"]:
                found.extend(reservation["Instances"])
    return found


async def owned(url: str, owner: str, *, live: bool = True) -> list[dict[str, Any]]:
    """The instances tagged as ``owner``'s (only the live ones unless ``live`` is false)."""
    ended = ("shutting-down", "terminated")
    return [
        i
        for i in await everything(url)
        if all_tags(i).get(OWNER) == owner and (not live or i["State"]["Name"] not in ended)
    ]
