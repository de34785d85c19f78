"""Run ``instance-rpc serve`` as a real process, the way a user does."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

READY = "listening on "


class Daemon:
    def __init__(self, process: subprocess.Popen[str], socket_path: Path) -> None:
        self.process = process
        self.socket_path = socket_path

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout)

    def stderr(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read()


def serve_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "instance_rpc", "serve", *args]


def read_line(process: subprocess.Popen[str], timeout: float = 20.0) -> str:
    """The next line the process prints, or '' if it exits (or the deadline passes) first."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if selector.select(timeout=0.2):
                return process.stdout.readline()
            if process.poll() is not None:
                return process.stdout.readline()
    return ""


def run_daemon(
    args: list[str], env: dict[str, str] | None = None
) -> Daemon | subprocess.Popen[str]:
    """Start the daemon; a :class:`Daemon` once it listens, else the exited process."""
    full_env = {**os.environ, **(env or {})}
    process = subprocess.Popen(
        serve_command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        cwd=Path(__file__).resolve().parents[1],
    )
    line = read_line(process)
    if line.startswith(READY):
        return Daemon(process, Path(line.removeprefix(READY).split(" (")[0]))
    process.wait(20)
    return process


@contextmanager
def daemon(args: list[str], env: dict[str, str] | None = None) -> Iterator[Daemon]:
    started = run_daemon(args, env)
    if not isinstance(started, Daemon):
        raise AssertionError(
            f"daemon did not start: {started.stderr.read() if started.stderr else ''}"
        )
    try:
        yield started
    finally:
        if started.process.poll() is None:
            started.process.kill()
            started.process.wait(10)
