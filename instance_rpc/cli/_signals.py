"""What each signal does to ``instance-rpc serve``: no signal a daemon may be sent kills it
with its socket and ``.listen`` file left behind.

- SIGINT, SIGTERM, SIGQUIT, SIGPWR (a power failure: init stops everything) and SIGXCPU (the CPU
  time limit is near: the hard limit sends SIGKILL next) stop it gracefully; a second stopping
  signal exits at once, still removing the socket and the ``.listen`` file.
- SIGHUP is handled by the ``serve`` command itself (it reloads).
- SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGSTKFLT, SIGXFSZ (a write past the file
  size limit then fails with EFBIG instead) and the real-time signals SIGRTMIN..SIGRTMAX, all of
  which terminate a process by default, are logged and ignored, unless the process handles or
  ignores one already (a program that runs ``serve`` in-process, with a handler of its own).
- SIGPIPE stays ignored (Python ignores it at start-up: a write to a closed connection fails with
  EPIPE instead). SIGTSTP, SIGTTIN and SIGTTOU stop (pause) the process as they always do;
  SIGKILL and SIGSTOP cannot be caught; the signals of a fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
  SIGABRT, SIGSYS, SIGTRAP) keep their default: the process cannot go on after one.

Source of the defaults: signal(7).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

__all__ = ["IGNORED_SIGNALS", "STOPPING_SIGNALS", "install_signal_handlers"]

logger = logging.getLogger("instance_rpc.cli.serve")

STOPPING_SIGNALS: tuple[int, ...] = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGQUIT", "SIGPWR", "SIGXCPU")
    if hasattr(signal, name)
)
"""Signals that stop the daemon gracefully."""

IGNORED_SIGNALS: tuple[int, ...] = (
    *(
        getattr(signal, name)
        for name in (
            "SIGUSR1",
            "SIGUSR2",
            "SIGALRM",
            "SIGVTALRM",
            "SIGPROF",
            "SIGIO",
            "SIGSTKFLT",
            "SIGXFSZ",
        )
        if hasattr(signal, name)
    ),
    *range(signal.SIGRTMIN, signal.SIGRTMAX + 1),
)
"""Signals that would terminate the daemon by default and are logged and ignored instead."""


def signal_name(signum: int) -> str:
    """``SIGUSR1``; ``SIGRTMIN+3`` for a real-time signal."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"SIGRTMIN+{signum - signal.SIGRTMIN}"


def install_signal_handlers(
    loop: asyncio.AbstractEventLoop,
    on_stop: Callable[[int], None],
) -> None:
    """Handle every catchable signal whose default would end the daemon, SIGHUP excepted (see
    the module docstring): ``on_stop(signum)`` for the stopping ones, a WARNING line for the
    ignored ones. On the loop's thread only (``add_signal_handler``)."""
    for signum in STOPPING_SIGNALS:
        loop.add_signal_handler(signum, on_stop, signum)
    for signum in IGNORED_SIGNALS:
        if signal.getsignal(signum) == signal.SIG_DFL:  # a program embedding serve keeps its own
            loop.add_signal_handler(signum, _ignore, signum)


def _ignore(signum: int) -> None:
    logger.warning("received %s: ignored", signal_name(signum))
