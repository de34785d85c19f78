"""Limits that keep stalled or hostile peers from holding a listener's connections forever.

Every connection on every listener (Unix socket or TCP) passes through a
:class:`~instance_rpc.connection_guard.ConnectionGuard`, counted by one :class:`ConnectionPool`
per server:

- a TLS connection's first byte and handshake must be in within ``tls_handshake_timeout`` seconds
  of the connection opening; a request's headers within ``header_timeout`` seconds of the
  connection opening (of the handshake's end on TLS) or of the first byte of a later request
  (checked by one sweep of the pool a few times per timeout, not by a timer per request: a
  connection is closed at most a tenth of the timeout, and at most a second, after its deadline);
- a body, and an answer, must move at ``min_transfer_rate`` bytes per second once
  ``transfer_grace`` seconds have passed (Apache's ``mod_reqtimeout`` ``MinRate`` rule), and a body
  be in within ``body_timeout`` seconds whatever its rate (enforced where the body is read and
  the answer written, see :mod:`instance_rpc.body_reading` and
  :mod:`instance_rpc.streamed_response`);
- a kept-alive connection with no request is closed after ``idle_timeout`` seconds
  (aiohttp's keep-alive timer);
- at most ``max_connections`` at once over all listeners, of which TCP peers together hold at most
  :attr:`ConnectionLimits.max_tcp_connections` (the rest is kept for Unix sockets) and one peer (a
  source address) at most ``max_connections_per_peer``. A connection beyond a cap takes the place
  of the least recently active connection under that cap that has no call running (idle, waiting
  for its headers or handshake, or sending its body); when every one has a call running the new
  one is closed at once;
- at most ``max_tls_handshakes`` TLS handshakes in progress: a handshake beyond that takes the
  place of the oldest one. A handshake starts only once the peer's first byte is in, so an idle
  TCP connection never holds a handshake slot.

Request bodies and answers are held to a budget of ``max_buffered_bytes`` for the whole daemon
(:mod:`instance_rpc.byte_budget`).

Each connection closed by a limit is reported to the server's refusal hook (see
:mod:`instance_rpc.http_errors`) with a reason, and logged as one rate-limited WARNING line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from .rate_limited_log import RateLimitedLog

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

MiB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class ConnectionLimits:
    """Timeouts in seconds, counts in connections, rates in bytes per second, sizes in bytes."""

    header_timeout: float = 10.0
    body_timeout: float = 60.0
    idle_timeout: float = 75.0
    tls_handshake_timeout: float = 5.0
    transfer_grace: float = 5.0
    min_transfer_rate: int = 16 * 1024
    max_connections: int = 1000
    max_connections_per_peer: int = 128
    max_tls_handshakes: int = 64
    max_buffered_bytes: int = 64 * MiB

    def __post_init__(self) -> None:
        for name in (
            "header_timeout",
            "body_timeout",
            "idle_timeout",
            "tls_handshake_timeout",
            "transfer_grace",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        for name in (
            "max_connections",
            "max_connections_per_peer",
            "max_tls_handshakes",
            "min_transfer_rate",
            "max_buffered_bytes",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")

    @property
    def unix_reserve(self) -> int:
        """Connections TCP peers may never take: a tenth of ``max_connections``."""
        return self.max_connections // 10

    @property
    def max_tcp_connections(self) -> int:
        """Most connections TCP peers hold together (at least one)."""
        return max(1, self.max_connections - self.unix_reserve)

    def transfer_deadline(self, started: float, transferred: int) -> float:
        """The time (``started``'s clock) by which a transfer that has moved ``transferred``
        bytes must have moved more: ``transfer_grace`` plus one second per
        ``min_transfer_rate`` bytes moved."""
        return started + self.transfer_grace + transferred / self.min_transfer_rate


DEFAULT_LIMITS = ConnectionLimits()


class ConnectionPool:
    """The connections of one server, across all its listeners.

    ``on_refusal`` is called with the reason of each connection a limit closes; ``log`` writes
    the one WARNING line each gets (rate-limited).
    """

    def __init__(
        self,
        limits: ConnectionLimits,
        on_refusal: RefusalHook | None = None,
        log: RateLimitedLog | None = None,
    ) -> None:
        self.limits = limits
        self._on_refusal = on_refusal
        self.log = log if log is not None else RateLimitedLog(logger)
        self._open: dict[ConnectionGuard, None] = {}  # in the order they were opened
        self._tcp = 0
        self._per_peer: dict[str, int] = {}
        self._handshakes: dict[ConnectionGuard, None] = {}  # oldest first
        self._sweep: asyncio.TimerHandle | None = None
        shortest = min(limits.header_timeout, limits.tls_handshake_timeout)
        self.sweep_interval = min(1.0, shortest / 10)
        """Seconds between two checks of the header and handshake deadlines."""

    def __len__(self) -> int:
        return len(self._open)

    @property
    def handshakes(self) -> int:
        """TLS handshakes in progress."""
        return len(self._handshakes)

    def refused(self, reason: str, peer: str | None = None, why: str = "") -> None:
        """Count a connection closed for ``reason``; log one line naming ``peer`` and ``why``."""
        if self._on_refusal is not None:
            self._on_refusal(reason)
        if why:
            self.log.warning("closed a connection from %s: %s", peer or "the Unix socket", why)

    def admit(self, guard: ConnectionGuard) -> bool:
        """Count ``guard`` in, making room under each cap it falls under by closing the least
        recently active connection without a call running; False when there is none."""
        limits = self.limits
        peer = guard.peer
        if peer is not None:
            if self._per_peer.get(peer, 0) >= limits.max_connections_per_peer and not self._evict(
                guard, "peer_connection_limit", lambda g: g.peer == peer
            ):
                return False
            if self._tcp >= limits.max_tcp_connections and not self._evict(
                guard, "connection_limit", lambda g: g.peer is not None
            ):
                return False
        if len(self._open) >= limits.max_connections and not self._evict(
            guard, "connection_limit", lambda g: True
        ):
            return False
        self._open[guard] = None
        if peer is not None:
            self._tcp += 1
            self._per_peer[peer] = self._per_peer.get(peer, 0) + 1
        if self._sweep is None:
            self._schedule_sweep()
        return True

    def _evict(
        self, newcomer: ConnectionGuard, reason: str, among: Callable[[ConnectionGuard], bool]
    ) -> bool:
        candidates = (g for g in self._open if g.evictable and among(g))
        victim = min(candidates, key=lambda g: g.last_active, default=None)
        cap = reason.replace("_", " ")
        if victim is None:
            self.refused(reason, newcomer.peer, f"{cap} reached, every connection has a call")
            return False
        self.refused(reason, victim.peer, f"{cap} reached: closing the least recently active")
        self.release(victim)
        victim.abort()
        return True

    def release(self, guard: ConnectionGuard) -> None:
        if self._open.pop(guard, False) is None:
            peer = guard.peer
            if peer is not None:
                self._tcp -= 1
                left = self._per_peer[peer] - 1
                if left:
                    self._per_peer[peer] = left
                else:
                    del self._per_peer[peer]
        self._handshakes.pop(guard, None)
        if not self._open and self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None

    def handshake_started(self, guard: ConnectionGuard) -> None:
        """Count a TLS handshake in, closing the oldest one in progress beyond the cap."""
        if len(self._handshakes) >= self.limits.max_tls_handshakes:
            oldest = next(iter(self._handshakes))
            why = "TLS handshake limit reached: closing the oldest handshake"
            self.refused("tls_handshake_limit", oldest.peer, why)
            oldest.handshake_evicted()
            self.release(oldest)
            oldest.abort()
        self._handshakes[guard] = None

    def handshake_ended(self, guard: ConnectionGuard) -> None:
        self._handshakes.pop(guard, None)

    def abort_all(self) -> None:
        """Close every connection still open (at shutdown, after in-flight calls ended)."""
        for guard in list(self._open):
            guard.abort()
        self._open.clear()
        self._handshakes.clear()
        self._per_peer.clear()
        self._tcp = 0
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None

    def _schedule_sweep(self) -> None:
        loop = asyncio.get_running_loop()
        self._sweep = loop.call_later(self.sweep_interval, self._close_late, loop)

    def _close_late(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close every connection past its deadline; sweep again while any is open."""
        self._sweep = None
        now = loop.time()
        late = [guard for guard in self._open if guard.deadline_passed(now)]
        for guard in late:
            guard.expired()
        if self._open and self._sweep is None:
            self._schedule_sweep()


from .connection_guard import ConnectionGuard  # noqa: E402  (it needs the names above)
