"""Serving on sockets the service manager bound: socket activation.

:class:`ActivatedServer` is :class:`~instance_rpc.server.PluginServer`'s counterpart for sockets
passed in (see :func:`~instance_rpc.systemd.listen_sockets`): the same app, but nothing to bind,
claim or lock, and no socket file to remove. The manager created the files and keeps listening
on its own copies, so a call arriving while the daemon restarts waits in the backlog.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import TracebackType

from aiohttp import web

from .server import DEFAULT_MAX_BODY, DEFAULT_SHUTDOWN_TIMEOUT, create_app
from .service import InstanceService
from .systemd import InheritedSocket

__all__ = ["ActivatedServer"]

logger = logging.getLogger(__name__)


class ActivatedServer:
    """Serves an :class:`InstanceService` on inherited listening sockets until closed.

    Use as ``async with ActivatedServer(service, sockets): ...`` or :meth:`start` /
    :meth:`close`. Closing stops accepting on our copies of the sockets; it never removes a
    socket file.
    """

    def __init__(
        self,
        service: InstanceService,
        sockets: Sequence[InheritedSocket],
        *,
        max_body: int = DEFAULT_MAX_BODY,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
        metrics: bool = True,
    ) -> None:
        if not sockets:
            raise ValueError("an ActivatedServer needs at least one socket")
        self.service = service
        self.sockets = list(sockets)
        self._max_body = max_body
        self._shutdown_timeout = shutdown_timeout
        self._metrics = metrics
        self._runner: web.AppRunner | None = None

    @property
    def addresses(self) -> list[str]:
        """Where it listens: each socket's path (Unix) or ``host:port`` (TCP)."""
        return [inherited.address for inherited in self.sockets]

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("server already started")
        runner = web.AppRunner(
            create_app(self.service, max_body=self._max_body, metrics=self._metrics),
            handle_signals=False,
            access_log=None,
            shutdown_timeout=self._shutdown_timeout,
        )
        await runner.setup()
        try:
            for inherited in self.sockets:
                await web.SockSite(runner, inherited.socket).start()
                logger.info("serving inherited socket %s (%s)", inherited.address, inherited.name)
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def remove_socket(self) -> None:
        """Nothing to remove: the service manager owns the socket files."""

    async def __aenter__(self) -> ActivatedServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
