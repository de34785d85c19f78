"""A process this daemon started, reaped the moment it ends (a pidfd on the event loop, else a
thread per process where pidfds are missing)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import threading
from collections.abc import Callable

__all__ = ["Child"]


class Child:
    """A process this daemon started: reaped the moment it ends, without a thread per child."""

    def __init__(self, popen: subprocess.Popen[bytes], on_exit: Callable[[int], None]) -> None:
        self.popen = popen
        self.ended = asyncio.Event()
        self._on_exit = on_exit
        self._loop = asyncio.get_running_loop()
        self._pidfd: int | None = None
        try:
            self._pidfd = os.pidfd_open(popen.pid)
        except (AttributeError, OSError):
            threading.Thread(target=self._wait_in_thread, daemon=True).start()
        else:
            self._loop.add_reader(self._pidfd, self._reap)

    def _wait_in_thread(self) -> None:
        self.popen.wait()
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            self._loop.call_soon_threadsafe(self._reap)

    def _reap(self) -> None:
        code = self.popen.poll()
        if code is None:
            return
        self.forget()
        if not self.ended.is_set():
            self.ended.set()
            self._on_exit(code)

    def forget(self) -> None:
        """Stop watching (the process keeps running)."""
        fd, self._pidfd = self._pidfd, None
        if fd is not None:
            self._loop.remove_reader(fd)
            os.close(fd)
