"""Destroys that finish in the background: one task per instance, retried until it succeeds.

A backend whose Destroy takes time (a graceful stop) answers once the Destroy is committed (its
record marked destroying on disk); :class:`BackgroundDestroys` then runs the rest (stopping the
instance, removing its record) in a task of its own, on the event loop that committed it. A
failure is logged and tried again after a delay (1 s, doubling up to 60 s), so the instance is
never left half-destroyed while the daemon runs. :meth:`BackgroundDestroys.aclose` cancels
what is still under way: the records stay destroying, and the next daemon on the directory
resumes them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from instance_rpc.errors import PluginError

__all__ = ["FIRST_RETRY_SECONDS", "LAST_RETRY_SECONDS", "BackgroundDestroys"]

logger = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 1.0
LAST_RETRY_SECONDS = 60.0


class BackgroundDestroys:
    """The Destroys under way, by instance ID."""

    def __init__(self) -> None:
        self._done: dict[str, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def __contains__(self, instance_id: str) -> bool:
        return instance_id in self._done

    def __len__(self) -> int:
        return len(self._done)

    def start(self, instance_id: str, finish: Callable[[], Awaitable[None]]) -> asyncio.Event:
        """The event set once the Destroy of ``instance_id`` has finished; starts ``finish``
        (in a task, retried until it returns) unless one runs already. Call it on the loop.

        Raises :class:`PluginError` once :meth:`aclose` was called (the daemon is stopping).
        """
        done = self._done.get(instance_id)
        if done is not None:
            return done
        if self._closed:
            raise PluginError(
                f"the daemon is stopping: the Destroy of {instance_id} resumes at start"
            )
        done = self._done[instance_id] = asyncio.Event()
        task = asyncio.get_running_loop().create_task(self._run(instance_id, finish, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return done

    async def _run(
        self, instance_id: str, finish: Callable[[], Awaitable[None]], done: asyncio.Event
    ) -> None:
        delay = FIRST_RETRY_SECONDS
        try:
            while True:
                try:
                    await finish()
                    break
                except Exception:
                    logger.exception(
                        "the Destroy of %s failed; trying again in %gs", instance_id, delay
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, LAST_RETRY_SECONDS)
        finally:
            del self._done[instance_id]
            done.set()

    async def wait_all(self) -> None:
        """Return once no Destroy is under way (those started meanwhile included)."""
        while self._done:
            await next(iter(self._done.values())).wait()

    async def aclose(self) -> None:
        """Cancel the Destroys under way and refuse new ones; their records stay destroying."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
