"""The cyclic garbage collector: paused while large answers become objects, tuned for daemons.

Turning 100,000 descriptions into objects (or objects into them) allocates millions of objects.
The collector runs every 700 allocations and traverses every survivor each time, so it costs more
than the work itself and stops the event loop for tens of milliseconds at a time. None of these
objects form reference cycles, so nothing is lost by pausing it for such a build.

A pause must last until the objects are gone again: resuming while 100,000 young objects are
alive triggers one collection over all of them. So the service pauses around a backend's
DescribeInstances and the conversion of its answer, ``await`` included: other calls then run
without the collector for that long, leaving their (rare) cycles to the next collection.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["DAEMON_THRESHOLDS", "LARGE", "paused", "settle_daemon"]

LARGE = 1000
"""Objects (descriptions, say) from which a build is worth pausing the collector for."""


DAEMON_THRESHOLDS = (10_000, 10, 10)
"""A daemon's youngest generation is collected after 10,000 allocations rather than 700: its
calls leave little cyclic garbage, and each young collection is then still well under 5 ms."""


@contextlib.contextmanager
def paused(large: bool = True) -> Iterator[None]:
    """Disable the collector for the block when ``large`` (and it is enabled)."""
    if not large or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def settle_daemon() -> None:
    """Once a daemon has started: freeze what start-up created (imports, the app, the service)
    out of every future collection, and collect the youngest generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*DAEMON_THRESHOLDS)
