"""A :class:`~instance_rpc.rpc.streaming.StreamedAnswer` written as the HTTP response as made.

The answer goes out with chunked transfer encoding (RFC 9112 section 7.1; Go's net/http client
reads it as any other body), one write per piece, each awaiting the peer's reading (aiohttp's
drain), so the daemon holds about one piece of it at a time. A failure while the pieces are made:

- before the first byte is sent (making the first piece; for an HTTP/1.0 request, which gets
  the answer joined, with its length: making any piece): the request is answered with a
  JSON-RPC ``-32603`` error, as any unexpected failure of the app is;
- after it: the failure is logged and the connection aborted, without the chunked body's last
  chunk, so the client sees a broken answer (aiohttp: ``ClientPayloadError``; Go:
  ``unexpected EOF``), never a truncated but well-formed JSON document.
"""

from __future__ import annotations

import logging

from aiohttp import HttpVersion11, web

from ..errors import INTERNAL_ERROR
from ..rpc.envelope import error_bytes
from ..rpc.streaming import StreamedAnswer

__all__ = ["send_streamed"]

logger = logging.getLogger("instance_rpc.streamed_response")


def _json_response(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")


async def send_streamed(request: web.BaseRequest, answer: StreamedAnswer) -> web.StreamResponse:
    """Write ``answer`` as the response to ``request`` (HTTP 200, ``application/json``, chunked;
    joined, with its length, to an HTTP/1.0 request, which chunked encoding is not for); see the
    module's docstring for what a failure while writing does."""
    try:
        if request.version < HttpVersion11:
            return _json_response(answer.join())
        first = next(answer.pieces, None)
    except Exception:
        logger.exception("unexpected failure answering a request")
        return _json_response(error_bytes(INTERNAL_ERROR, "internal error"))
    response = web.StreamResponse()
    response.content_type = "application/json"
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        if first is None:
            await response.write(answer.head + answer.tail)
        else:
            await response.write(answer.head + first)
            for piece in answer.pieces:
                await response.write(piece)
            await response.write(answer.tail)
    except ConnectionError:
        pass  # the client went away; aiohttp closes the connection
    except Exception:
        logger.exception("failure while streaming an answer; closing the connection")
        if request.transport is not None:
            request.transport.abort()
    return response
