"""The daemon's byte budget: first come first served, a wait that ends, nothing leaked."""

from __future__ import annotations

import asyncio

import pytest

from instance_rpc.server.byte_budget import BudgetExhausted, ByteBudget


async def test_waiters_are_served_in_order_once_their_bytes_fit() -> None:
    budget = ByteBudget(100)
    await budget.acquire(80, timeout=1)
    served: list[str] = []

    async def wants(name: str, size: int) -> None:
        await budget.acquire(size, timeout=5)
        served.append(name)

    first = asyncio.ensure_future(wants("first", 50))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(wants("second", 10))  # fits now, but waits its turn
    await asyncio.sleep(0.01)
    assert served == []
    budget.release(80)
    await asyncio.gather(first, second)
    assert served == ["first", "second"]
    assert budget.used == 60


async def test_a_wait_that_times_out_counts_nothing() -> None:
    budget = ByteBudget(100)
    budget.take(100)
    with pytest.raises(BudgetExhausted):
        await budget.acquire(1, timeout=0.05)
    budget.release(100)
    assert budget.used == 0
    await budget.acquire(100, timeout=0.05)  # the timed-out waiter is gone


async def test_bytes_held_already_may_overdraw_and_hold_back_the_next() -> None:
    budget = ByteBudget(100)
    budget.take(150)
    assert budget.used == 150
    with pytest.raises(BudgetExhausted):
        await budget.wait_room(timeout=0.05)
    budget.release(150)
    await budget.wait_room(timeout=0.05)
    assert budget.used == 0


async def test_more_than_the_whole_budget_passes_alone() -> None:
    budget = ByteBudget(100)
    await budget.acquire(500, timeout=0.05)
    assert budget.used == 500
