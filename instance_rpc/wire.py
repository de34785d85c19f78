"""The wire form of each method: params and results with the Go field names, and conversions.

Go sends ``null`` for empty maps and lists and for an absent ``LogicalID``; these structs accept
it, and the client sends what Go sends. ``Properties`` stay raw JSON end to end.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
from msgspec import UNSET, Raw, UnsetType

from .types import Attachment, Context, Description, InterfaceSpec, Spec, VendorInfo

__all__ = [
    "DescribeParams",
    "DescribeResult",
    "DestroyParams",
    "HelloResult",
    "ImplementsResult",
    "LabelParams",
    "OKResult",
    "ProvisionParams",
    "ProvisionResult",
    "TypesResult",
    "ValidateParams",
    "WireDescription",
    "WireSpec",
    "WireTypeInfo",
]


NULL = Raw(b"null")


def raw_or_none(raw: Raw) -> Raw | None:
    """JSON ``null`` as ``None``; any other raw value as it is."""
    return None if raw == NULL else raw


def _null_raw() -> Raw:
    return NULL


class _Wire(msgspec.Struct, kw_only=True):
    """Unknown members are ignored, as Go's decoder does."""


# --- shared parts ---------------------------------------------------------------------------


class WireAttachment(_Wire, kw_only=True):
    ID: str
    Type: str = ""


class WireContext(_Wire, kw_only=True):
    Reason: str = ""


class WireSpec(_Wire, kw_only=True):
    Properties: Raw = msgspec.field(default_factory=_null_raw)
    Tags: dict[str, str] | None = None
    Init: str = ""
    LogicalID: str | None = None
    Attachments: list[WireAttachment] | None = None

    @classmethod
    def from_spec(cls, spec: Spec) -> WireSpec:
        return cls(
            Properties=NULL if spec.properties is None else spec.properties,
            Tags=spec.tags or None,
            Init=spec.init,
            LogicalID=spec.logical_id,
            Attachments=[WireAttachment(ID=a.id, Type=a.type) for a in spec.attachments] or None,
        )

    def to_spec(self) -> Spec:
        return Spec(
            properties=raw_or_none(self.Properties),
            tags=self.Tags or {},
            init=self.Init,
            logical_id=self.LogicalID,
            attachments=[Attachment(id=a.ID, type=a.Type) for a in self.Attachments or ()],
        )


class WireDescription(_Wire, kw_only=True, gc=False):
    """Untracked by the cyclic collector (``gc=False``): it holds only strings, a dict of strings
    and raw JSON, so it can never be part of a cycle, and 100,000 of them cost it nothing."""

    ID: str
    LogicalID: str | None = None
    Tags: dict[str, str] | None = None
    Properties: Raw | UnsetType = UNSET  # Go omits empty Properties

    @classmethod
    def from_description(
        cls, description: Description, with_properties: bool = True
    ) -> WireDescription:
        return cls.from_descriptions([description], with_properties)[0]

    @classmethod
    def from_descriptions(
        cls, descriptions: Iterable[Description], with_properties: bool = True
    ) -> list[WireDescription]:
        """Many at once: one comprehension, no call per description (100,000 are common)."""
        return [
            cls(
                ID=d.id,
                LogicalID=d.logical_id,
                Tags=d.tags,
                Properties=UNSET if d.properties is None or not with_properties else d.properties,
            )
            for d in descriptions
        ]

    def to_description(self) -> Description:
        return self.to_descriptions([self])[0]

    @staticmethod
    def to_descriptions(wires: Iterable[WireDescription]) -> list[Description]:
        """Many at once, as :meth:`from_descriptions`."""
        return [
            Description(
                id=w.ID,
                logical_id=w.LogicalID,
                tags=w.Tags or {},
                properties=None if w.Properties is UNSET else w.Properties,
            )
            for w in wires
        ]


