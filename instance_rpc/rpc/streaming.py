"""Answers sent in pieces: a large result is written as it is produced, never held whole.

A method may return a :class:`StreamedResult`: its result struct with one member left to be
filled by an iterator of byte pieces (the encoded ``Descriptions`` of a large DescribeInstances,
in slices). For a single request, :mod:`instance_rpc.protocol` makes it a
:class:`StreamedAnswer` (the response envelope's head, the pieces, its tail), which the HTTP app
writes as the pieces are made (:mod:`instance_rpc.streamed_response`). In a batch, or for a
caller that wants bytes, the answer is joined (:meth:`StreamedAnswer.join`): the same bytes
either way. The call's log line and metrics see it end when the method returns its
:class:`StreamedResult`, before any piece is made or sent. No transport here: this module is
the protocol layer's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from .envelope import ENCODER, SuccessEnvelope

__all__ = ["PLACEHOLDER", "StreamedAnswer", "StreamedResult"]

_MARK = b"\x00"  # never in encoded JSON outside raw members: msgspec escapes it in strings
PLACEHOLDER = msgspec.Raw(_MARK)
"""The value of the member a :class:`StreamedResult`'s pieces fill."""


class StreamedAnswer:
    """A response body in pieces: ``head``, then each of ``pieces``, then ``tail``.

    ``pieces`` is consumed once, by :meth:`join` or by the transport sending them.
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
