"""The daemon's life: the app (:mod:`instance_rpc.app`) on a Unix socket, from bind to removal.

Besides the Unix socket, a server may listen on TCP (plain or HTTPS, see
:mod:`instance_rpc.remote_access`); every connection on every listener is held to the limits of
:mod:`instance_rpc.connection_limits`, and malformed HTTP is refused as
:mod:`instance_rpc.http_errors` says.

:class:`PluginServer` refuses to start over a live daemon's socket, removes a stale one, never
removes anything that is not a socket, and removes its own socket when it closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from types import TracebackType

from .app import DEFAULT_MAX_BODY, create_app, documents
from .connection_limits import DEFAULT_LIMITS, ConnectionLimits, RefusalHook
from .listeners import bind_unix
from .remote_access import RemoteAccess
from .service import InstanceService
from .serving import DEFAULT_SHUTDOWN_TIMEOUT, Serving
from .unix_socket import (
    AddressInUse,
    PathLock,
    claim_path,
    make_parents,
    probe_socket,
    remove_directories,
    set_socket_owner_and_mode,
)

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "DEFAULT_SOCKET_MODE",
    "AddressInUse",
    "PluginServer",
    "create_app",
    "documents",
    "probe_socket",
]

logger = logging.getLogger(__name__)

DEFAULT_SOCKET_MODE = 0o600
"""Only the daemon's user may connect: whoever reaches the socket can create and destroy."""


class PluginServer:
    """Serves an :class:`InstanceService` on a Unix socket until closed.

    Use as ``async with PluginServer(service, path): ...`` or call :meth:`start` / :meth:`close`.
    """

    def __init__(
        self,
        service: InstanceService,
        socket_path: str | os.PathLike[str],
        *,
        socket_mode: int = DEFAULT_SOCKET_MODE,
        socket_group: str | int | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
        remote: RemoteAccess | None = None,
        limits: ConnectionLimits = DEFAULT_LIMITS,
        on_refusal: RefusalHook | None = None,
        metrics: bool = True,
    ) -> None:
        self.service = service
        self.socket_path = Path(socket_path)
        self._socket_mode = socket_mode
        self._socket_group = socket_group
        self._serving = Serving(
            service,
            max_body=max_body,
            shutdown_timeout=shutdown_timeout,
            limits=limits,
            on_refusal=on_refusal,
            metrics=metrics,
        )
        self._started = False
        self._lock = PathLock(self.socket_path)
        self._identity: tuple[int, int] | None = None
        self.remote = remote if remote is not None else RemoteAccess([])
        self.limits = limits

    async def start(self) -> None:
        """Claim the path, bind and listen. On any failure nothing is left: no socket, no lock,
        no directory this call created. Raises :class:`AddressInUse`, ``OSError`` (a path that
        cannot be bound, ``chown`` or ``chmod`` refused) or ``LookupError`` (no such group)."""
        if self._started:
            raise RuntimeError("server already started")
        created = make_parents(self.socket_path.parent)
        try:
            self._lock.acquire()
            try:
                await self._bind()
            except BaseException:
                self._lock.release()
                raise
        except BaseException:
            remove_directories(created)
            raise
        self._started = True
        logger.debug("bound %s", self.socket_path)

    async def _bind(self) -> None:
        claim_path(self.socket_path)
        serving = self._serving
        runner = await serving.setup(self.remote.warnings)
        try:
            previous_umask = os.umask(0o177)  # no moment at which others may connect
            try:
                sock = bind_unix(self.socket_path)
            finally:
                os.umask(previous_umask)
            status = self.socket_path.stat()
            self._identity = (status.st_dev, status.st_ino)
            await serving.serve_socket(sock, str(self.socket_path))
            set_socket_owner_and_mode(
                self.socket_path, self._identity, self._socket_group, self._socket_mode
            )
            await self.remote.start(runner, serving.pool, serving.protocol, self.socket_path)
        except BaseException:
            self.remote.withdraw()
            try:
                await serving.cleanup()
            finally:
                self.remove_socket()
            raise

    async def close(self) -> None:
        if not self._started:
            return
        self._started = False
        self.remote.withdraw()
        try:
            await self._serving.cleanup()
        finally:
            self.remove_socket()
            self._lock.release()

    def reload(self) -> bool:
        """Reload the TCP listeners' TLS certificate, key and client CA (on SIGHUP); see
        :meth:`RemoteAccess.reload`. True when reloaded."""
        return self.remote.reload()

    def remove_socket(self) -> None:
        """Unlink the socket only if it is still the one we bound (not a successor's)."""
        with contextlib.suppress(FileNotFoundError):
            status = self.socket_path.lstat()
            if (status.st_dev, status.st_ino) == self._identity:
                self.socket_path.unlink()

    async def serve_until(self, stop: asyncio.Event) -> None:
        """Start, wait for ``stop`` to be set, then close."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.close()

    async def __aenter__(self) -> PluginServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
