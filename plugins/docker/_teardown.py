"""Destroys of the ``docker`` backend, committed on the engine and finished in the background.

The contract (the process backend keeps the same one):

- A Destroy answers once the instance is *committed* to being destroyed: the container is renamed
  to :func:`marker_name` (``irpc-destroying-<container ID>``), which the engine keeps across
  restarts of either daemon. From then on it is not described, and Label does not find it.
- The graceful stop (SIGTERM, SIGKILL after ``StopTimeout`` seconds) and the removal (with
  anonymous volumes) go on in the background: a task per container, in :class:`Teardowns`.
- A Destroy of a container already renamed joins (answers OK at once); once it is removed, a
  Destroy says instance not found.
- A daemon that stops (or dies) leaves renamed containers behind: whoever lists them
  (:meth:`Teardowns.resume`, called at start-up and by every DescribeInstances) finishes them.
- A Provision of the same LogicalID waits for the old container's teardown
  (:meth:`Teardowns.wait_logical_id`, bounded by the engine timeout) and then makes a new one.

A container the engine removes by itself (``HostConfig.AutoRemove``) once stopped is done when
the engine says it is gone (404) or already being removed (409, then gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from instance_rpc.errors import PluginError

from ._engine import Engine, EngineError
from ._labels import LOGICAL_ID
from ._spec import provisioned_stop_timeout

__all__ = ["MARKER_PREFIX", "Teardowns", "container_name", "marker_name"]

logger = logging.getLogger("instance_rpc_plugins.docker")

MARKER_PREFIX = "irpc-destroying-"
"""A container named ``MARKER_PREFIX + its own ID`` is committed to being destroyed."""

_POLL_SECONDS = 0.05


def marker_name(container_id: str) -> str:
    """The name a container takes when a Destroy commits to it (its ID makes it unique)."""
    return MARKER_PREFIX + container_id


def container_name(listed_or_shown: dict[str, Any]) -> str:
    """The container's name without ``/``: from a list's ``Names`` or an inspect's ``Name``."""
    names = listed_or_shown.get("Names")
    if isinstance(names, list) and names:
        return str(names[0]).lstrip("/")
    return str(listed_or_shown.get("Name") or "").lstrip("/")


def committed(container: dict[str, Any]) -> bool:
    """Whether a listed or inspected container is committed to being destroyed."""
    return container_name(container) == marker_name(str(container.get("Id", "")))


class Teardowns:
    """The background stops and removals of one backend; ``forget(container_id)`` is called
    (awaited) once a container is gone (the label overlay's entry, say)."""

    def __init__(self, engine: Engine, forget: Callable[[str], Any]) -> None:
        self._engine = engine
        self._forget = forget
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._logical: dict[str, str] = {}  # container ID -> its LogicalID

    def running(self, container_id: str) -> bool:
        return container_id in self._tasks

    async def commit(self, container_id: str) -> bool:
        """Rename the container to its marker. True if it is now committed (by this call or
        another one); False if the engine no longer has it."""
        try:
            await self._engine.rename(container_id, marker_name(container_id))
            return True
        except EngineError as exc:
            if exc.status == 404:
                return False
            refused = exc
        # A concurrent Destroy renamed it first, or the engine is removing it (AutoRemove).
        try:
            shown = await self._engine.inspect(container_id)
        except EngineError as exc:
            if exc.status == 404:
                return False
            raise
        state = (shown.get("State") or {}).get("Status")
        if committed(shown) or state == "removing":
            return True
        raise refused

    def start(self, container_id: str, stop_timeout: int, logical_id: str | None) -> None:
        """Stop and remove the container in the background (once; a second call joins)."""
        if container_id in self._tasks:
            return
        if logical_id is not None:
            self._logical[container_id] = logical_id
        task = asyncio.get_running_loop().create_task(self._run(container_id, stop_timeout))
        self._tasks[container_id] = task
        task.add_done_callback(lambda _: self._done(container_id))

    def _done(self, container_id: str) -> None:
        self._tasks.pop(container_id, None)
        self._logical.pop(container_id, None)

    def resume(self, listed: Iterable[dict[str, Any]]) -> None:
        """Start the teardown of every listed container that is committed and not being torn
        down here (left by a daemon that stopped, or by a failed attempt)."""
        for container in listed:
            container_id = str(container.get("Id", ""))
            if container_id in self._tasks or not committed(container):
                continue
            labels = container.get("Labels") or {}
            logger.info("resuming the destroy of %s", container_id[:12])
            self.start(container_id, _stop_timeout(container), labels.get(LOGICAL_ID))

    async def wait_logical_id(self, logical_id: str, deadline: float) -> None:
        """Until no teardown of a container of ``logical_id`` runs here; PluginError at
        ``deadline`` (``time.monotonic()``)."""
        while True:
            pending = [
                self._tasks[cid]
                for cid, lid in list(self._logical.items())
                if lid == logical_id and cid in self._tasks
            ]
            if not pending:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PluginError(
                    f"LogicalID {logical_id!r}: the previous container is still being destroyed;"
                    " try again"
                )
            await asyncio.wait(pending, timeout=remaining)

    async def _run(self, container_id: str, seconds: int) -> None:
        try:
            await self._stop_and_remove(container_id, seconds)
            await self._forget(container_id)
            logger.info("destroyed %s", container_id[:12])
        except EngineError as exc:  # the container keeps its marker: resumed by a later list
            logger.warning("destroy of %s not finished: %s", container_id[:12], exc.message)
        except Exception:  # the overlay's file, say: logged here, as no caller waits for it
            logger.exception("destroy of %s failed", container_id[:12])

    async def _stop_and_remove(self, container_id: str, seconds: int) -> None:
        try:
            await self._engine.stop(container_id, seconds)
        except EngineError as exc:
            if exc.status == 404:
                return  # removed by the engine already (AutoRemove)
            if exc.status != 304:  # 304: not running
                raise
        try:
            await self._engine.remove(container_id)
            return
        except EngineError as exc:
            if exc.status == 404:
                return
            if exc.status != 409:  # 409: being removed already (AutoRemove)
                raise
        deadline = time.monotonic() + self._engine.timeout
        while time.monotonic() < deadline:
            try:
                await self._engine.inspect(container_id)
            except EngineError as exc:
                if exc.status == 404:
                    return
                raise
            await asyncio.sleep(_POLL_SECONDS)
        await self._engine.remove(container_id)  # the engine's removal stalled: once more

    async def aclose(self) -> None:
        """Cancel the teardowns running here: they are committed on the engine, and resumed
        by the next daemon that lists them."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _stop_timeout(container: dict[str, Any]) -> int:
    """The grace of a listed container: its Properties' ``StopTimeout`` as provisioned."""
    return provisioned_stop_timeout(container.get("Labels") or {})