class WireInterfaceSpec(_Wire, kw_only=True):
    Name: str
    Version: str
    Sub: str = ""

    @classmethod
    def from_spec(cls, spec: InterfaceSpec) -> WireInterfaceSpec:
        return cls(Name=spec.name, Version=spec.version, Sub=spec.sub)

    def to_spec(self) -> InterfaceSpec:
        return InterfaceSpec(self.Name, self.Version, self.Sub)


# --- params ---------------------------------------------------------------------------------


class ValidateParams(_Wire, kw_only=True):
    Type: str = ""
    Properties: Raw = msgspec.field(default_factory=_null_raw)


class ProvisionParams(_Wire, kw_only=True):
    Type: str = ""
    Spec: WireSpec


class LabelParams(_Wire, kw_only=True):
    Type: str = ""
    Instance: str
    Labels: dict[str, str] | None = None


class DestroyParams(_Wire, kw_only=True):
    Type: str = ""
    Instance: str
    Context: WireContext = msgspec.field(default_factory=WireContext)


class DescribeParams(_Wire, kw_only=True):
    Type: str = ""
    Tags: dict[str, str] | None = None
    Properties: bool = False


class EmptyParams(_Wire, kw_only=True):
    """The handshake methods take no params (Go sends ``{}``)."""


# --- results --------------------------------------------------------------------------------


class OKResult(_Wire, kw_only=True):
    Type: str = ""
    OK: bool = False


class ProvisionResult(_Wire, kw_only=True):
    Type: str = ""
    ID: str | None = None


class DescribeResult(_Wire, kw_only=True):
    Type: str = ""
    Descriptions: list[WireDescription] | None = None


class EncodedDescribeResult(_Wire, kw_only=True):
    """A DescribeResult whose ``Descriptions`` array the backend encoded itself
    (:class:`~instance_rpc.spi.EncodedDescriber`): the same bytes on the wire."""

    Type: str = ""
    Descriptions: Raw = Raw(b"[]")


class ImplementsResult(_Wire, kw_only=True):
    APIs: list[WireInterfaceSpec] | None = None


class TypesResult(_Wire, kw_only=True):
    Types: dict[str, list[str]] | None = None


class HelloObject(_Wire, kw_only=True):
    Name: str
    ProxyFor: str = ""


class HelloResult(_Wire, kw_only=True):
    Objects: dict[str, list[HelloObject]] | None = None


# --- the spec endpoint (GET /info/api.json) -------------------------------------------------


class WireVendor(_Wire, kw_only=True):
    Name: str
    Version: str
    Sub: str = ""
    URL: str = ""

    @classmethod
    def from_vendor(cls, vendor: VendorInfo) -> WireVendor:
        return cls(Name=vendor.name, Version=vendor.version, URL=vendor.url)


class MethodExample(_Wire, kw_only=True):
    Request: dict[str, Any]
    Response: dict[str, Any]


class WireInterface(_Wire, kw_only=True):
    Name: str
    Version: str
    Sub: str = ""
    Methods: list[MethodExample] = msgspec.field(default_factory=list)


class WireTypeInfo(_Wire, kw_only=True):
    """What one type declares of its Properties: extra members that Go clients ignore."""

    ExampleProperties: Raw | UnsetType = UNSET  # InfraKit's name for the example
    PropertiesSchema: dict[str, Any] | UnsetType = UNSET  # a JSON Schema document


class PluginInfo(_Wire, kw_only=True):
    """``Types`` (ours, absent when no type declares its Properties) maps type names (``""``:
    the default) to their declarations; the other members are the Go server's."""

    Vendor: WireVendor | None = None
    Implements: list[WireInterfaceSpec] = msgspec.field(default_factory=list)
    Interfaces: list[WireInterface] = msgspec.field(default_factory=list)
    Types: dict[str, WireTypeInfo] | UnsetType = UNSET


def context_of(params: DestroyParams) -> Context:
    return Context(params.Context.Reason)
