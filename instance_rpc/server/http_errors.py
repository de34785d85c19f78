"""Requests that are not HTTP at all: refused with a JSON-RPC error, one rate-limited log line.

aiohttp refuses a malformed request (a bad chunk size, ``Content-Length`` beside
``Transfer-Encoding``, a negative length, over-long or too many headers, a garbage request line)
with HTTP 400, but logs each one at ERROR with a traceback and answers in plain text: a peer could
fill the log at will. :class:`RequestHandler` answers them like every other refusal, with a
JSON-RPC ``-32600`` error body, logs one WARNING line without a traceback through a
:class:`RateLimitedLog`, and reports ``"malformed_http"`` to the server's refusal hook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..errors import INTERNAL_ERROR, INVALID_REQUEST
from ..rpc.service import InstanceService
from .caller_policy import CallerCheck
from .rate_limited_log import DEFAULT_LOG_INTERVAL, DEFAULT_LOG_PER_INTERVAL, RateLimitedLog

__all__ = ["DEFAULT_LOG_INTERVAL", "DEFAULT_LOG_PER_INTERVAL", "RateLimitedLog", "RequestHandler"]


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


class RequestHandler(web.RequestHandler):
    """aiohttp's protocol for one connection, with refusals answered the JSON-RPC way.

    ``caller_check``: the rules of the TCP listener the connection came in on (``None`` on a
    Unix socket), which the app applies to each request.
    """

    caller_check: CallerCheck | None = None

    def __init__(
        self,
        manager: web.Server,
        *,
        service: InstanceService,
        refusal_log: RateLimitedLog,
        on_refusal: Callable[[str], None] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(manager, **options)
        self._service = service
        self._refusal_log = refusal_log
        self._on_refusal = on_refusal

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot answer with an error")
        if isinstance(exc, HttpProcessingError) or status < 500:
            reason = _first_line(str(getattr(exc, "message", "") or message or exc or ""))
            self._refusal_log.warning(
                "refused a malformed HTTP request from %s: %s",
                request.remote or "the Unix socket",
                reason or f"HTTP {status}",
            )
            if self._on_refusal is not None:
                self._on_refusal("malformed_http")
            body = self._service.error_body(INVALID_REQUEST, f"malformed HTTP request: {reason}")
        else:
            self.logger.error("unexpected failure answering a request", exc_info=exc)
            body = self._service.error_body(INTERNAL_ERROR, "internal error")
        response = web.Response(body=body, status=status, content_type="application/json")
        response.force_close()
        return response
