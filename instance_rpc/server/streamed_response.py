"""Large answers written as the HTTP response within the daemon's limits, small ones as they are.

An answer of at most :data:`SMALL_ANSWER` bytes is written whole (the kernel's socket buffer takes
it). A larger one, and every :class:`~instance_rpc.streaming.StreamedAnswer`, is written piece by
piece, each write awaiting the peer's reading (aiohttp's drain), and counted in the daemon's
:class:`~instance_rpc.byte_budget.ByteBudget` until it is written: a large answer from its making
to its last byte (:func:`send_large`), a streamed one piece by piece, the next piece being made
only while the budget is not full (:func:`send_streamed`). The peer must read at
``min_transfer_rate`` bytes per second: each write (at most a piece, or
:data:`SMALL_ANSWER` bytes of a large answer) must be taken within ``transfer_grace`` seconds
plus a second per ``min_transfer_rate`` bytes written (time spent waiting for the budget or
making pieces excluded); a peer that does not is cut off, with one rate-limited WARNING line.

A streamed answer goes out with chunked transfer encoding (RFC 9112 section 7.1; Go's net/http
client reads it as any other body), joined with its length to an HTTP/1.0 request. A failure
while its pieces are made:

- before the first byte is sent (making the first piece; for an HTTP/1.0 request, making any
  piece): the request is answered with a JSON-RPC ``-32603`` error, as any unexpected failure of
  the app is;
- after it: the failure is logged and the connection aborted, without the chunked body's last
  chunk, so the client sees a broken answer (aiohttp: ``ClientPayloadError``; Go:
  ``unexpected EOF``), never a truncated but well-formed JSON document.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import HttpVersion11, web

from ..errors import INTERNAL_ERROR
from ..rpc.envelope import error_bytes
from ..rpc.streaming import StreamedAnswer
from .byte_budget import BudgetExhausted, ByteBudget
from .connection_limits import ConnectionLimits

__all__ = ["SMALL_ANSWER", "Report", "send_large", "send_streamed"]

logger = logging.getLogger("instance_rpc.streamed_response")

SMALL_ANSWER = 64 * 1024
"""Answers up to this size are written whole, uncounted: aiohttp's own write buffer limit."""

_SLICE = SMALL_ANSWER


class _SlowReader(Exception):
    pass


def _json_response(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")


async def _chain(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for part in rest:
        yield part


async def _slices(answer: bytes) -> AsyncIterator[bytes]:
    view = memoryview(answer)
    for start in range(0, len(view), _SLICE):
        yield bytes(view[start : start + _SLICE])


async def _write_paced(
    response: web.StreamResponse,
    parts: AsyncIterator[bytes],
    limits: ConnectionLimits,
    budget: ByteBudget | None,
) -> None:
    """Write each of ``parts``; with ``budget``, count each while written and make the next one
    only once the budget has room. Raises :class:`_SlowReader` when the peer reads too slowly,
    :class:`BudgetExhausted` when the budget stays full for ``body_timeout`` seconds."""
    loop = asyncio.get_running_loop()
    try:
        await _write_parts(response, parts, limits, budget, loop)
    except TimeoutError:
        raise _SlowReader(f"answer not read at {limits.min_transfer_rate} bytes/s") from None


async def _write_parts(
    response: web.StreamResponse,
    parts: AsyncIterator[bytes],
    limits: ConnectionLimits,
    budget: ByteBudget | None,
    loop: asyncio.AbstractEventLoop,
) -> None:
    async with asyncio.timeout(None) as window:
        while True:
            window.reschedule(None)
            if budget is not None:
                await budget.wait_room(limits.body_timeout)
            part = await anext(parts, None)
            if part is None:
                return
            # Each write is timed from its start: bytes the kernel's socket buffers took earn
            # no time for the next one (as nginx's send_timeout, with a rate).
            window.reschedule(limits.transfer_deadline(loop.time(), len(part)))
            size = len(part) if budget is not None else 0
            if budget is not None:
                budget.take(size)
            try:
                await response.write(part)
            finally:
                if budget is not None:
                    budget.release(size)


Report = Callable[[web.BaseRequest, str, str], None]
"""Told of an answer cut off: the request, the reason (``"slow_reader"``, ``"buffer_budget"``)
and why, in words."""


def _cut_off(request: web.BaseRequest, reason: str, why: str, report: Report | None) -> None:
    if report is not None:
        report(request, reason, why)
    if request.transport is not None:
        request.transport.abort()


async def _send(
    request: web.BaseRequest,
    response: web.StreamResponse,
    parts: AsyncIterator[bytes],
    limits: ConnectionLimits,
    budget: ByteBudget | None,
    report: Report | None,
) -> None:
    try:
        await _write_paced(response, parts, limits, budget)
    except ConnectionError:
        pass  # the client went away; aiohttp closes the connection
    except _SlowReader as exc:
        _cut_off(request, "slow_reader", f"{exc} after {limits.transfer_grace:g}s", report)
    except BudgetExhausted:
        why = "the buffered-bytes budget stayed full while answering"
        _cut_off(request, "buffer_budget", why, report)
    except Exception:
        logger.exception("failure while streaming an answer; closing the connection")
        if request.transport is not None:
            request.transport.abort()


async def send_large(
    request: web.BaseRequest,
    answer: bytes,
    budget: ByteBudget,
    limits: ConnectionLimits,
    report: Report | None = None,
) -> web.StreamResponse:
    """Write ``answer`` (larger than :data:`SMALL_ANSWER`) with its length, in slices, counted
    in ``budget`` until its last byte is written."""
    budget.take(len(answer))
    try:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(answer)
        await response.prepare(request)
        await _send(request, response, _slices(answer), limits, None, report)
    finally:
        budget.release(len(answer))
    return response


async def send_streamed(
    request: web.BaseRequest,
    answer: StreamedAnswer,
    budget: ByteBudget,
    limits: ConnectionLimits,
    report: Report | None = None,
) -> web.StreamResponse:
    """Write ``answer`` (HTTP 200, ``application/json``, chunked; joined, with its length, to an
    HTTP/1.0 request, which chunked encoding is not for); see the module's docstring for what a
    failure while writing does."""
    parts = answer.parts()
    try:
        if request.version < HttpVersion11:
            whole = await answer.collect()
            if len(whole) <= SMALL_ANSWER:
                return _json_response(whole)
            return await send_large(request, whole, budget, limits, report)
        first = await anext(parts) + await anext(parts)  # the head and the first piece
    except Exception:
        logger.exception("unexpected failure answering a request")
        return _json_response(error_bytes(INTERNAL_ERROR, "internal error"))
    response = web.StreamResponse()
    response.content_type = "application/json"
    response.enable_chunked_encoding()
    await response.prepare(request)
    await _send(request, response, _chain(first, parts), limits, budget, report)
    return response
