"""One instance as a backend stores it: a :class:`Record` keeps the Spec it was made from
(``Properties`` byte for byte), its tags and, once a Destroy of it begins, the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec

from instance_rpc.errors import InvalidProperties
from instance_rpc.types import Description, Spec, json_kind, load_properties

__all__ = ["Record", "RecordAttachment", "now_utc", "require_object"]

_NULL = msgspec.Raw(b"null")


def _null() -> msgspec.Raw:
    return _NULL


def now_utc() -> str:
    """The current time, RFC 3339 in UTC with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def require_object(properties: Any) -> dict[str, Any]:
    """The decoded Properties if they are a JSON object; :class:`InvalidProperties` if not."""
    value = load_properties(properties)
    if not isinstance(value, dict):
        raise InvalidProperties(f"must be a JSON object, got {json_kind(value)}")
    return value


class RecordAttachment(msgspec.Struct, kw_only=True):
    ID: str
    Type: str = ""


class Record(msgspec.Struct, kw_only=True):
    """One instance as stored: the Spec it was made from (``Properties`` byte for byte)."""

    ID: str
    LogicalID: str | None = None
    Tags: dict[str, str] = msgspec.field(default_factory=dict)
    Properties: msgspec.Raw = msgspec.field(default_factory=_null)
    Init: str = ""
    Attachments: list[RecordAttachment] = msgspec.field(default_factory=list)
    Created: str = ""
    DestroyReason: str | None = None

    @property
    def destroying(self) -> bool:
        """A Destroy of it has begun (``DestroyReason`` holds the Context's reason)."""
        return self.DestroyReason is not None

    @classmethod
    def fields_of(cls, instance_id: str, spec: Spec) -> dict[str, Any]:
        """The fields a record takes from ``spec``, for subclasses to extend."""
        return {
            "ID": instance_id,
            "LogicalID": spec.logical_id,
            "Tags": dict(spec.tags),
            "Properties": _NULL if spec.properties is None else spec.properties,
            "Init": spec.init,
            "Attachments": [RecordAttachment(ID=a.id, Type=a.type) for a in spec.attachments],
            "Created": now_utc(),
        }

    def matches(self, tags: Mapping[str, str]) -> bool:
        return all(self.Tags.get(key) == value for key, value in tags.items())

    def describe(self, properties: msgspec.Raw | None) -> Description:
        return Description(
            id=self.ID, logical_id=self.LogicalID, tags=dict(self.Tags), properties=properties
        )

    def stored_properties(self) -> msgspec.Raw | None:
        return None if self.Properties == _NULL else self.Properties
