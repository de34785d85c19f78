"""The bare baseline: an aiohttp app on a Unix socket answering pre-encoded JSON-RPC results.

Any ``POST`` is answered with one small fixed result, after reading the body as a real handler
would. ``PUT /body/NAME`` stores bytes that ``POST /NAME`` answers from then on (the benchmark
loads the daemon's own DescribeInstances answers this way, so both send the same bytes).

Run as ``python -m benchmarks.bare SOCKET``; see :mod:`benchmarks.process` for the protocol on
stdout and signals.
"""

from __future__ import annotations

import sys

from aiohttp import web

from .process import serve_app

__all__ = ["SMALL_RESULT", "create_bare_app"]

SMALL_RESULT = b'{"jsonrpc":"2.0","result":{"Type":"","OK":true},"id":1}'


def create_bare_app() -> web.Application:
    bodies: dict[str, bytes] = {}

    async def answer(request: web.Request) -> web.StreamResponse:
        await request.read()
        body = bodies.get(request.match_info["name"], SMALL_RESULT)
        return web.Response(body=body, content_type="application/json")

    async def store(request: web.Request) -> web.StreamResponse:
        bodies[request.match_info["name"]] = await request.read()
        return web.Response(status=204)

    app = web.Application(client_max_size=1 << 30)
    app.router.add_put("/body/{name}", store)
    app.router.add_post("/{name:.*}", answer)
    return app


if __name__ == "__main__":
    serve_app(create_bare_app(), sys.argv[1])
