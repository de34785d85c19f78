"""Client-side token buckets, one per EC2 action, so a daemon stays within the API's request
rates instead of spending its retries on throttling answers."""

from __future__ import annotations

import asyncio
import time

from ._settings import Rate, Settings

__all__ = ["Buckets", "TokenBucket"]


class TokenBucket:
    """``rate.burst`` tokens, refilled at ``rate.per_second``; :meth:`take` waits for one.

    Waiters are served in the order they came (one lock), so a burst of callers is spread at
    the rate instead of racing for each new token.
    """

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self._tokens = float(rate.burst)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(
            float(self.rate.burst), self._tokens + (now - self._stamp) * self.rate.per_second
        )
        self._stamp = now

    async def take(self) -> float:
        """Take one token, waiting as long as it takes; returns the seconds waited."""
        async with self._lock:
            start = time.monotonic()
            self._refill(start)
            if self._tokens < 1.0:
                await asyncio.sleep((1.0 - self._tokens) / self.rate.per_second)
                self._refill(time.monotonic())
            self._tokens -= 1.0
            return time.monotonic() - start


class Buckets:
    """A :class:`TokenBucket` per action, made on first use with the settings' rate."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._buckets: dict[str, TokenBucket] = {}

    def bucket(self, action: str) -> TokenBucket:
        found = self._buckets.get(action)
        if found is None:
            found = self._buckets[action] = TokenBucket(self._settings.rate(action))
        return found

    async def take(self, action: str) -> float:
        return await self.bucket(action).take()
