"""The HTTP app: what each request to the daemon gets, on any listener (:class:`AppHandler`).

- ``POST`` to any path: a JSON-RPC 2.0 request or batch (Go clients post to ``/``).
- ``GET`` / ``HEAD`` of a document (:func:`documents`): ``/info/api.json``, the plugin's spec,
  ``/info/functions.json``, the Go template functions it exports (none: ``{}``), and
  ``/metrics``, Prometheus metrics (see :mod:`instance_rpc.metrics`) unless turned off.
- Any other method, or ``GET`` / ``HEAD`` of a path that is no document: ``405`` with an
  ``Allow`` header naming what the path takes (RFC 9110 section 15.5.6), and a JSON-RPC error body.
- On a TCP listener, first: ``403`` or ``415`` for a caller or request its
  :class:`~instance_rpc.caller_policy.ListenerPolicy` refuses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import msgspec
from aiohttp import hdrs, web

from ..errors import INTERNAL_ERROR, INVALID_REQUEST
from ..observability.logs import redact
from ..observability.metrics import METRICS_KEY, METRICS_PATH, Metrics
from ..rpc.service import InstanceService
from ..rpc.streaming import StreamedAnswer
from .body_reading import BodyRefused, read_body
from .byte_budget import ByteBudget
from .caller_policy import CallerCheck
from .connection_limits import DEFAULT_LIMITS, ConnectionGuard, ConnectionLimits
from .rate_limited_log import RateLimitedLog
from .streamed_response import SMALL_ANSWER, send_large, send_streamed

__all__ = [
    "ACCEPTED_CONTENT_TYPES",
    "DEFAULT_MAX_BODY",
    "FUNCTIONS_PATH",
    "INFO_PATH",
    "AppHandler",
    "create_app",
    "create_request_factory",
    "documents",
    "with_warnings",
]

# The server's logger name, which log configurations filter on, from before the split.
logger = logging.getLogger("instance_rpc.server")

DEFAULT_MAX_BODY = 16 * 1024 * 1024
"""Largest request body accepted: a Provision with large Properties fits, a flood does not."""

_JSON = "application/json"
INFO_PATH = "/info/api.json"
FUNCTIONS_PATH = "/info/functions.json"
"""InfraKit's template functions document (``info template`` of its CLI reads it): a JSON object
whose members are lists of ``{Name, Description, Func, Usage}``. We export no Go template
functions, so it is ``{}``, which both generations of InfraKit's CLI decode."""
_NO_FUNCTIONS = b"{}"

ACCEPTED_CONTENT_TYPES = frozenset(
    {"application/json", "application/json-rpc", "application/jsonrequest"}
)
"""Request content types taken as JSON; a request without a Content-Type is taken too."""


_JSON_HEADERS = {hdrs.CONTENT_TYPE: _JSON}  # copied by every Response, never changed


def _json_response(body: bytes, status: int = 200) -> web.Response:
    # Given as a header, the content type skips Response's parsing of a content_type argument.
    return web.Response(body=body, status=status, headers=_JSON_HEADERS)


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
    served: dict[str, Callable[[], web.Response]] = {
        INFO_PATH: lambda: _json_response(info_body),
        FUNCTIONS_PATH: lambda: _json_response(_NO_FUNCTIONS),
    }
    if metrics is not None:
        served[METRICS_PATH] = metrics.response
    return served


