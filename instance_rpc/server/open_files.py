"""Room for a daemon's descriptors: the soft open-files limit (``RLIMIT_NOFILE``) raised at
start-up as far as ``--max-connections`` needs.

Services often start with a soft limit of 1,024 open files (systemd's default is
``LimitNOFILE=1024:524288``). A daemon that allows 1,000 connections, besides its own files,
would run out of descriptors before its connection limit applies: accepting fails with
``EMFILE`` and the backends cannot open their files. Go programs, InfraKit's plugins among
them, raise the soft limit to the hard one when they start (Go 1.19, ``os/rlimit.go``). ``serve``
raises it only as far as the connections and a reserve for everything else need, so the
processes a backend starts inherit a limit near the usual one.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

__all__ = ["RESERVE", "OpenFilesLimit", "make_room"]

RESERVE = 1024
"""Descriptors kept for everything but connections: listeners, state files, backends' pipes."""


@dataclass(frozen=True)
class OpenFilesLimit:
    """The soft open-files limit before and after :func:`make_room`, and what was wanted
    (``resource.RLIM_INFINITY`` for no limit)."""

    before: int
    now: int
    wanted: int

    @property
    def enough(self) -> bool:
        return self.now == resource.RLIM_INFINITY or self.now >= self.wanted


def make_room(max_connections: int, *, reserve: int = RESERVE) -> OpenFilesLimit:
    """Raise this process's soft ``RLIMIT_NOFILE`` to ``max_connections + reserve``, or to the
    hard limit where that is lower; never lower it. Check :attr:`OpenFilesLimit.enough`: the
    hard limit is the operator's (``LimitNOFILE=`` in a systemd unit, ``ulimit -Hn``)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + reserve
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return OpenFilesLimit(before=soft, now=soft, wanted=wanted)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        target = soft
    return OpenFilesLimit(before=soft, now=target, wanted=wanted)
