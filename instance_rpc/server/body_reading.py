"""Reading a request's body within the daemon's limits: size, rate, time and bytes in memory.

:func:`read_body` returns a request's body, or raises :class:`BodyRefused` with the HTTP status
and the words of the refusal:

- a declared ``Content-Length`` over ``max_body`` is refused (413) before a byte of the body is
  read; a chunked body as soon as it grows past it;
- the body's bytes are counted in the daemon's :class:`~instance_rpc.byte_budget.ByteBudget`
  (the declared length before reading, so that a body never waits half-read); when they do not
  fit within ``body_timeout`` seconds the request is refused (503) and the caller may retry;
- once reading starts, the body must arrive at ``min_transfer_rate`` bytes per second after a
  grace of ``transfer_grace`` seconds, and whole within ``body_timeout`` seconds (408);
- a peer that closes its connection before the whole body is in gets nothing (there is no one
  to answer); the refusal says so (``status`` 0).
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .byte_budget import BudgetExhausted, ByteBudget
from .connection_limits import ConnectionLimits

__all__ = ["BodyRefused", "read_body"]


class BodyRefused(Exception):
    """A body not taken: ``status`` (0: the peer left), metrics ``reason``, ``message``."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


def _too_large(max_body: int) -> BodyRefused:
    message = f"invalid request: body larger than the limit of {max_body} bytes"
    return BodyRefused(413, "body_too_large", message)


async def read_body(
    request: web.BaseRequest, *, max_body: int, limits: ConnectionLimits, budget: ByteBudget
) -> tuple[bytes, int]:
    """The body of ``request`` and the bytes counted for it in ``budget`` (the caller releases
    them once done with the body). Raises :class:`BodyRefused`; counts nothing then."""
    content = request.content
    if content.is_eof():
        # The whole body came with the head: take it from the buffer at once.
        body = content.read_nowait()
        if len(body) > max_body:
            raise _too_large(max_body)
        budget.take(len(body))
        return body, len(body)
    declared = request.content_length
    if declared is not None and declared > max_body:
        raise _too_large(max_body)
    counted = 0
    try:
        if declared is not None:
            await _count(budget, declared, limits)
            counted = declared
        body, counted = await _read(request, declared, max_body, limits, budget, counted)
    except BaseException:
        budget.release(counted)
        raise
    return body, counted


async def _count(budget: ByteBudget, size: int, limits: ConnectionLimits) -> None:
    try:
        await budget.acquire(size, limits.body_timeout)
    except BudgetExhausted:
        message = (
            f"the daemon is busy: its {limits.max_buffered_bytes}-byte budget of buffered "
            f"requests and answers (--max-buffered-bytes) stayed full for "
            f"{limits.body_timeout:g}s; retry later"
        )
        raise BodyRefused(503, "buffer_budget", message) from None


async def _read(
    request: web.BaseRequest,
    declared: int | None,
    max_body: int,
    limits: ConnectionLimits,
    budget: ByteBudget,
    counted: int,
) -> tuple[bytes, int]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    latest = started + limits.body_timeout
    chunks: list[bytes] = []
    received = 0
    try:
        async with asyncio.timeout(limits.transfer_deadline(started, 0)) as window:
            while chunk := await request.content.readany():
                received += len(chunk)
                if received > max_body:
                    raise _too_large(max_body)
                if declared is None:  # chunked: counted as it comes, the wait not the peer's
                    window.reschedule(None)
                    waited = loop.time()
                    await _count(budget, len(chunk), limits)
                    counted += len(chunk)
                    pause = loop.time() - waited
                    started, latest = started + pause, latest + pause
                chunks.append(chunk)
                window.reschedule(min(latest, limits.transfer_deadline(started, received)))
    except TimeoutError:
        message = (
            f"invalid request: body not received at {limits.min_transfer_rate} bytes/s "
            f"after {limits.transfer_grace:g}s, or not whole within {limits.body_timeout:g}s "
            f"({received} bytes in {loop.time() - started:.1f}s)"
        )
        raise BodyRefused(408, "body_timeout", message) from None
    except (ConnectionError, HttpProcessingError) as exc:
        why = f"disconnected after {received} bytes of its body ({exc or type(exc).__name__})"
        raise BodyRefused(0, "peer_disconnected", why) from None
    return b"".join(chunks), counted
