"""Times every run of the cyclic garbage collector in this process (``gc.callbacks``)."""

from __future__ import annotations

import gc
import json
import signal
import time
from types import FrameType
from typing import Any

__all__ = ["PAUSE_LIMIT_MS", "GCWatch", "report_on_sigusr1"]

PAUSE_LIMIT_MS = 5.0
"""A collection longer than this counts as a pause worth reporting."""


class GCWatch:
    """Counts collections and their durations until :meth:`take` hands them over and resets."""

    def __init__(self) -> None:
        self._started = 0.0
        self._reset()

    def _reset(self) -> None:
        self.collections = 0
        self.total_ms = 0.0
        self.max_ms = 0.0
        self.over_limit = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        elapsed_ms = (time.perf_counter() - self._started) * 1000
        self.collections += 1
        self.total_ms += elapsed_ms
        self.max_ms = max(self.max_ms, elapsed_ms)
        if elapsed_ms > PAUSE_LIMIT_MS:
            self.over_limit += 1

    def install(self) -> None:
        gc.callbacks.append(self)

    def take(self) -> dict[str, float]:
        """The figures since the last call."""
        figures = {
            "collections": float(self.collections),
            "total_ms": round(self.total_ms, 3),
            "max_ms": round(self.max_ms, 3),
            "over_limit": float(self.over_limit),
        }
        self._reset()
        return figures


def report_on_sigusr1() -> None:
    """Time this process's collections; on SIGUSR1 print their figures as one JSON line."""
    watch = GCWatch()
    watch.install()

    def report(signum: int, frame: FrameType | None) -> None:
        print(json.dumps(watch.take()), flush=True)

    signal.signal(signal.SIGUSR1, report)
