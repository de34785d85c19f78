"""Plugin daemons for synchronous tests: in a thread, or as a real process.

    with serve_in_thread(MemoryPlugin(), tmp_path / "p.sock") as path:
        SyncPluginClient(path) ...          # or CliRunner().invoke(main, ["describe", str(path)])

    with spawn_daemon(["--plugin", "memory"], tmp_path / "p.sock", log=tmp_path / "log") as path:
        subprocess.run(["instance-rpc", "describe", str(path)])

    with spawn([sys.executable, "examples/custom_plugin.py", "/tmp/f.sock"]) as process:
        ...                                 # any program that prints "listening on" when ready

Each returns once the socket accepts connections, and stops the daemon when the block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from ..rpc.service import InstanceService
from ..server import PluginServer
from ..spi import Plugin

__all__ = ["DaemonFailed", "serve_command", "serve_in_thread", "spawn", "spawn_daemon"]

READY_LINE = "listening on "
"""What ``instance-rpc serve`` prints on stdout once its socket accepts connections."""


class DaemonFailed(RuntimeError):
    """The daemon exited, or did not say it was listening, in time."""


@contextlib.contextmanager
def serve_in_thread(
    backends: Mapping[str, Plugin] | Plugin, socket_path: str | os.PathLike[str]
) -> Iterator[Path]:
    """Serve ``backends`` on ``socket_path`` from an event loop in a thread of its own."""
    mapping = backends if isinstance(backends, Mapping) else {"": backends}
    server = PluginServer(InstanceService(mapping), socket_path)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="plugin server", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=10)
        yield server.socket_path
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def serve_command(socket_path: str | os.PathLike[str], *serve_args: str) -> list[str]:
    """``python -m instance_rpc serve --socket PATH *serve_args`` with this interpreter."""
    return [
        sys.executable,
        "-m",
        "instance_rpc",
        "serve",
        "--socket",
        str(socket_path),
        *serve_args,
    ]


@contextlib.contextmanager
def spawn(
    command: Sequence[str],
    *,
    log: str | os.PathLike[str] | None = None,
    ready_timeout: float = 20.0,
    env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` until the block ends, once it has printed "listening on" on stdout.

    Never sleeps: it reads the process's output until that line or the deadline. Its stderr goes
    to ``log`` (default: discarded). On exit it is sent SIGTERM, and killed if it does not stop.
    """
    with contextlib.ExitStack() as stack:
        stderr: IO[bytes] | int = subprocess.DEVNULL
        if log is not None:
            stderr = stack.enter_context(open(log, "wb"))
        process = subprocess.Popen(
            list(command),
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=None if env is None else dict(env),
        )
        stack.callback(_stop, process)
        assert process.stdout is not None
        wait_listening(process, process.stdout, ready_timeout)
        yield process


@contextlib.contextmanager
def spawn_daemon(
    serve_args: Sequence[str],
    socket_path: str | os.PathLike[str],
    *,
    log: str | os.PathLike[str] | None = None,
    ready_timeout: float = 20.0,
    env: Mapping[str, str] | None = None,
) -> Iterator[Path]:
    """Run ``instance-rpc serve --socket PATH *serve_args`` (see :func:`spawn`); yield PATH."""
    command = serve_command(socket_path, *serve_args)
    with spawn(command, log=log, ready_timeout=ready_timeout, env=env):
        yield Path(socket_path)


def wait_listening(
    process: subprocess.Popen[bytes], stdout: IO[bytes], timeout: float = 20.0
) -> str:
    """Read the daemon's output until its "listening on ..." line, and return that line.

    Never sleeps: it waits on the pipe, up to ``timeout`` seconds in all.
    """
    deadline = time.monotonic() + timeout
    seen = b""
    ready = READY_LINE.encode()
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        while ready not in seen or not seen[seen.index(ready) :].count(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DaemonFailed(f"daemon did not say it was listening within {timeout:g}s")
            if not selector.select(remaining):
                continue
            chunk = os.read(stdout.fileno(), 4096)
            if not chunk:
                code = process.wait()
                raise DaemonFailed(f"daemon exited with status {code} before listening")
            seen += chunk
    start = seen.index(ready)
    return seen[start : seen.index(b"\n", start)].decode()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()
