"""How the benchmark's server processes talk to the runner.

A server process prints ``ready`` on stdout once its socket accepts connections; on SIGUSR1 it
prints one JSON line with its collector figures since the last report
(:func:`~benchmarks.gcwatch.report_on_sigusr1`); on SIGTERM or SIGINT it closes and exits.
"""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web

from instance_rpc.cli import eventloop

from .gcwatch import report_on_sigusr1

__all__ = ["serve_app"]


def serve_app(app: web.Application, socket_path: str) -> None:
    """Serve a plain aiohttp app on ``socket_path``, configured as the daemon's app is, until
    SIGTERM or SIGINT."""
    report_on_sigusr1()
    eventloop.run(_serve(app, socket_path))


async def _serve(app: web.Application, socket_path: str) -> None:
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.UnixSite(runner, socket_path).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print("ready", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
