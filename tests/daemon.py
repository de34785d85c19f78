"""Helpers for tests that need a real daemon: short socket directories, `instance-rpc serve`
run as a subprocess, and waiting (bounded) for conditions that are not readiness."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path

from instance_rpc.testing.daemon import DaemonFailed, wait_listening

CLI = [sys.executable, "-c", "from instance_rpc.cli import main; main()"]


@contextlib.contextmanager
def short_tmp_dir() -> Iterator[Path]:
    """A short directory: Unix socket paths are limited to about 100 bytes."""
    path = Path(tempfile.mkdtemp(prefix="irpc-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _environment(extra: dict[str, str] | None) -> dict[str, str] | None:
    return None if extra is None else {**os.environ, **extra}


def run_cli(
    *args: str, timeout: float = 60.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=_environment(env),
    )


class Daemon:
    """``instance-rpc serve ARGS`` in a subprocess, ready when it says where it listens; ``cli``
    is the command that runs ``instance-rpc`` (:data:`CLI`)."""

    def __init__(
        self, *args: str, env: dict[str, str] | None = None, cli: Sequence[str] = CLI
    ) -> None:
        self.args = args
        self.listening = ""
        # A file, not a pipe: a pipe nobody reads fills up and blocks the daemon.
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115  (closed by close())
        self.process = subprocess.Popen(
            [*cli, "serve", *args], stdout=subprocess.PIPE, stderr=self._log, env=_environment(env)
        )

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read()

    def wait_listening(self, timeout: float = 20.0) -> str:
        """The daemon's "listening on ..." line; raises if it exits or stays silent."""
        assert self.process.stdout is not None
        try:
            self.listening = wait_listening(self.process, self.process.stdout, timeout)
        except DaemonFailed as exc:
            raise AssertionError(f"daemon {self.args}: {exc}: {self.log()}") from None
        return self.listening

    @property
    def socket_path(self) -> Path:
        """Where it listens, read off its "listening on PATH (types: ...)" line."""
        return Path(self.listening.removeprefix("listening on ").split(" (types:")[0].strip())

    def signal(self, signum: int, timeout: float = 20.0) -> int:
        """Send ``signum`` and return the exit status."""
        self.process.send_signal(signum)
        return self.process.wait(timeout)

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """The daemon stopped (SIGSTOP): it accepts and reads nothing, so what callers send
        waits in the kernel; continued (SIGCONT) however the block ends."""
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        """Kill it if it still runs; forget its log."""
        if self.process.poll() is None:
            self.kill()
        self._log.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.communicate(timeout=20)

    def stop(self) -> str:
        """SIGTERM; return its log."""
        self.process.terminate()
        self.process.communicate(timeout=20)
        return self.log()


@contextlib.contextmanager
def running_daemon(
    *args: str, env: dict[str, str] | None = None, cli: Sequence[str] = CLI
) -> Iterator[Daemon]:
    daemon = Daemon(*args, env=env, cli=cli)
    try:
        daemon.wait_listening()
        yield daemon
    finally:
        daemon.close()


async def destroy_finished(state: Path, instance_id: str, timeout: float = 30.0) -> None:
    """Wait until a daemon of the process backend on ``state`` has finished the Destroy it
    answered (its record is gone): stopping the daemon before that leaves the stop to the next
    daemon on ``state``."""

    async def gone() -> bool:
        return not (state / f"{instance_id}.json").exists()

    await eventually(gone, timeout, what=f"the Destroy of {instance_id} finished")


async def eventually(
    condition: Callable[[], Awaitable[bool]], timeout: float = 10.0, what: str = "condition"
) -> None:
    """Wait (bounded) for something outside our control, such as a process ending."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.02)
