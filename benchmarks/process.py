"""How the benchmark's server processes talk to the runner.

A server process prints ``ready`` on stdout once its socket accepts connections; on SIGUSR1 it
prints one JSON line with its collector figures since the last report (:class:`GCWatch`); on
SIGTERM or SIGINT it closes and exits.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Awaitable, Callable

from aiohttp import web

from instance_rpc import eventloop

from .gcwatch import GCWatch

__all__ = ["Close", "serve", "serve_app"]

Close = Callable[[], Awaitable[None]]


def serve(open_server: Callable[[], Awaitable[Close]]) -> None:
    """Run the server ``open_server`` starts until a signal stops it."""
    eventloop.run(_serve(open_server))


def serve_app(app: web.Application, socket_path: str) -> None:
    """Serve a plain aiohttp app on ``socket_path``, configured as the daemon's app is."""

    async def open_server() -> Close:
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        await web.UnixSite(runner, socket_path).start()
        return runner.cleanup

    serve(open_server)


async def _serve(open_server: Callable[[], Awaitable[Close]]) -> None:
    watch = GCWatch()
    watch.install()
    close = await open_server()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, lambda: print(json.dumps(watch.take()), flush=True))
    print("ready", flush=True)
    try:
        await stop.wait()
    finally:
        await close()
