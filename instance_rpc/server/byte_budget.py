"""The daemon's budget of buffered bytes: request bodies being read or held, answers being sent.

Bounding connections is not bounding memory: a few callers can send bodies just under the size
limit, or ask for answers of many megabytes each. Every body and every answer larger than a small
write is counted here while the daemon holds it; a body waits (in the kernel's socket buffers,
unread) until it fits, and an answer's next piece is made only while the budget has room.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["BudgetExhausted", "ByteBudget"]


class BudgetExhausted(Exception):
    """The budget did not have room within the time a caller was willing to wait."""


class ByteBudget:
    """``limit`` bytes for the whole daemon; :attr:`used` is what is counted now.

    :meth:`acquire` waits, first come first served, until its bytes fit; :meth:`take` counts
    bytes the daemon already holds (an answer a method made), which may overdraw the budget
    until they are released; :meth:`wait_room` waits until the budget is not overdrawn.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the budget must be at least one byte")
        self.limit = limit
        self.used = 0
        self.peak = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    def _fits(self, size: int) -> bool:
        return self.used + size <= self.limit or self.used == 0

    async def acquire(self, size: int, timeout: float) -> None:
        """Count ``size`` bytes in once they fit (at once when nothing else is counted).

        Raises :class:`BudgetExhausted` when they do not fit within ``timeout`` seconds.
        """
        if not self._waiters and self._fits(size):
            self.take(size)
            return
        waiter = asyncio.get_running_loop().create_future()
        entry = (size, waiter)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                self.release(size)  # granted as the timeout struck: give it back
            raise BudgetExhausted(f"{size} bytes did not fit within {timeout:g}s") from None
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release(size)
            raise
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    def take(self, size: int) -> None:
        """Count ``size`` bytes the daemon holds already, room or not."""
        self.used += size
        if self.used > self.peak:
            self.peak = self.used

    def release(self, size: int) -> None:
        """Stop counting ``size`` bytes; wake the waiters that now fit, in order."""
        self.used -= size
        waiters = self._waiters
        while waiters:
            size_wanted, waiter = waiters[0]
            if waiter.done():
                waiters.popleft()
                continue
            if not self._fits(size_wanted):
                break
            waiters.popleft()
            self.take(size_wanted)
            waiter.set_result(None)

    async def wait_room(self, timeout: float) -> None:
        """Return once the budget is not full (``used`` below ``limit``) and no one waits
        before us; :class:`BudgetExhausted` after ``timeout`` seconds."""
        if self.used < self.limit and not self._waiters:
            return
        await self.acquire(1, timeout)
        self.release(1)
