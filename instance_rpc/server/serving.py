"""What every listener of one daemon shares: the app, its runner, the connection limits.

:class:`PluginServer` (a Unix socket it binds, plus TCP listeners) and :class:`ActivatedServer`
(sockets a service manager passed in) both serve through a :class:`Serving`: one
:class:`.app.AppHandler` on aiohttp's low-level server (no router, no middleware
chain: every request goes to the one handler) and its runner, one
:class:`.connection_limits.ConnectionPool` over all their connections, malformed HTTP
refused as :mod:`.http_errors` says, and every refusal counted in the app's metrics
and passed to an ``on_refusal`` hook.
"""

from __future__ import annotations

import asyncio
import socket
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import Self

from aiohttp import web

from ..observability.metrics import Metrics
from ..rpc.service import InstanceService
from .app import DEFAULT_MAX_BODY, AppHandler, create_request_factory
from .byte_budget import ByteBudget
from .caller_policy import ListenerPolicy, checked_protocol
from .connection_limits import DEFAULT_LIMITS, ConnectionLimits, ConnectionPool, RefusalHook
from .http_errors import RateLimitedLog, RequestHandler
from .listeners import GuardedSite

__all__ = ["DEFAULT_SHUTDOWN_TIMEOUT", "Lifecycle", "Serving"]

DEFAULT_SHUTDOWN_TIMEOUT = 10.0
"""Seconds in-flight calls get to finish once the server is asked to stop."""


class Lifecycle(ABC):
    """A server's life: :meth:`start` and :meth:`close`, also as ``async with``, and
    :meth:`serve_until` an event."""

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    async def serve_until(self, stop: asyncio.Event) -> None:
        """Start, wait for ``stop`` to be set, then close."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


_LINGERING_TIME = 1.0
"""Seconds the rest of a refused body (413, 408) is read and dropped before the connection
closes, so that its answer is not lost to a reset (aiohttp's default: 10)."""


class Serving:
    """The app of ``service`` and everything its listeners share, from :meth:`setup` to
    :meth:`cleanup`.

    ``limits`` bound every connection (timeouts, caps); ``on_refusal`` is called with the
    reason of each connection or request refused below the app (``"malformed_http"``,
    ``"header_timeout"``, ``"connection_limit"``, ...); ``metrics`` serves ``GET /metrics``.
    """

    def __init__(
        self,
        service: InstanceService,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
        limits: ConnectionLimits = DEFAULT_LIMITS,
        on_refusal: RefusalHook | None = None,
        metrics: bool = True,
    ) -> None:
        if max_body > limits.max_buffered_bytes:
            raise ValueError(
                f"max_body {max_body} exceeds max_buffered_bytes {limits.max_buffered_bytes}"
            )
        self.service = service
        self.limits = limits
        self._refusal_log = RateLimitedLog()
        self.budget = ByteBudget(limits.max_buffered_bytes)
        self.pool = ConnectionPool(limits, self.refused, self._refusal_log)
        self._max_body = max_body
        self._shutdown_timeout = shutdown_timeout
        self._on_refusal = on_refusal
        self._metrics = metrics
        self._counted: Metrics | None = None
        self._runner: web.ServerRunner | None = None
        self._protocol: Callable[[], web.RequestHandler] | None = None

    def refused(self, reason: str) -> None:
        """A connection or request refused below the app: counted in the metrics and passed to
        the ``on_refusal`` hook."""
        if self._counted is not None:
            self._counted.refused(reason)
        if self._on_refusal is not None:
            self._on_refusal(reason)

    @property
    def runner(self) -> web.ServerRunner:
        """The app's runner; ``RuntimeError`` before :meth:`setup`."""
        if self._runner is None:
            raise RuntimeError("not set up")
        return self._runner

    @property
    def protocol(self) -> Callable[[], web.RequestHandler]:
        """aiohttp's protocol for each new connection, refusing malformed HTTP our way."""
        if self._protocol is None:
            raise RuntimeError("not set up")
        return self._protocol

    async def setup(self, info_warnings: list[str] | None = None) -> web.ServerRunner:
        """Build the app (its spec document carrying ``info_warnings``) and its runner."""
        if self._runner is not None:
            raise RuntimeError("already set up")
        handler = AppHandler(
            self.service,
            max_body=self._max_body,
            info_warnings=info_warnings,
            metrics=self._metrics,
            limits=self.limits,
            budget=self.budget,
            refusal_log=self._refusal_log,
        )
        self._counted = handler.metrics
        server = web.Server(handler, request_factory=create_request_factory(self._max_body))
        runner = web.ServerRunner(
            server, handle_signals=False, shutdown_timeout=self._shutdown_timeout
        )
        await runner.setup()
        self._runner = runner
        self._protocol = self._protocol_factory(runner)
        return runner

    async def serve_socket(
        self, sock: socket.socket, name: str, policy: ListenerPolicy | None = None
    ) -> None:
        """Serve on the listening socket ``sock`` (``name`` for logs), every connection
        behind the limits and, for a TCP socket, the listener's ``policy``."""
        protocol = self.protocol if policy is None else checked_protocol(self.protocol, policy)
        site = GuardedSite(self.runner, sock, pool=self.pool, protocol=protocol, name=name)
        await site.start()

    async def cleanup(self) -> None:
        """Stop accepting, let calls in flight finish (up to ``shutdown_timeout``), then drop
        every connection left."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        try:
            await runner.cleanup()
        finally:
            self.pool.abort_all()

    def _protocol_factory(self, runner: web.ServerRunner) -> Callable[[], web.RequestHandler]:
        manager = runner.server
        assert manager is not None  # set up by runner.setup()
        loop = asyncio.get_running_loop()

        def protocol() -> web.RequestHandler:
            return RequestHandler(
                manager,
                loop=loop,
                service=self.service,
                refusal_log=self._refusal_log,
                on_refusal=self.refused,
                keepalive_timeout=self.limits.idle_timeout,
                lingering_time=_LINGERING_TIME,
                access_log=None,
            )

        return protocol
