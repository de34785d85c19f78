"""One connection's guard: admission to the pool, TLS, the header and handshake deadlines.

A :class:`ConnectionGuard` wraps aiohttp's protocol for one connection (the limits it enforces are
described in :mod:`instance_rpc.connection_limits`). On a TLS listener it waits for the peer's
first bytes before it starts the handshake: an idle connection holds no handshake slot, and a
peer that speaks plain HTTP to the TLS port is told to use ``https://`` (an HTTP 400 with a
JSON-RPC error body, as Go's ``net/http`` server answers such a request) instead of failing a
handshake it never began.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, cast

from ..errors import INVALID_REQUEST
from ..rpc.envelope import error_bytes
from .connection_limits import ConnectionPool

__all__ = ["ConnectionGuard"]

_TLS_HANDSHAKE_RECORD = 0x16
# The first five bytes of the requests Go's net/http recognises on a TLS port (server.go,
# tlsRecordHeaderLooksLikeHTTP).
_HTTP_STARTS = (b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO")
_DISCARD_SECONDS = 1.0  # how long the rest of a plain-HTTP request is read before closing


class ConnectionGuard(asyncio.Protocol):
    """Wraps aiohttp's protocol for one connection: admission, TLS, deadlines.

    ``peer`` is the source address of a TCP connection (``None`` on a Unix socket);
    ``last_active`` the loop time of its last byte received (of its handshake's end, on TLS).
    """

    def __init__(
        self,
        pool: ConnectionPool,
        inner: asyncio.Protocol,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._pool = pool
        self._inner = inner
        self._tls = tls
        self._transport: asyncio.BaseTransport | None = None
        self._loop: asyncio.AbstractEventLoop
        self._inner_connected = False
        self._deadline: float | None = None  # loop time by which a request head must be in
        self._handshake: asyncio.Task[None] | None = None
        self._handshake_reported = False
        # Bytes read before the handshake began: the first ones decide between TLS and plain
        # HTTP; then they are handed to the TLS layer (see _hand_over_early).
        self._early: list[bytes] | None = None
        self._discarding = False
        self.peer: str | None = None
        self.last_active = 0.0
        self.busy = False
        """A request is in progress (from its head to its answer's last byte)."""
        self.reading = False
        """The request's body is still being received: the connection may make room."""
        cast(Any, inner).guard = self

    @property
    def evictable(self) -> bool:
        """Whether closing it to make room would stop no call: idle, waiting for its head or
        handshake, or still sending its body."""
        return not self.busy or self.reading

    # --- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Kept: asyncio.get_running_loop() makes a getpid system call each time (its fork check).
        self._loop = asyncio.get_running_loop()
        self._transport = transport
        peername = transport.get_extra_info("peername")
        self.peer = str(peername[0]) if isinstance(peername, tuple) else None
        self.last_active = self._loop.time()
        if not self._pool.admit(self):
            transport.abort()  # type: ignore[attr-defined]
            return
        limits = self._pool.limits
        if self._tls is None:
            self._arm(limits.header_timeout)
            self._connect_inner(transport)
        else:
            self._arm(limits.tls_handshake_timeout)
            self._early = []

    def data_received(self, data: bytes) -> None:
        early = self._early
        if early is not None:
            early.append(data)
            if self._handshake is None:
                self._first_bytes(b"".join(early))
            else:  # read before start_tls took the transport over: kept for the TLS layer
                cast(asyncio.ReadTransport, self._transport).pause_reading()
            return
        if self._discarding:
            return
        self.last_active = self._loop.time()
        if not self.busy and self._deadline is None:
            self._arm(self._pool.limits.header_timeout)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self._discarding:
            self.abort()
            return None
        return self._inner.eof_received() if self._inner_connected else None

    def pause_writing(self) -> None:
        if self._inner_connected:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner_connected:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._pool.release(self)
        if self._handshake is not None and not self._handshake.done():
            self._handshake_failed(_reason(exc) if exc else "the peer closed the connection")
            self._handshake.cancel()
        if self._inner_connected:
            self._inner_connected = False
            self._inner.connection_lost(exc)

    # --- what the server's handler and the pool call ------------------------------------------

    def request_started(self) -> None:
        self.busy = True
        self._disarm()

    def request_finished(self) -> None:
        self.busy = False
        self.reading = False

    def abort(self) -> None:
        self._disarm()
        if self._transport is not None:
            self._transport.abort()  # type: ignore[attr-defined]

    def handshake_evicted(self) -> None:
        """Its handshake is closed to make room: counted as that, not as a failure."""
        self._handshake_reported = True

    def deadline_passed(self, now: float) -> bool:
        """Whether the connection waits for a request head past its deadline (loop time)."""
        return self._deadline is not None and now >= self._deadline and not self.busy

    def expired(self) -> None:
        """Close the connection: its handshake or request head did not arrive in time."""
        self._deadline = None
        limits = self._pool.limits
        if self._early is not None:
            why = f"no TLS handshake within {limits.tls_handshake_timeout:g}s"
        else:
            why = f"no complete request head within {limits.header_timeout:g}s"
        self._pool.refused("header_timeout", self.peer, why)
        self.abort()

    # --- inside ------------------------------------------------------------------------------

    def _first_bytes(self, head: bytes) -> None:
        """Start the handshake on a TLS record; answer plain HTTP with a 400 naming https."""
        raw = cast(asyncio.Transport, self._transport)
        if head[0] != _TLS_HANDSHAKE_RECORD:
            if len(head) < 5 and any(start.startswith(head) for start in _HTTP_STARTS):
                return  # maybe HTTP: wait for a fifth byte
            if head[:5] in _HTTP_STARTS:
                self._answer_plain_http(raw)
                return
        raw.pause_reading()
        context = cast(ssl.SSLContext, self._tls)
        self._handshake = asyncio.ensure_future(self._start_tls(raw, context))

    def _answer_plain_http(self, raw: asyncio.Transport) -> None:
        self._early = None
        self._disarm()
        host, port = raw.get_extra_info("sockname")[:2]
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        message = f"client sent an HTTP request to an HTTPS server: use https://{where}"
        body = error_bytes(INVALID_REQUEST, message)
        head = (
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        self._pool.refused("plain_http_on_tls", self.peer, "plain HTTP request on a TLS port")
        raw.write(head.encode() + body)
        # The rest of the request is read and dropped for a moment: closing with unread bytes
        # would reset the connection and could destroy the answer before the client reads it.
        self._discarding = True
        if raw.can_write_eof():
            raw.write_eof()
        self._loop.call_later(_DISCARD_SECONDS, self.abort)

    def _connect_inner(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._inner_connected = True
        self._inner.connection_made(transport)

    async def _start_tls(self, raw: asyncio.Transport, context: ssl.SSLContext) -> None:
        pool = self._pool
        pool.handshake_started(self)
        loop = self._loop
        deadline = self._deadline if self._deadline is not None else loop.time()
        self._disarm()  # the TLS layer's own handshake timeout takes over
        try:
            starting = asyncio.ensure_future(
                loop.start_tls(
                    raw,
                    self,
                    context,
                    server_side=True,
                    ssl_handshake_timeout=max(0.1, deadline - loop.time()),
                )
            )
            # start_tls's first step swaps in its TLS protocol and schedules that protocol's
            # connection_made, then the resumption of reading; one step later still, and before
            # the loop polls for more bytes, the early ones are handed to it.
            loop.call_soon(loop.call_soon, self._hand_over_early, raw, starting)
            secured = await starting
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as exc:
            self._handshake_failed(_reason(exc))
            return
        finally:
            pool.handshake_ended(self)
        if secured is None or secured.is_closing():
            self._handshake_failed("the peer closed the connection")
            return
        self._handshake_reported = True
        self.last_active = loop.time()
        self._arm(pool.limits.header_timeout)
        self._connect_inner(secured)

    def _handshake_failed(self, why: str) -> None:
        if self._handshake_reported:
            return
        self._handshake_reported = True
        self._pool.refused("tls_handshake_failed", self.peer, f"TLS handshake failed: {why}")

    def _hand_over_early(self, raw: asyncio.BaseTransport, starting: asyncio.Future[Any]) -> None:
        if raw.is_closing() or starting.done():
            self._early = None
            return
        tls_layer = raw.get_protocol()
        if tls_layer is self:  # start_tls has not taken the transport yet
            self._loop.call_soon(self._hand_over_early, raw, starting)
            return
        early, self._early = self._early or [], None
        for data in early:
            _feed(tls_layer, data)

    def _arm(self, seconds: float) -> None:
        self._deadline = self._loop.time() + seconds

    def _disarm(self) -> None:
        self._deadline = None


def _reason(exc: BaseException) -> str:
    """A failed handshake's reason in one line: OpenSSL's reason code, else the error's text."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _feed(protocol: asyncio.BaseProtocol, data: bytes) -> None:
    """Deliver ``data`` to ``protocol`` as a transport would (``get_buffer`` and
    ``buffer_updated`` for a buffered protocol, as asyncio's and uvloop's TLS layers are)."""
    if not hasattr(protocol, "get_buffer"):  # uvloop's TLS layer is no BufferedProtocol subclass
        cast(asyncio.Protocol, protocol).data_received(data)
        return
    buffered = cast(asyncio.BufferedProtocol, protocol)
    view = memoryview(data)
    while view:
        buffer = memoryview(buffered.get_buffer(len(view)))
        size = min(len(buffer), len(view))
        buffer[:size] = view[:size]
        buffered.buffer_updated(size)
        view = view[size:]
