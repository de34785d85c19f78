"""The ec2 backend's parts without an API: rates, tokens, buckets, shared listings, filters."""

from __future__ import annotations

import asyncio
import time

import pytest

from instance_rpc.errors import PluginError
from instance_rpc_plugins.ec2._buckets import TokenBucket
from instance_rpc_plugins.ec2._listing import SharedListings
from instance_rpc_plugins.ec2._settings import Rate, Settings, parse_rates
from instance_rpc_plugins.ec2._tags import OWNER, api_filters
from instance_rpc_plugins.ec2._tokens import logical_token, random_token


def test_rates_default_to_the_cluster_api_providers_and_are_configurable() -> None:
    settings = Settings(rates=parse_rates(["DescribeVolumes=1:2", "*=3:4"]))
    assert settings.rate("RunInstances") == Rate(2.0, 5)
    assert settings.rate("DescribeInstances") == Rate(20.0, 100)
    assert settings.rate("DescribeVolumes") == Rate(1.0, 2)
    assert settings.rate("CreateTags") == Rate(3.0, 4)
    for bad in ("RunInstances", "RunInstances=2", "=1:1", "X=0:1", "X=1:0", "X=nan:1"):
        with pytest.raises(PluginError, match="want ACTION=RATE:BURST"):
            parse_rates([bad])


def test_tokens_are_stable_per_life_and_fit_ec2() -> None:
    token = logical_token("web", "db-1", 0)
    assert token == logical_token("web", "db-1", 0)
    assert len({token, logical_token("web", "db-1", 1), logical_token("api", "db-1", 0)}) == 3
    assert len(token) <= 64
    assert token.isascii()
    assert random_token() != random_token()


async def test_a_bucket_spreads_calls_past_its_burst_at_its_rate() -> None:
    bucket = TokenBucket(Rate(20.0, 3))
    started = time.monotonic()
    for _ in range(3):
        await bucket.take()
    assert time.monotonic() - started < 0.05  # the burst
    for _ in range(4):
        await bucket.take()
    assert time.monotonic() - started >= 4 / 20 - 0.01


async def test_a_listing_is_shared_and_never_one_started_before_the_call() -> None:
    listings: SharedListings[int] = SharedListings()
    gate = asyncio.Event()
    count = 0

    async def fetch() -> int:
        nonlocal count
        count += 1
        seen = count
        await gate.wait()
        return seen

    first = [asyncio.create_task(listings.get("k", fetch)) for _ in range(10)]
    await asyncio.sleep(0.01)  # the first round is in flight
    later = [asyncio.create_task(listings.get("k", fetch)) for _ in range(10)]
    await asyncio.sleep(0.01)
    gate.set()
    assert await asyncio.gather(*first) == [1] * 10
    assert await asyncio.gather(*later) == [2] * 10  # the next round, not the one in flight
    assert listings.fetches == 2


def test_filters_leave_to_the_backend_what_the_api_cannot_match() -> None:
    filters = api_filters("web", {"a": "1", "b": "", "c": "x*", "d?": "1"})
    assert filters == [
        {"Name": f"tag:{OWNER}", "Values": ["web"]},
        {"Name": "tag:a", "Values": ["1"]},
        {"Name": "tag-key", "Values": ["b"]},
        {"Name": "tag-key", "Values": ["c"]},
    ]
