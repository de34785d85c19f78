"""Domain models of the Instance interface, in Python names.

``Properties`` are opaque JSON that the plugin owns: they are kept as the exact bytes a client
sent (``msgspec.Raw``), so number literals such as ``1.50`` or integers beyond 64 bits come back
unchanged. Constructors accept any JSON-encodable value, or ``Raw``, and store ``Raw``;
:func:`load_properties` turns them back into Python values.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, ClassVar, NewType

import msgspec

__all__ = [
    "ID",
    "ROLLING_UPDATE",
    "TERMINATION",
    "Attachment",
    "Context",
    "Description",
    "InterfaceSpec",
    "LogicalID",
    "Properties",
    "Spec",
    "VendorInfo",
    "encode_properties",
    "json_kind",
    "load_properties",
]

ID = NewType("ID", str)
"""The identifier a plugin gives an instance."""

LogicalID = NewType("LogicalID", str)
"""A stable, caller-chosen identity (a host name, an IP) that survives replacement."""

if TYPE_CHECKING:
    # Callers pass plain JSON values; at run time the field always holds ``Raw`` or ``None``.
    Properties = Any
else:
    Properties = msgspec.Raw | None


def encode_properties(value: Any) -> msgspec.Raw | None:
    """Return ``value`` as raw JSON (``None`` stays ``None``, ``Raw`` is kept as it is)."""
    if value is None or isinstance(value, msgspec.Raw):
        return value
    return msgspec.Raw(msgspec.json.encode(value))


def load_properties(value: Any) -> Any:
    """Decode raw ``Properties`` into Python values (``None`` when absent or JSON ``null``).

    Values that are not ``Raw`` are already Python values and come back as they are.
    """
    if isinstance(value, msgspec.Raw):
        return msgspec.json.decode(value)
    return value


def json_kind(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages: object, array, string, ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _fingerprint(document: Any) -> str:
    encoded = msgspec.json.encode(document, order="sorted")
    return hashlib.sha256(encoded).hexdigest()


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    """Something attached to an instance (a volume, a network interface) by ID and kind."""

    id: str
    type: str = ""


class Context(msgspec.Struct, frozen=True):
    """Why an instance is being destroyed."""

    reason: str = ""


ROLLING_UPDATE: Context = Context("rolling_update")
"""Destroy as part of replacing an instance with a new version."""

TERMINATION: Context = Context("terminate")
"""Destroy for good."""


class Spec(msgspec.Struct, kw_only=True):
    """What to provision: plugin-specific ``properties`` plus the generic parts."""

    properties: Properties = None
    tags: dict[str, str] = msgspec.field(default_factory=dict)
    init: str = ""
    logical_id: str | None = None
    attachments: list[Attachment] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        self.properties = encode_properties(self.properties)

    def fingerprint(self) -> str:
        """A stable hash of the spec's content (key order and number spelling aside)."""
        return _fingerprint(
            {
                "Properties": load_properties(self.properties),
                "Tags": self.tags,
                "Init": self.init,
                "LogicalID": self.logical_id,
                "Attachments": [[a.id, a.type] for a in self.attachments],
            }
        )


class Description(msgspec.Struct, kw_only=True, gc=False):
    """What a plugin knows of one instance. Descriptions order by ``id``.

    Untracked by the cyclic collector (``gc=False``): it holds strings, a dict of strings and
    raw JSON, which cannot form a reference cycle, so the 100,000 of a large DescribeInstances
    cost no collection (a collection over them took tens of milliseconds per describe).
    """

    id: str
    logical_id: str | None = None
    tags: dict[str, str] = msgspec.field(default_factory=dict)
    properties: Properties = None

    def __post_init__(self) -> None:
        # Raw (every description read off the wire) is kept as it is, without a call.
        properties = self.properties
        if properties is not None and type(properties) is not msgspec.Raw:
            self.properties = encode_properties(properties)

    def __lt__(self, other: Description) -> bool:
        return self.id < other.id

    def compare(self, other: Description) -> int:
        """-1, 0 or 1 as this description's ID sorts before, with or after ``other``'s."""
        return (self.id > other.id) - (self.id < other.id)

    def fingerprint(self) -> str:
        """A stable hash of the description's content (key order and number spelling aside)."""
        return _fingerprint(
            {
                "ID": self.id,
                "LogicalID": self.logical_id,
                "Tags": self.tags,
                "Properties": load_properties(self.properties),
            }
        )


class InterfaceSpec(msgspec.Struct, frozen=True):
    """An interface name and version, written ``"Name/Version"`` in handshakes."""

    name: str
    version: str
    sub: str = ""

    SEPARATOR: ClassVar[str] = "/"

    def encode(self) -> str:
        text = f"{self.name}{self.SEPARATOR}{self.version}"
        return f"{text}{self.SEPARATOR}{self.sub}" if self.sub else text

    @classmethod
    def decode(cls, text: str) -> InterfaceSpec:
        parts = text.split(cls.SEPARATOR)
        if len(parts) not in (2, 3) or not all(parts[:2]):
            raise ValueError(f"not an interface spec (want Name/Version): {text!r}")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    def __str__(self) -> str:
        return self.encode()


class VendorInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Who made a plugin, shown in the spec endpoint."""

    name: str
    version: str
    url: str = ""
