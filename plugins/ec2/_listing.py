"""Listings shared by concurrent callers: a hundred DescribeInstances polling with the same
filters cost the API what one does.

A caller never gets a listing that started before it called (it could miss the caller's own
last Provision or Label): it joins the next listing, which starts as soon as the one in flight
ends, and which every caller arriving meanwhile shares. A burst of callers so costs at most two
listings, and each sees the API as it was after it called.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SharedListings"]

T = TypeVar("T")


class _Key(Generic[T]):
    def __init__(self) -> None:
        self.running: asyncio.Future[T] | None = None
        self.next: asyncio.Future[T] | None = None


class SharedListings(Generic[T]):
    """Shares ``fetch()`` between concurrent callers of one key (see the module docstring)."""

    def __init__(self) -> None:
        self._keys: dict[Hashable, _Key[T]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.fetches = 0
        """Listings made (one per shared round)."""

    async def get(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        state = self._keys.setdefault(key, _Key())
        if state.next is None:
            state.next = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(self._round(key, state, fetch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(state.next)

    async def _round(
        self, key: Hashable, state: _Key[T], fetch: Callable[[], Awaitable[T]]
    ) -> None:
        running = state.running
        if running is not None:
            await asyncio.wait([running])
        future = state.next
        assert future is not None
        state.running, state.next = future, None
        try:
            self.fetches += 1
            result = await fetch()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a round nobody awaits any more is not an error
        else:
            future.set_result(result)
        finally:
            if state.running is future:
                state.running = None
            if state.running is None and state.next is None:
                self._keys.pop(key, None)
