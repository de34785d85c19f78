"""The server processes under test, started from this package and watched through ``/proc``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from . import procstat

__all__ = ["ServerProcess"]

_ROOT = Path(__file__).resolve().parent.parent


def _open_log(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:]


@dataclass
class ServerProcess:
    """One server (``benchmarks.bare`` or ``benchmarks.daemon``) running in its own process."""

    name: str
    socket_path: str
    process: asyncio.subprocess.Process

    @classmethod
    async def start(
        cls,
        name: str,
        module: str,
        socket_path: Path,
        *options: str,
        ready: str = "ready",
    ) -> ServerProcess:
        """Start ``python -m module SOCKET OPTIONS...``; wait for a line starting with ``ready``.

        Its log (stderr) goes to ``SOCKET.log``: written as a real daemon's would be, not shown.
        """
        log_path = Path(f"{socket_path}.log")
        log = _open_log(log_path)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                module,
                str(socket_path),
                *options,
                cwd=_ROOT,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        finally:
            os.close(log)
        server = cls(name, str(socket_path), process)
        line = await server._line()
        if not line.startswith(ready):
            await server.stop()
            raise RuntimeError(f"{module} did not start: {line!r}\n{_tail(log_path)}")
        return server

    async def _line(self) -> str:
        assert self.process.stdout is not None
        return (await self.process.stdout.readline()).decode().strip()

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        return procstat.cpu_seconds(self.pid)

    def memory_kib(self) -> dict[str, int]:
        return procstat.memory_kib(self.pid)

    async def collector(self) -> dict[str, float]:
        """The server's collector figures since the last call."""
        self.process.send_signal(signal.SIGUSR1)
        return dict(json.loads(await self._line()))

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
        await self.process.wait()
