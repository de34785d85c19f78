"""Descriptions kept encoded, so a DescribeInstances answer is spliced from bytes.

The wire form of a Description is what ``instance_rpc.wire.WireDescription`` encodes: a JSON
object with the Go field names ``ID``, ``LogicalID`` (``null`` when absent) and ``Tags``, then
``Properties``, the raw JSON byte for byte, only when present and asked for (Go omits empty
Properties). A backend keeps each instance's *head* (:func:`encode_head`: the object up to its
Properties, without the closing brace) or the whole object (:func:`encode_description`), rebuilt
only when the instance changes (Provision, Label); :func:`descriptions_array` then joins the
objects into the ``Descriptions`` array: in one ``bytes.join`` for a small answer, in slices of
:data:`SLICE` descriptions, made one at a time as the daemon sends them, for a large one (see
:class:`~instance_rpc.spi.EncodedDescriber`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import msgspec

__all__ = [
    "PROPERTIES_MEMBER",
    "SLICE",
    "descriptions_array",
    "encode_description",
    "encode_head",
]

PROPERTIES_MEMBER = b',"Properties":'
"""What follows a head when the description has Properties."""

SLICE = 1000
"""Descriptions per piece of a large answer (about 230 KB with small Properties)."""

_CLOSE = b"}"


class _Head(msgspec.Struct):
    ID: str
    LogicalID: str | None
    Tags: dict[str, str]


_encode = msgspec.json.Encoder().encode


def encode_head(instance_id: str, logical_id: str | None, tags: dict[str, str]) -> bytes:
    """``{"ID":...,"LogicalID":...,"Tags":{...}`` (no closing brace)."""
    return _encode(_Head(instance_id, logical_id, tags))[:-1]


def encode_description(head: bytes, properties: bytes | msgspec.Raw | None) -> bytes:
    """The whole description object of ``head`` (:func:`encode_head`) and raw ``properties``."""
    if properties is None:
        return head + _CLOSE
    return b"".join((head, PROPERTIES_MEMBER, properties, _CLOSE))


def descriptions_array(objects: Sequence[bytes]) -> bytes | Iterator[bytes]:
    """The JSON array of ``objects`` (encoded descriptions, in order): ``bytes`` for at most
    :data:`SLICE` of them, else the array in pieces of :data:`SLICE` descriptions each, every
    piece made only when it is asked for."""
    if len(objects) <= SLICE:
        return b"[" + b",".join(objects) + b"]"
    return _slices(objects)


def _slices(objects: Sequence[bytes]) -> Iterator[bytes]:
    yield b"[" + b",".join(objects[:SLICE])
    for start in range(SLICE, len(objects), SLICE):
        yield b"," + b",".join(objects[start : start + SLICE])
    yield b"]"
