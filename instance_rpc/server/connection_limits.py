"""Limits that keep stalled or hostile peers from holding a listener's connections forever.

Every connection on every listener (Unix socket or TCP) passes through a :class:`ConnectionGuard`,
a protocol wrapped around aiohttp's own, counted by one :class:`ConnectionPool` per server:

- a request's headers must arrive within ``header_timeout`` seconds of the connection opening
  (TLS handshake included) or of the first byte of a later request (checked by one sweep of the
  pool a few times per timeout, not by a timer per request: a connection is closed at most a
  tenth of the timeout, and at most a second, after its deadline);
- its body within ``body_timeout`` seconds (enforced where the body is read, see ``app.py``);
- a kept-alive connection with no request is closed after ``idle_timeout`` seconds
  (aiohttp's keep-alive timer);
- at most ``max_connections`` at once: a new connection beyond that takes the place of the
  longest-open one that has no request in progress; when every one is busy it is closed at once;
- at most ``max_tls_handshakes`` TLS handshakes in progress; further ones are closed at once.

Each connection closed by a limit is reported to the server's refusal hook (see
:mod:`instance_rpc.http_errors`) with a reason: ``header_timeout``, ``connection_limit`` or
``tls_handshake_limit``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

__all__ = [
    "DEFAULT_LIMITS",
    "ConnectionGuard",
    "ConnectionLimits",
    "ConnectionPool",
    "RefusalHook",
]

logger = logging.getLogger("instance_rpc.connection_limits")

RefusalHook = Callable[[str], None]
"""Called with a short reason (``"malformed_http"``, ``"header_timeout"``, ...) per refusal."""


@dataclass(frozen=True, kw_only=True)
class ConnectionLimits:
    """Timeouts in seconds, counts in connections."""

    header_timeout: float = 10.0
    body_timeout: float = 60.0
    idle_timeout: float = 75.0
    max_connections: int = 1000
    max_tls_handshakes: int = 64

    def __post_init__(self) -> None:
        for name in ("header_timeout", "body_timeout", "idle_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.max_connections < 1 or self.max_tls_handshakes < 1:
            raise ValueError("max_connections and max_tls_handshakes must be at least 1")


DEFAULT_LIMITS = ConnectionLimits()


class ConnectionPool:
    """The connections of one server, across all its listeners."""

    def __init__(self, limits: ConnectionLimits, on_refusal: RefusalHook | None = None) -> None:
        self.limits = limits
        self._on_refusal = on_refusal
        self._open: dict[ConnectionGuard, None] = {}  # in the order they were opened
        self.handshakes = 0
        self._sweep: asyncio.TimerHandle | None = None
        self.sweep_interval = min(1.0, limits.header_timeout / 10)
        """Seconds between two checks of the header deadlines."""

    def __len__(self) -> int:
        return len(self._open)

    def refused(self, reason: str) -> None:
        if self._on_refusal is not None:
            self._on_refusal(reason)

    def admit(self, guard: ConnectionGuard) -> bool:
        """Count ``guard`` in, making room by closing an idle connection if need be."""
        if len(self._open) >= self.limits.max_connections:
            victim = next((g for g in self._open if not g.busy), None)
            self.refused("connection_limit")
            if victim is None:
                return False
            logger.debug("connection limit reached: closing an idle connection")
            self.release(victim)
            victim.abort()
        self._open[guard] = None
        if self._sweep is None:
            self._schedule_sweep()
        return True

    def release(self, guard: ConnectionGuard) -> None:
        self._open.pop(guard, None)
        if not self._open and self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None

    def abort_all(self) -> None:
        """Close every connection still open (at shutdown, after in-flight calls ended)."""
        for guard in list(self._open):
            guard.abort()
        self._open.clear()
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None

    def _schedule_sweep(self) -> None:
        loop = asyncio.get_running_loop()
        self._sweep = loop.call_later(self.sweep_interval, self._close_late, loop)

    def _close_late(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close every connection past its header deadline; sweep again while any is open."""
        self._sweep = None
        now = loop.time()
        late = [guard for guard in self._open if guard.deadline_passed(now)]
        for guard in late:
            guard.expired()
        if self._open and self._sweep is None:
            self._schedule_sweep()


