"""Answers sent in pieces: a large result is written as it is produced, never held whole.

A method may return a :class:`StreamedResult`: its result struct with one member left to be
filled by an iterator of byte pieces (the encoded ``Descriptions`` of a large DescribeInstances,
in slices). For a single request, :mod:`instance_rpc.protocol` makes it a
:class:`StreamedAnswer` (the response envelope's head, the pieces, its tail), which the HTTP app
writes as the pieces are made (:mod:`instance_rpc.streamed_response`). A batch's answer is a
:class:`StreamedAnswer` too, whose pieces are made asynchronously (each request's answer in
turn). For a caller that wants bytes, the answer is joined (:meth:`StreamedAnswer.collect`):
the same bytes either way. The call's log line and metrics see it end when the method returns its
:class:`StreamedResult`, before any piece is made or sent. No transport here: this module is
the protocol layer's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import msgspec

from .envelope import ENCODER, SuccessEnvelope

__all__ = ["PLACEHOLDER", "Pieces", "StreamedAnswer", "StreamedResult"]

_MARK = b"\x00"  # never in encoded JSON outside raw members: msgspec escapes it in strings
PLACEHOLDER = msgspec.Raw(_MARK)
"""The value of the member a :class:`StreamedResult`'s pieces fill."""


Pieces = Iterator[bytes] | AsyncIterator[bytes]
"""The pieces of a :class:`StreamedAnswer`: made as they are asked for, in order."""


class StreamedAnswer:
    """A response body in pieces: ``head``, then each of ``pieces``, then ``tail``.

    ``pieces`` is consumed once, by :meth:`parts`, :meth:`collect` or :meth:`join`.
    """

    __slots__ = ("head", "pieces", "tail")

    def __init__(self, head: bytes, pieces: Pieces, tail: bytes) -> None:
        self.head = head
        self.pieces = pieces
        self.tail = tail

    def join(self) -> bytes:
        """The whole body as one ``bytes``; ``TypeError`` if the pieces are asynchronous
        (use :meth:`collect`)."""
        if not isinstance(self.pieces, Iterator):
            raise TypeError("asynchronous pieces: await collect()")
        return b"".join((self.head, *self.pieces, self.tail))

    async def collect(self) -> bytes:
        """The whole body as one ``bytes``."""
        return b"".join([part async for part in self.parts()])

    async def parts(self) -> AsyncIterator[bytes]:
        """``head``, each piece as it is made, ``tail``."""
        yield self.head
        pieces = self.pieces
        if isinstance(pieces, Iterator):
            for piece in pieces:
                yield piece
        else:
            async for piece in pieces:
                yield piece
        yield self.tail


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
