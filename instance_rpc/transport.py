"""The client's transport: one plugin's HTTP connections, timeouts, retries, and what counts as
delivered. It carries bytes; the JSON-RPC requests and answers are the client's.

One aiohttp session per client over a ``UnixConnector``, or a ``TCPConnector`` for a plugin on
TCP (``tcp://``/``https://`` targets and ``.listen`` discovery entries, see
:mod:`instance_rpc.endpoints`).
Whether a broken call can have been processed is :mod:`.delivery`'s to say; retrying follows from
it (InfraKit pkg/rpc/client, Go net/http's retry of requests on a dead kept-alive connection).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from . import delivery
from .endpoints import Endpoint
from .errors import BadResponse, CallTimeout, PluginUnavailable
from .tls import tls_failure_reason

__all__ = [
    "DEFAULT_RETRIES",
    "DEFAULT_RETRY_BACKOFF",
    "DEFAULT_TIMEOUT",
    "Transport",
]

# The client's logger name, which log configurations filter on, from before the transport split.
_JSON_HEADERS = CIMultiDictProxy(CIMultiDict({"Content-Type": "application/json"}))

logger = logging.getLogger("instance_rpc.client")

DEFAULT_TIMEOUT = 60.0
"""Seconds to wait for an answer to most calls."""

DEFAULT_RETRIES = 3
"""Extra attempts for a call that found no plugin, when repeating it is safe."""

DEFAULT_RETRY_BACKOFF = 0.1
"""Seconds before the first retry; doubled before each next one."""

_T = TypeVar("_T")


class Transport:
    """POSTs and GETs to the plugin at ``endpoint``, on a session of its own.

    ``ssl``: the TLS context for HTTPS. Call :meth:`close` when done.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        ssl: ssl.SSLContext | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.address = endpoint.display()
        """The socket path or URL errors name."""
        self.socket_path = Path(endpoint.address) if endpoint.is_unix else None
        self._ssl = ssl
        self._session: aiohttp.ClientSession | None = None
        # Made once rather than per call: aiohttp parses a URL string and copies a headers dict
        # on every request.
        self._urls: dict[str, URL] = {}
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = self.endpoint.connector(self._ssl)
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),  # plugins set no cookies
            )
        return self._session

    async def retrying(
        self,
        attempt: Callable[[], Awaitable[_T]],
        *,
        idempotent: bool,
        retries: int = DEFAULT_RETRIES,
        retry_backoff: float = DEFAULT_RETRY_BACKOFF,
    ) -> _T:
        """Repeat ``attempt`` while no plugin answers and repeating is safe.

        A request the plugin cannot have processed (no connection, or one that broke before the
        plugin read it all) is safe to repeat whatever the method; one that may have been
        processed only when the method is idempotent. A kept-alive connection found dead is
        repeated at once on a new connection (like Go net/http), once and without counting as
        a retry; up to ``retries`` other repeats wait ``retry_backoff`` seconds, doubling.
        Timeouts are never repeated: the plugin may still be working on the call.
        """
        delay = retry_backoff
        remaining = retries
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

    # post and get hand out _send's coroutine rather than awaiting it in one of their own.

    def post(self, body: bytes, seconds: float, what: str) -> Awaitable[bytes]:
        """The body the plugin answers a POST of ``body`` with, within ``seconds`` (await it).

        Raises :class:`CallTimeout`, :class:`PluginUnavailable` (saying whether the request was
        sent, see :mod:`.delivery`), or :class:`BadResponse` for an HTTP error without a body.
        """
        return self._send("POST", "", body, seconds, what)

    def get(self, path: str, seconds: float, what: str) -> Awaitable[bytes]:
        """The body the plugin answers ``GET /<path>`` with, within ``seconds`` (await it)."""
        return self._send("GET", path, None, seconds, what)

    async def _send(
        self, http_method: str, path: str, body: bytes | None, seconds: float, what: str
    ) -> bytes:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = URL(self.endpoint.base_url() + path)
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            if len(self._timeouts) > 64:  # callers choosing a new timeout per call
                self._timeouts.clear()
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        attempt = delivery.Attempt()
        try:
            with delivery.attempting(attempt):
                async with self._http().request(
                    http_method,
                    url,
                    data=body,
                    headers=_JSON_HEADERS if body is not None else None,
                    timeout=timeout,
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
        tls_reason = tls_failure_reason(exc, context=self._ssl)
        if tls_reason is not None:
            # The daemon refused the TLS handshake: the request was never processed.
            return PluginUnavailable(self.address, tls_reason, request_sent=False)
        if isinstance(exc, aiohttp.ClientConnectorError):
            reason = exc.os_error.strerror or str(exc.os_error)
            return PluginUnavailable(self.address, reason, request_sent=False)
        return delivery.failure(self.address, exc, attempt)
