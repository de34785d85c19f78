"""The HTTP side: an aiohttp app on a Unix socket, and the socket's life from bind to removal.

- ``POST`` to any path: a JSON-RPC 2.0 request or batch (Go clients post to ``/``).
- ``GET /info/api.json``: the plugin's spec document.
- ``GET /metrics``: Prometheus metrics (see :mod:`instance_rpc.metrics`), unless turned off.

:class:`PluginServer` refuses to start over a live daemon's socket, removes a stale one, never
removes anything that is not a socket, and removes its own socket when it closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import os
import shutil
import socket
import stat
import sys
from pathlib import Path
from types import TracebackType

from aiohttp import web

from .errors import INTERNAL_ERROR, INVALID_REQUEST, InstanceRPCError
from .logs import redact
from .metrics import METRICS_KEY, METRICS_PATH, Metrics
from .service import InstanceService

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "DEFAULT_SOCKET_MODE",
    "AddressInUse",
    "PluginServer",
    "create_app",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 16 * 1024 * 1024
"""Largest request body accepted: a Provision with large Properties fits, a flood does not."""

DEFAULT_SOCKET_MODE = 0o600
"""Only the daemon's user may connect: whoever reaches the socket can create and destroy."""

DEFAULT_SHUTDOWN_TIMEOUT = 10.0
"""Seconds in-flight calls get to finish once the server is asked to stop."""

_JSON = "application/json"
INFO_PATH = "/info/api.json"

ACCEPTED_CONTENT_TYPES = frozenset(
    {"application/json", "application/json-rpc", "application/jsonrequest"}
)
"""Request content types taken as JSON; a request without a Content-Type is taken too."""


class AddressInUse(InstanceRPCError):
    """The socket path is taken: a live daemon answers there, or it is not a socket."""


def _json_response(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type=_JSON)


def _error_response(service: InstanceService, status: int, message: str) -> web.Response:
    return _json_response(service.error_body(INVALID_REQUEST, message), status=status)


def create_app(
    service: InstanceService, *, max_body: int = DEFAULT_MAX_BODY, metrics: bool = True
) -> web.Application:
    """The aiohttp application serving ``service``; with ``metrics``, its own :class:`Metrics`
    (``app[METRICS_KEY]``) counts every call and refusal and is served at ``GET /metrics``.

    Every answer, refusals included, is a JSON-RPC response body: clients never have to parse
    an HTML error page.
    """
    info_body = service.info_bytes()
    counted = (
        Metrics(methods=service.method_names, types=service.type_names, backends=service.backends)
        if metrics
        else None
    )

    def refuse(reason: str, status: int, message: str) -> web.Response:
        if counted is not None:
            counted.refused(reason)
        return _error_response(service, status, message)

    async def rpc(request: web.Request) -> web.Response:
        if request.content_type not in ACCEPTED_CONTENT_TYPES and request.headers.get(
            "Content-Type"
        ):
            message = f"unsupported Content-Type {request.content_type!r}; send application/json"
            return refuse("unsupported_media_type", 415, message)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            message = f"invalid request: body larger than the limit of {max_body} bytes"
            return refuse("body_too_large", 413, message)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("<- %s", redact(body.decode(errors="replace")))
        try:
            answer = await service.handle(body, counted)
        except Exception:
            logger.exception("unexpected failure answering a request")
            answer = service.error_body(INTERNAL_ERROR, "internal error")
        if answer is None:
            return web.Response(status=204)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("-> %s", redact(answer.decode(errors="replace")))
        return _json_response(answer)

    async def route(request: web.Request) -> web.Response:
        if request.method == "POST":
            return await rpc(request)
        if request.method in ("GET", "HEAD"):
            if request.path == INFO_PATH:
                return _json_response(info_body)
            if request.path == METRICS_PATH and counted is not None:
                return counted.response()
            return refuse("not_found", 404, f"no such document: {request.path}")
        message = f"method {request.method} not allowed: POST JSON-RPC, or GET {INFO_PATH}"
        return refuse("method_not_allowed", 405, message)

    app = web.Application(client_max_size=max_body)
    app[METRICS_KEY] = counted
    app.router.add_route("*", "/{path:.*}", route)
    return app


def probe_socket(path: Path) -> bool:
    """True if a process accepts connections on the Unix socket at ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            return False
        except OSError as exc:
            logger.debug("probe of %s: %s", path, exc)
            return False
        return True


def _claim_path(path: Path) -> None:
    """Make ``path`` free to bind, or raise :class:`AddressInUse` leaving it untouched."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise AddressInUse(f"{path} exists and is not a socket; refusing to replace it")
    if probe_socket(path):
        raise AddressInUse(f"another daemon is already listening on {path}")
    logger.warning("removing stale socket %s", path)
    path.unlink(missing_ok=True)


class _PathLock:
    """Held while a daemon owns a socket path, so two daemons starting at once cannot both claim it.

    An abstract Unix socket (Linux): no file to leave behind, released by the kernel when the
    process dies, even by SIGKILL. Where abstract sockets do not exist the probe alone guards.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:40]
        self._name = f"\0instance-rpc-lock-{digest}"
        self._socket: socket.socket | None = None

    def acquire(self) -> None:
        if not sys.platform.startswith("linux"):
            return
        lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            lock.bind(self._name)
        except OSError as exc:
            lock.close()
            if exc.errno == errno.EADDRINUSE:
                raise AddressInUse(f"another daemon is already serving {self._path}") from None
            raise
        self._socket = lock

    def release(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


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
        metrics: bool = True,
    ) -> None:
        self.service = service
        self.socket_path = Path(socket_path)
        self._socket_mode = socket_mode
        self._socket_group = socket_group
        self._max_body = max_body
        self._shutdown_timeout = shutdown_timeout
        self._metrics = metrics
        self._runner: web.AppRunner | None = None
        self._lock = _PathLock(self.socket_path)
        self._identity: tuple[int, int] | None = None

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("server already started")
        parent = self.socket_path.parent
        if not parent.exists():
            parent.mkdir(mode=0o700, parents=True)
        self._lock.acquire()
        try:
            await self._bind()
        except BaseException:
            self._lock.release()
            raise
        logger.info("listening on %s", self.socket_path)

    async def _bind(self) -> None:
        _claim_path(self.socket_path)
        runner = web.AppRunner(
            create_app(self.service, max_body=self._max_body, metrics=self._metrics),
            handle_signals=False,
            access_log=None,
            shutdown_timeout=self._shutdown_timeout,
        )
        await runner.setup()
        try:
            previous_umask = os.umask(0o177)  # no moment at which others may connect
            try:
                await web.UnixSite(runner, str(self.socket_path)).start()
            finally:
                os.umask(previous_umask)
            if self._socket_group is not None:
                group = self._socket_group
                numeric = isinstance(group, str) and group.isdigit()
                shutil.chown(self.socket_path, group=int(group) if numeric else group)
            os.chmod(self.socket_path, self._socket_mode)
            status = self.socket_path.stat()
            self._identity = (status.st_dev, status.st_ino)
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        try:
            await runner.cleanup()
        finally:
            self.remove_socket()
            self._lock.release()

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
