"""Serving on sockets the service manager bound: socket activation.

:class:`ActivatedServer` is :class:`~instance_rpc.server.PluginServer`'s counterpart for sockets
passed in (see :func:`~instance_rpc.systemd.listen_sockets`): the same app, but nothing to bind,
claim or lock, and no socket file to remove. The manager created the files and keeps listening
on its own copies, so a call arriving while the daemon restarts waits in the backlog. Every
connection is held to the same limits as on a socket the daemon binds itself (:mod:`.serving`).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from types import TracebackType

from .app import DEFAULT_MAX_BODY
from .caller_policy import ListenerPolicy, plain_http_policy
from .connection_limits import DEFAULT_LIMITS, ConnectionLimits, RefusalHook
from .listeners import ListenAddress, check_plain_tcp
from .service import InstanceService
from .serving import DEFAULT_SHUTDOWN_TIMEOUT, Serving
from .systemd import InheritedSocket

__all__ = ["ActivatedServer"]

logger = logging.getLogger(__name__)


class ActivatedServer:
    """Serves an :class:`InstanceService` on inherited listening sockets until closed.

    Use as ``async with ActivatedServer(service, sockets): ...`` or :meth:`start` /
    :meth:`close`. Closing stops accepting on our copies of the sockets; it never removes a
    socket file. An inherited TCP socket serves plain HTTP under the rules of a ``--listen``
    one (:mod:`instance_rpc.caller_policy`): ``insecure`` and ``allow_hosts`` are
    ``--insecure-listen`` and ``--allow-host``; one beyond loopback without ``insecure`` raises
    :class:`~instance_rpc.listeners.InsecureListener` when made.
    """

    def __init__(
        self,
        service: InstanceService,
        sockets: Sequence[InheritedSocket],
        *,
        max_body: int = DEFAULT_MAX_BODY,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
        limits: ConnectionLimits = DEFAULT_LIMITS,
        on_refusal: RefusalHook | None = None,
        metrics: bool = True,
        insecure: bool = False,
        allow_hosts: Sequence[str] = (),
    ) -> None:
        if not sockets:
            raise ValueError("an ActivatedServer needs at least one socket")
        self.service = service
        self.sockets = list(sockets)
        self._policies: dict[int, ListenerPolicy] = {}
        self.warnings: list[str] = []
        for inherited in self.sockets:
            if inherited.socket.family in (socket.AF_INET, socket.AF_INET6):
                bound = ListenAddress(*inherited.socket.getsockname()[:2])
                warning = check_plain_tcp(bound, secure=False, insecure=insecure)
                if warning is not None:
                    self.warnings.append(warning)
                policy = plain_http_policy(bound, insecure=insecure, allow_hosts=allow_hosts)
                self._policies[inherited.socket.fileno()] = policy
        self._serving = Serving(
            service,
            max_body=max_body,
            shutdown_timeout=shutdown_timeout,
            limits=limits,
            on_refusal=on_refusal,
            metrics=metrics,
        )
        self._started = False

    @property
    def addresses(self) -> list[str]:
        """Where it listens: each socket's path (Unix) or ``host:port`` (TCP)."""
        return [inherited.address for inherited in self.sockets]

    async def start(self) -> None:
        """Serve every inherited socket, each connection behind the same limits as
        :class:`~instance_rpc.server.PluginServer`'s."""
        if self._started:
            raise RuntimeError("server already started")
        await self._serving.setup(self.warnings)
        try:
            for inherited in self.sockets:
                policy = self._policies.get(inherited.socket.fileno())
                await self._serving.serve_socket(inherited.socket, inherited.address, policy)
                logger.info("serving inherited socket %s (%s)", inherited.address, inherited.name)
        except BaseException:
            await self._serving.cleanup()
            raise
        for warning in self.warnings:
            logger.warning("%s", warning)
        self._started = True

    async def close(self) -> None:
        if self._started:
            self._started = False
            await self._serving.cleanup()

    def reload(self) -> bool:
        """Nothing to reload (inherited sockets serve no TLS): False."""
        logger.info("reload: no TLS certificate to reload")
        return False

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
