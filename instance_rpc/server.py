"""The HTTP side: an aiohttp app on a Unix socket, and the socket's life from bind to removal.

- ``POST`` to any path: a JSON-RPC 2.0 request or batch (Go clients post to ``/``).
- ``GET`` / ``HEAD`` of a document (:func:`documents`): ``/info/api.json``, the plugin's spec, and
  ``/metrics``, Prometheus metrics (see :mod:`instance_rpc.metrics`) unless turned off.
- Any other method, or ``GET`` / ``HEAD`` of a path that is no document: ``405`` with an
  ``Allow`` header naming what the path takes (RFC 9110 section 15.5.6), and a JSON-RPC error body.

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
import errno
import hashlib
import logging
import os
import shutil
import socket
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import msgspec
from aiohttp import web

from .connection_limits import DEFAULT_LIMITS, ConnectionLimits, ConnectionPool, RefusalHook
from .errors import INTERNAL_ERROR, INVALID_REQUEST, InstanceRPCError
from .http_errors import RateLimitedLog, RequestHandler
from .listeners import GuardedSite, bind_unix
from .logs import redact
from .metrics import METRICS_KEY, METRICS_PATH, Metrics
from .remote_access import RemoteAccess
from .service import InstanceService

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "DEFAULT_SOCKET_MODE",
    "AddressInUse",
    "PluginServer",
    "create_app",
    "documents",
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


def documents(
    service: InstanceService,
    info_warnings: list[str] | None = None,
    metrics: Metrics | None = None,
) -> dict[str, Callable[[], web.Response]]:
    """The documents the daemon serves to ``GET`` and ``HEAD``: path -> a function of the answer.

    Every path takes ``POST`` (JSON-RPC); these paths take ``GET`` and ``HEAD`` too.
    ``info_warnings`` are added to the spec document as ``Warnings`` (Go clients ignore them);
    ``metrics``, when given, is served at ``/metrics``.
    """
    info_body = with_warnings(service.info_bytes(), info_warnings or [])
    served: dict[str, Callable[[], web.Response]] = {INFO_PATH: lambda: _json_response(info_body)}
    if metrics is not None:
        served[METRICS_PATH] = metrics.response
    return served


def create_app(
    service: InstanceService,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    body_timeout: float = DEFAULT_LIMITS.body_timeout,
    info_warnings: list[str] | None = None,
    metrics: bool = True,
) -> web.Application:
    """The aiohttp application serving ``service``; with ``metrics``, its own :class:`Metrics`
    (``app[METRICS_KEY]``) counts every call and refusal and is served at ``GET /metrics``.

    Every answer, refusals included, is a JSON-RPC response body: clients never have to parse
    an HTML error page. A body not received within ``body_timeout`` seconds gets HTTP 408.
    ``info_warnings`` are added to the spec document as ``Warnings`` (Go clients ignore them).
    """
    counted = (
        Metrics(methods=service.method_names, types=service.type_names, backends=service.backends)
        if metrics
        else None
    )
    served = documents(service, info_warnings, counted)
    known = ", ".join(served)

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
            async with asyncio.timeout(body_timeout):
                body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            message = f"invalid request: body larger than the limit of {max_body} bytes"
            return refuse("body_too_large", 413, message)
        except TimeoutError:
            message = f"invalid request: body not received within {body_timeout:g}s"
            response = refuse("body_timeout", 408, message)
            response.force_close()
            return response
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
        document = served.get(request.path)
        if document is not None and request.method in ("GET", "HEAD"):
            return document()
        allowed = "GET, HEAD, POST" if document is not None else "POST"
        if request.method in ("GET", "HEAD"):
            message = (
                f"{request.method} {request.path}: no such document (documents: {known});"
                " POST JSON-RPC requests to any path"
            )
        else:
            message = f"method {request.method} not allowed on {request.path}; allowed: {allowed}"
        answer = refuse("method_not_allowed", 405, message)
        answer.headers["Allow"] = allowed
        return answer

    app = web.Application(client_max_size=max_body)
    app[METRICS_KEY] = counted
    app.router.add_route("*", "/{path:.*}", route)
    return app


def with_warnings(info_body: bytes, warnings: list[str]) -> bytes:
    """The spec document with a ``Warnings`` member listing ``warnings`` (none: unchanged)."""
    if not warnings:
        return info_body
    document = msgspec.json.decode(info_body)
    document["Warnings"] = warnings
    return msgspec.json.encode(document)


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


def _make_parents(directory: Path) -> list[Path]:
    """Create ``directory`` and missing parents (mode 0700); return those created, deepest first."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        if directory.parent == directory:
            break
        directory = directory.parent
    created: list[Path] = []
    try:
        for path in reversed(missing):
            path.mkdir(mode=0o700)
            created.insert(0, path)
    except OSError:
        _remove_directories(created)
        raise
    return created


