"""One WARNING line per event a peer can cause at will, at most a few per window.

Refusals (malformed HTTP, connections closed by a limit, peers gone mid-body, failed handshakes)
are caused by peers, as often as they like: each is logged as one line, never a traceback, through
one :class:`RateLimitedLog` per server, so a flood cannot fill the log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

__all__ = ["DEFAULT_LOG_INTERVAL", "DEFAULT_LOG_PER_INTERVAL", "RateLimitedLog"]

# The logger name refusal lines have always had, which log configurations filter on.
logger = logging.getLogger("instance_rpc.http_errors")

DEFAULT_LOG_INTERVAL = 10.0
"""Seconds of each window in which at most :data:`DEFAULT_LOG_PER_INTERVAL` lines are logged."""

DEFAULT_LOG_PER_INTERVAL = 5


class RateLimitedLog:
    """WARNING lines, at most ``per_interval`` per ``interval`` seconds.

    The first line of a new window says how many were dropped in the windows before it.
    """

    def __init__(
        self,
        log: logging.Logger = logger,
        *,
        interval: float = DEFAULT_LOG_INTERVAL,
        per_interval: int = DEFAULT_LOG_PER_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._interval = interval
        self._per_interval = per_interval
        self._clock = clock
        self._window_start = -interval
        self._logged = 0
        self.dropped = 0

    def warning(self, message: str, *args: Any) -> None:
        now = self._clock()
        if now - self._window_start >= self._interval:
            self._window_start = now
            self._logged = 0
        if self._logged >= self._per_interval:
            self.dropped += 1
            return
        self._logged += 1
        if self.dropped:
            dropped, self.dropped = self.dropped, 0
            self._log.warning(message + " (%d similar lines dropped)", *args, dropped)
        else:
            self._log.warning(message, *args)
