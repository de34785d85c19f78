"""Descriptions kept half-encoded, so a DescribeInstances answer is spliced from bytes.

The wire form of a Description is what ``instance_rpc.wire.WireDescription`` encodes: a JSON
object with the Go field names ``ID``, ``LogicalID`` (``null`` when absent) and ``Tags``, then
``Properties``, the raw JSON byte for byte, only when present and asked for (Go omits empty
Properties). A backend keeps each instance's *head* (:func:`encode_head`: the object up to its
Properties, without the closing brace), rebuilt only when the instance changes (Provision,
Label); :func:`join_descriptions` then builds the whole ``Descriptions`` array in one
``bytes.join``: no object per instance, one allocation for the answer. See
:class:`~instance_rpc.spi.EncodedDescriber`.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

__all__ = ["encode_head", "join_descriptions"]

_PROPERTIES = b',"Properties":'
_CLOSE = b"}"
_NEXT = b"},"


class _Head(msgspec.Struct):
    ID: str
    LogicalID: str | None
    Tags: dict[str, str]


_encode = msgspec.json.Encoder().encode


def encode_head(instance_id: str, logical_id: str | None, tags: dict[str, str]) -> bytes:
    """``{"ID":...,"LogicalID":...,"Tags":{...}`` (no closing brace)."""
    return _encode(_Head(instance_id, logical_id, tags))[:-1]


def join_descriptions(
    found: Iterable[tuple[bytes, msgspec.Raw | None]], with_properties: bool
) -> bytes:
    """The JSON array of the descriptions whose heads and Properties are ``found``, in order."""
    parts: list[bytes | msgspec.Raw] = [b"["]
    append = parts.append
    if with_properties:
        for head, properties in found:
            append(head)
            if properties is not None:
                append(_PROPERTIES)
                append(properties)
            append(_NEXT)
    else:
        for head, _ in found:
            append(head)
            append(_NEXT)
    if len(parts) == 1:
        return b"[]"
    parts[-1] = b"}]"
    return b"".join(parts)