def _remove_directories(directories: list[Path]) -> None:
    """Remove the (empty) directories we created, deepest first; one in use is left."""
    for directory in directories:
        with contextlib.suppress(OSError):
            directory.rmdir()


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
        remote: RemoteAccess | None = None,
        limits: ConnectionLimits = DEFAULT_LIMITS,
        on_refusal: RefusalHook | None = None,
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
        self.remote = remote if remote is not None else RemoteAccess([])
        self.limits = limits
        self._on_refusal = on_refusal
        self._counted: Metrics | None = None
        self._pool = ConnectionPool(limits, self._refused)
        self._refusal_log = RateLimitedLog()

    def _refused(self, reason: str) -> None:
        """A connection or request refused below the app (limits, malformed HTTP): counted in
        the metrics and passed to the ``on_refusal`` hook."""
        if self._counted is not None:
            self._counted.refused(reason)
        if self._on_refusal is not None:
            self._on_refusal(reason)

    async def start(self) -> None:
        """Claim the path, bind and listen. On any failure nothing is left: no socket, no lock,
        no directory this call created. Raises :class:`AddressInUse`, ``OSError`` (a path that
        cannot be bound, ``chown`` or ``chmod`` refused) or ``LookupError`` (no such group)."""
        if self._runner is not None:
            raise RuntimeError("server already started")
        created = _make_parents(self.socket_path.parent)
        try:
            self._lock.acquire()
            try:
                await self._bind()
            except BaseException:
                self._lock.release()
                raise
        except BaseException:
            _remove_directories(created)
            raise
        logger.debug("bound %s", self.socket_path)

    async def _bind(self) -> None:
        _claim_path(self.socket_path)
        app = create_app(
            self.service,
            max_body=self._max_body,
            body_timeout=self.limits.body_timeout,
            info_warnings=self.remote.warnings,
            metrics=self._metrics,
        )
        self._counted = app[METRICS_KEY]
        app.middlewares.append(self._pool.middleware())
        runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=self._shutdown_timeout
        )
        await runner.setup()
        try:
            previous_umask = os.umask(0o177)  # no moment at which others may connect
            try:
                sock = bind_unix(self.socket_path)
            finally:
                os.umask(previous_umask)
            status = self.socket_path.stat()
            self._identity = (status.st_dev, status.st_ino)
            protocol = self._protocol_factory(runner)
            site = GuardedSite(
                runner, sock, pool=self._pool, protocol=protocol, name=str(self.socket_path)
            )
            await site.start()
            if self._socket_group is not None:
                group = self._socket_group
                numeric = isinstance(group, str) and group.isdigit()
                shutil.chown(self.socket_path, group=int(group) if numeric else group)
            os.chmod(self.socket_path, self._socket_mode)
            await self.remote.start(runner, self._pool, protocol, self.socket_path)
        except BaseException:
            self.remote.withdraw()
            try:
                await runner.cleanup()
            finally:
                self._pool.abort_all()
                self.remove_socket()
            raise
        self._runner = runner

    def _protocol_factory(self, runner: web.AppRunner) -> Callable[[], web.RequestHandler]:
        """aiohttp's protocol for each new connection, refusing malformed HTTP our way."""
        manager = runner.server
        assert manager is not None  # set up by runner.setup()
        loop = asyncio.get_running_loop()

        def protocol() -> web.RequestHandler:
            return RequestHandler(
                manager,
                loop=loop,
                service=self.service,
                refusal_log=self._refusal_log,
                on_refusal=self._refused,
                keepalive_timeout=self.limits.idle_timeout,
                access_log=None,
            )

        return protocol

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self.remote.withdraw()
        try:
            await runner.cleanup()
            self._pool.abort_all()
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
