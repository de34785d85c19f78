"""The client's transport: one plugin's HTTP connections, timeouts, retries, and what counts as
delivered.

One aiohttp session per client over a ``UnixConnector``, or a ``TCPConnector`` for a plugin on
TCP (``tcp://``/``https://`` targets and ``.listen`` discovery entries, see
:mod:`instance_rpc.endpoints`); requests are built with jsonrpcclient, bodies encoded with msgspec
and responses read as Go clients read them (:mod:`.responses`), so ``Properties`` stay raw JSON.
Whether a broken call can have been processed is :mod:`.delivery`'s to say; retrying follows from
it (InfraKit pkg/rpc/client, Go net/http's retry of requests on a dead kept-alive connection).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import aiohttp
import jsonrpcclient
import msgspec

from . import collector, delivery
from .endpoints import Endpoint
from .errors import BadResponse, CallTimeout, PluginUnavailable
from .logs import redact
from .responses import decode_response
from .tls import tls_failure_reason

__all__ = [
    "DEFAULT_RETRIES",
    "DEFAULT_RETRY_BACKOFF",
    "DEFAULT_TIMEOUT",
    "Transport",
]

# The client's logger name, which log configurations filter on, from before the transport split.
logger = logging.getLogger("instance_rpc.client")

DEFAULT_TIMEOUT = 60.0
"""Seconds to wait for an answer to most calls."""

DEFAULT_RETRIES = 3
"""Extra attempts for a call that found no plugin, when repeating it is safe."""

DEFAULT_RETRY_BACKOFF = 0.1
"""Seconds before the first retry; doubled before each next one."""

_LARGE_ANSWER = 1 << 20
"""Bytes from which decoding an answer is worth pausing the cyclic collector for."""

_R = TypeVar("_R", bound=msgspec.Struct)
_T = TypeVar("_T")

_ENCODER = msgspec.json.Encoder()


class Transport:
    """JSON-RPC calls and GETs to the plugin at ``endpoint``, on a session of its own.

    ``ssl``: the TLS context for HTTPS. ``timeout``: seconds a call waits by default.
    ``retries``/``retry_backoff``: see :meth:`retrying`. Call :meth:`close` when done.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        ssl: ssl.SSLContext | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        retry_backoff: float = DEFAULT_RETRY_BACKOFF,
    ) -> None:
        self.endpoint = endpoint
        self.address = endpoint.display()
        """The socket path or URL errors name."""
        self.socket_path = Path(endpoint.address) if endpoint.is_unix else None
        self._ssl = ssl
        self.timeout = timeout
        self.retries = retries
        self.retry_backoff = retry_backoff
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = self.endpoint.connector(self._ssl)
            self._session = aiohttp.ClientSession(
                connector=connector, trace_configs=[delivery.trace_config()]
            )
        return self._session

    async def retrying(self, attempt: Callable[[], Awaitable[_T]], *, idempotent: bool) -> _T:
        """Repeat ``attempt`` while no plugin answers and repeating is safe.

        A request the plugin cannot have processed (no connection, or one that broke before the
        plugin read it all) is safe to repeat whatever the method; one that may have been
        processed only when the method is idempotent. A kept-alive connection found dead is
        repeated at once on a new connection (like Go net/http), once and without counting as
        a retry; other repeats wait ``retry_backoff`` seconds, doubling. Timeouts are never
        repeated: the plugin may still be working on the call.
        """
        delay = self.retry_backoff
        remaining = self.retries
        stale_repeated = False
        while True:
            try:
                return await attempt()
            except PluginUnavailable as exc:
                if not exc.request_sent and exc.reused_connection and not stale_repeated:
                    stale_repeated = True
                    logger.info("%s; repeating on a new connection", exc)
                    continue
                if remaining == 0 or (exc.request_sent and not idempotent):
                    raise
                logger.info("%s; retrying in %.2fs", exc, delay)
            remaining -= 1
            await asyncio.sleep(delay)
            delay *= 2

    async def call(
        self,
        method: str,
        params: msgspec.Struct,
        result_type: type[_R],
        *,
        timeout: float | None = None,
    ) -> _R:
        """Send one JSON-RPC request and decode its result; raise the error it answers with."""
        # jsonrpcclient accepts any mapping-like params; a Struct encodes as the Go object.
        request = jsonrpcclient.request(method, params=cast(Any, params), id=next(self._ids))
        body = _ENCODER.encode(request)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("-> %s", redact(body.decode(errors="replace")))
        seconds = self.timeout if timeout is None else timeout
        answer = await self._send("POST", "", body, seconds, method)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("<- %s", redact(answer.decode(errors="replace")))
        return self._parse(method, answer, result_type)

    def _parse(self, method: str, answer: bytes, result_type: type[_R]) -> _R:
        with collector.paused(len(answer) >= _LARGE_ANSWER):
            return decode_response(method, answer, result_type)

    async def get(self, path: str, what: str) -> bytes:
        """The body the plugin answers ``GET /<path>`` with."""
        return await self._send("GET", path, None, self.timeout, what)

    async def _send(
        self, http_method: str, path: str, body: bytes | None, seconds: float, what: str
    ) -> bytes:
        headers = {"Content-Type": "application/json"} if body is not None else None
        attempt = delivery.Attempt()
        try:
            async with self._http().request(
                http_method,
                self.endpoint.base_url() + path,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=seconds),
                trace_request_ctx=attempt,
            ) as response:
                attempt.answered = True
                payload = await response.read()
        except TimeoutError:
            raise CallTimeout(what, seconds, self.address) from None
        except aiohttp.ClientError as exc:
            raise self._unavailable(exc, attempt) from None
        if response.status >= 400 and not payload.startswith((b"{", b"[")):
            raise BadResponse(f"{what}: HTTP {response.status} from {self.address}")
        return payload

    def _unavailable(
        self, exc: aiohttp.ClientError, attempt: delivery.Attempt
    ) -> PluginUnavailable:
        tls_reason = tls_failure_reason(exc)
        if tls_reason is not None:
            # The daemon refused the TLS handshake: the request was never processed.
            return PluginUnavailable(self.address, tls_reason, request_sent=False)
        if isinstance(exc, aiohttp.ClientConnectorError):
            reason = exc.os_error.strerror or str(exc.os_error)
            return PluginUnavailable(self.address, reason, request_sent=False)
        return delivery.failure(self.address, exc, attempt)