class ConnectionGuard(asyncio.Protocol):
    """Wraps aiohttp's protocol for one connection: admission, TLS, the header deadline."""

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
        # TLS bytes read before start_tls took the transport over (see data_received).
        self._early: list[bytes] | None = None
        self.busy = False
        cast(Any, inner).guard = self

    # --- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Kept: asyncio.get_running_loop() makes a getpid system call each time (its fork check).
        self._loop = asyncio.get_running_loop()
        self._transport = transport
        if not self._pool.admit(self):
            logger.debug("connection limit reached and every connection busy: refusing one")
            transport.abort()  # type: ignore[attr-defined]
            return
        self._arm(self._pool.limits.header_timeout)
        if self._tls is None:
            self._connect_inner(transport)
        else:
            self._early = []
            self._handshake = asyncio.ensure_future(self._start_tls(transport, self._tls))

    def data_received(self, data: bytes) -> None:
        early = self._early
        if early is not None:
            # The peer's first TLS bytes, read before the handshake began (uvloop starts
            # reading after connection_made even if it paused): kept for the TLS layer, which
            # would otherwise wait for a ClientHello it never gets until its timeout.
            early.append(data)
            cast(asyncio.ReadTransport, self._transport).pause_reading()
            return
        if not self.busy and self._deadline is None:
            self._arm(self._pool.limits.header_timeout)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
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

    def abort(self) -> None:
        self._disarm()
        if self._transport is not None:
            self._transport.abort()  # type: ignore[attr-defined]

    # --- inside ------------------------------------------------------------------------------

    def _connect_inner(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._inner_connected = True
        self._inner.connection_made(transport)

    async def _start_tls(self, raw: asyncio.BaseTransport, context: ssl.SSLContext) -> None:
        pool = self._pool
        if pool.handshakes >= pool.limits.max_tls_handshakes:
            logger.debug("TLS handshake limit reached: refusing a connection")
            pool.refused("tls_handshake_limit")
            self.abort()
            return
        pool.handshakes += 1
        try:
            loop = asyncio.get_running_loop()
            starting = asyncio.ensure_future(
                loop.start_tls(
                    cast(asyncio.WriteTransport, raw),
                    self,
                    context,
                    server_side=True,
                    ssl_handshake_timeout=pool.limits.header_timeout,
                )
            )
            # start_tls's first step swaps in its TLS protocol and schedules that protocol's
            # connection_made, then the resumption of reading; one step later still, and before
            # the loop polls for more bytes, the early ones are handed to it.
            loop.call_soon(loop.call_soon, self._hand_over_early, raw, starting)
            secured = await starting
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as exc:
            logger.debug("TLS handshake failed: %s", exc)
            pool.refused("tls_handshake_failed")
            return
        finally:
            pool.handshakes -= 1
        if secured is None or secured.is_closing():
            return
        self._connect_inner(secured)

    def _hand_over_early(self, raw: asyncio.BaseTransport, starting: asyncio.Future[Any]) -> None:
        if raw.is_closing() or starting.done():
            self._early = None
            return
        tls_layer = raw.get_protocol()
        if tls_layer is self:  # start_tls has not taken the transport yet
            asyncio.get_running_loop().call_soon(self._hand_over_early, raw, starting)
            return
        early, self._early = self._early or [], None
        for data in early:
            _feed(tls_layer, data)

    def _arm(self, seconds: float) -> None:
        self._deadline = self._loop.time() + seconds

    def _disarm(self) -> None:
        self._deadline = None

    def deadline_passed(self, now: float) -> bool:
        """Whether the connection waits for a request head past its deadline (loop time)."""
        return self._deadline is not None and now >= self._deadline and not self.busy

    def expired(self) -> None:
        """Close the connection: its request head did not arrive in time."""
        self._deadline = None
        logger.debug("no complete request within %gs: closing", self._pool.limits.header_timeout)
        self._pool.refused("header_timeout")
        self.abort()


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