class AppHandler:
    """The handler of every request to the daemon, on any listener: ``await handler(request)``.

    Serves ``service``; with ``metrics``, its own :class:`Metrics` (:attr:`metrics`) counts every
    call and refusal and is served at ``GET /metrics``. Every answer, refusals included, is a
    JSON-RPC response body: clients never have to parse an HTML error page. Bodies are read as
    :mod:`instance_rpc.body_reading` says (``limits``: their rate and time; ``max_body``: their
    size, 413 beyond; ``budget``: the daemon's buffered bytes, which answers count in too, see
    :mod:`instance_rpc.streamed_response`). ``body_timeout``, when given, replaces the one of
    ``limits``. A peer gone mid-body is one WARNING line in ``refusal_log`` (rate-limited).
    ``info_warnings`` are added to the spec document as ``Warnings`` (Go clients ignore them).
    """

    def __init__(
        self,
        service: InstanceService,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        body_timeout: float | None = None,
        info_warnings: list[str] | None = None,
        metrics: bool = True,
        limits: ConnectionLimits = DEFAULT_LIMITS,
        budget: ByteBudget | None = None,
        refusal_log: RateLimitedLog | None = None,
    ) -> None:
        self.service = service
        self.max_body = max_body
        if body_timeout is not None:
            limits = replace(limits, body_timeout=body_timeout)
        self.limits = limits
        self.body_timeout = limits.body_timeout
        self.budget = budget if budget is not None else ByteBudget(limits.max_buffered_bytes)
        self.refusal_log = refusal_log if refusal_log is not None else RateLimitedLog(logger)
        self.metrics = (
            Metrics(
                methods=service.method_names, types=service.type_names, backends=service.backends
            )
            if metrics
            else None
        )
        self._served = documents(service, info_warnings, self.metrics)
        self._known = ", ".join(self._served)

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        # A TCP listener's connections carry the listener's rules (caller_policy.py); the
        # Unix socket's carry none.
        check: CallerCheck | None = getattr(request.protocol, "caller_check", None)
        if check is not None:
            refusal = check.refusal(request)
            if refusal is not None:
                response = self._refuse(refusal.reason, refusal.status, refusal.message)
                if refusal.status == 403:
                    response.force_close()
                return response
        if request.method == "POST":
            # Behind a ConnectionGuard (every listener of the daemon), the guard's header
            # deadline must not close the connection while its request runs.
            guard: ConnectionGuard | None = getattr(request.protocol, "guard", None)
            if guard is None:
                return await self._rpc(request, None)
            guard.request_started()
            try:
                return await self._rpc(request, guard)
            finally:
                guard.request_finished()
        return self._not_posted(request)

    def _not_posted(self, request: web.BaseRequest) -> web.StreamResponse:
        document = self._served.get(request.path)
        if document is not None and request.method in ("GET", "HEAD"):
            return document()
        allowed = "GET, HEAD, POST" if document is not None else "POST"
        if request.method in ("GET", "HEAD"):
            message = (
                f"{request.method} {request.path}: no such document (documents: {self._known});"
                " POST JSON-RPC requests to any path"
            )
        else:
            message = f"method {request.method} not allowed on {request.path}; allowed: {allowed}"
        answer = self._refuse("method_not_allowed", 405, message)
        answer.headers["Allow"] = allowed
        return answer

    def _refuse(self, reason: str, status: int, message: str) -> web.Response:
        if self.metrics is not None:
            self.metrics.refused(reason)
        return _error_response(self.service, status, message)

    async def _rpc(
        self, request: web.BaseRequest, guard: ConnectionGuard | None
    ) -> web.StreamResponse:
        content_type = request.headers.get(hdrs.CONTENT_TYPE)
        if (
            content_type
            and content_type != _JSON
            and request.content_type not in ACCEPTED_CONTENT_TYPES
        ):
            message = f"unsupported Content-Type {request.content_type!r}; send application/json"
            return self._refuse("unsupported_media_type", 415, message)
        budget = self.budget
        if guard is not None:
            guard.reading = True
        try:
            body, counted = await read_body(
                request, max_body=self.max_body, limits=self.limits, budget=budget
            )
        except BodyRefused as refused:
            return self._body_refused(request, refused)
        finally:
            if guard is not None:
                guard.reading = False
        try:
            debug = logger.isEnabledFor(logging.DEBUG)
            if debug:
                logger.debug("<- %s", redact(body.decode(errors="replace")))
            try:
                answer = await self.service.respond(body, self.metrics)
            except Exception:
                logger.exception("unexpected failure answering a request")
                answer = self.service.error_body(INTERNAL_ERROR, "internal error")
        finally:
            del body
            budget.release(counted)
        if answer is None:
            return web.Response(status=204)
        if isinstance(answer, StreamedAnswer):
            return await send_streamed(request, answer, budget, self.limits, self._cut_off)
        if debug:
            logger.debug("-> %s", redact(answer.decode(errors="replace")))
        if len(answer) <= SMALL_ANSWER:
            return _json_response(answer)
        return await send_large(request, answer, budget, self.limits, self._cut_off)

    def _cut_off(self, request: web.BaseRequest, reason: str, why: str) -> None:
        if self.metrics is not None:
            self.metrics.refused(reason)
        peer = request.remote or "the Unix socket"
        self.refusal_log.warning("closed a connection from %s: %s", peer, why)

    def _body_refused(self, request: web.BaseRequest, refused: BodyRefused) -> web.Response:
        if refused.status == 0:  # the peer is gone: nothing to answer
            if self.metrics is not None:
                self.metrics.refused(refused.reason)
            peer = request.remote or "the Unix socket"
            self.refusal_log.warning("request from %s: %s", peer, refused.message)
            response = web.Response(status=400)
        else:
            response = self._refuse(refused.reason, refused.status, refused.message)
        response.force_close()
        return response


def create_request_factory(max_body: int) -> Callable[..., web.BaseRequest]:
    """aiohttp's low-level ``web.Server`` request factory: requests whose body may be at most
    ``max_body`` bytes (``request.read()`` raises ``HTTPRequestEntityTooLarge`` beyond)."""
    loop = asyncio.get_running_loop()

    def make_request(
        message: Any, payload: Any, protocol: Any, writer: Any, task: Any
    ) -> web.BaseRequest:
        return web.BaseRequest(
            message, payload, protocol, writer, task, loop, client_max_size=max_body
        )

    return make_request


def create_app(
    service: InstanceService,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    body_timeout: float = DEFAULT_LIMITS.body_timeout,
    info_warnings: list[str] | None = None,
    metrics: bool = True,
) -> web.Application:
    """An aiohttp application answering every path with an :class:`AppHandler` (for embedding
    the daemon's answers in an application of one's own; the daemon itself serves the handler
    on aiohttp's low-level server). Its :class:`Metrics`, if any, is ``app[METRICS_KEY]``."""
    handler = AppHandler(
        service,
        max_body=max_body,
        body_timeout=body_timeout,
        info_warnings=info_warnings,
        metrics=metrics,
    )

    async def route(request: web.Request) -> web.StreamResponse:
        return await handler(request)

    app = web.Application(client_max_size=max_body)
    app[METRICS_KEY] = handler.metrics
    app.router.add_route("*", "/{path:.*}", route)
    return app


def with_warnings(info_body: bytes, warnings: list[str]) -> bytes:
    """The spec document with a ``Warnings`` member listing ``warnings`` (none: unchanged)."""
    if not warnings:
        return info_body
    document = msgspec.json.decode(info_body)
    document["Warnings"] = warnings
    return msgspec.json.encode(document)
