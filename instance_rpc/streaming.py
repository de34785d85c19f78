"""Answers sent in pieces: a large result is written as it is produced, never held whole.

A method may return a :class:`StreamedResult`: its result struct with one member left to be
filled by an iterator of byte pieces (the encoded ``Descriptions`` of a large DescribeInstances,
in slices). For a single request, :mod:`instance_rpc.protocol` makes it a
:class:`StreamedAnswer` (the response envelope's head, the pieces, its tail) and the HTTP app
writes it with chunked transfer encoding (RFC 9112 section 7.1; Go's net/http client reads it
like any other body) through :func:`send_streamed`. In a batch, or for a caller that wants bytes,
the answer is joined (:meth:`StreamedAnswer.join`): the same bytes either way.

A failure while the pieces are produced:

- before the first byte is sent (the first piece): the request is answered with a JSON-RPC
  ``-32603`` error, as any unexpected failure of the app is;
- after it: the failure is logged and the connection aborted, without the chunked body's last
  chunk, so the client sees a broken answer (aiohttp: ``ClientPayloadError``; Go:
  ``unexpected EOF``), never a truncated but well-formed JSON document.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec
from aiohttp import web

from .envelope import ENCODER, SuccessEnvelope, error_bytes
from .errors import INTERNAL_ERROR

__all__ = ["PLACEHOLDER", "StreamedAnswer", "StreamedResult", "send_streamed"]

logger = logging.getLogger(__name__)

_MARK = b"\x00"  # never in encoded JSON outside raw members: msgspec escapes it in strings
PLACEHOLDER = msgspec.Raw(_MARK)
"""The value of the member a :class:`StreamedResult`'s pieces fill."""


class StreamedAnswer:
    """A response body in pieces: ``head``, then each of ``pieces``, then ``tail``.

    ``pieces`` is consumed once, by :meth:`join` or by :func:`send_streamed`.
    """

    __slots__ = ("head", "pieces", "tail")

    def __init__(self, head: bytes, pieces: Iterator[bytes], tail: bytes) -> None:
        self.head = head
        self.pieces = pieces
        self.tail = tail

    def join(self) -> bytes:
        """The whole body as one ``bytes``."""
        return b"".join((self.head, *self.pieces, self.tail))


class StreamedResult:
    """A result whose member set to :data:`PLACEHOLDER` in ``template`` (a wire struct) is the
    concatenation of ``pieces``, each produced only when it is to be sent."""

    __slots__ = ("pieces", "template")

    def __init__(self, template: msgspec.Struct, pieces: Iterable[bytes]) -> None:
        self.template = template
        self.pieces = iter(pieces)

    def answer(self, request_id: Any) -> StreamedAnswer:
        """The success response to the request ``request_id``, in pieces."""
        encoded = ENCODER.encode(SuccessEnvelope(result=self.template, id=request_id))
        head, mark, tail = encoded.partition(_MARK)
        if not mark:
            raise ValueError("the streamed result's template holds no PLACEHOLDER")
        return StreamedAnswer(head, self.pieces, tail)


async def send_streamed(request: web.BaseRequest, answer: StreamedAnswer) -> web.StreamResponse:
    """Write ``answer`` as the response to ``request`` (HTTP 200, ``application/json``, chunked);
    see the module's docstring for what a failure while writing does."""
    try:
        first = next(answer.pieces, None)
    except Exception:
        logger.exception("unexpected failure answering a request")
        body = error_bytes(INTERNAL_ERROR, "internal error")
        return web.Response(body=body, content_type="application/json")
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
