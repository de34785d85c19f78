"""One instance's Description kept in its wire form, ready to splice into an answer.

The wire form is what ``instance_rpc.wire.WireDescription`` encodes: a JSON object with the Go
field names ``ID``, ``LogicalID`` (``null`` when absent) and ``Tags``, then ``Properties``, the
raw JSON byte for byte, only when the instance has any (Go omits empty Properties). Kept per
instance and rebuilt only when the instance changes (Provision, Label), so a DescribeInstances
of 100,000 instances builds no object per instance: see :class:`~instance_rpc.spi.EncodedDescriber`.
"""

from __future__ import annotations

import msgspec

__all__ = ["EncodedDescription"]

_PROPERTIES = b',"Properties":'
_CLOSE = b"}"


class _Head(msgspec.Struct):
    ID: str
    LogicalID: str | None
    Tags: dict[str, str]


_encode_head = msgspec.json.Encoder().encode


class EncodedDescription(msgspec.Struct, gc=False, frozen=True):
    """``full``: the description with its Properties (if any); ``head``: how many bytes of it
    come before the Properties member, so the description without them is ``full[:head]`` and
    a closing brace. Untracked by the collector (``gc=False``): it holds bytes and an int."""

    full: bytes
    head: int

    @classmethod
    def of(
        cls,
        instance_id: str,
        logical_id: str | None,
        tags: dict[str, str],
        properties: msgspec.Raw | None,
    ) -> EncodedDescription:
        opened = _encode_head(_Head(instance_id, logical_id, tags))[:-1]
        if properties is None:
            return cls(opened + _CLOSE, len(opened))
        return cls(b"".join((opened, _PROPERTIES, properties, _CLOSE)), len(opened))

    def encoded(self, with_properties: bool) -> bytes:
        """The wire JSON of the description, with its Properties or without."""
        if with_properties or self.head == len(self.full) - 1:
            return self.full
        return self.full[: self.head] + _CLOSE

    def properties(self) -> msgspec.Raw | None:
        """The Properties as raw JSON (a view of :attr:`full`, no copy), ``None`` if absent."""
        start = self.head + len(_PROPERTIES)
        if start >= len(self.full):
            return None
        return msgspec.Raw(memoryview(self.full)[start:-1])
