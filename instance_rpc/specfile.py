"""Spec documents read from files: JSON or YAML, with the Go field names used on the wire.

A spec document is what ``Instance.Provision`` carries as its ``Spec``::

    {"Properties": {...}, "Tags": {"k": "v"}, "Init": "...", "LogicalID": "web-1",
     "Attachments": [{"ID": "vol-1", "Type": "volume"}]}

Every member is optional; unknown members are refused (a misspelt ``tags`` would otherwise be
silently dropped). From JSON, ``Properties`` are kept as the exact bytes of the document, so
``1.50`` and integers beyond 64 bits reach the plugin unchanged. YAML is read as data (no tags
that build objects) and its ``Properties`` are sent as the equivalent JSON; where the wire wants a
string, YAML 1.1's booleans, numbers, dates and nulls are refused (see :mod:`.specyaml`).

A misplaced value is named by its path from the document's root, map keys included, in the form
the daemon uses for the same mistake under ``$.Spec``: ``Expected `str`, got `int` - at
`$.Tags.a```.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import Raw

from .errors import InstanceRPCError
from .field_paths import name_map_keys
from .specyaml import YAMLSpecError, load_yaml
from .types import Attachment, Spec

__all__ = ["SPEC_FIELDS", "Format", "SpecFileError", "format_of", "parse_properties", "parse_spec"]

Format = Literal["json", "yaml"]

SPEC_FIELDS = ("Properties", "Tags", "Init", "LogicalID", "Attachments")
"""The members a spec document may have."""

_NULL = Raw(b"null")


class SpecFileError(InstanceRPCError):
    """A spec or properties document that cannot be read; the message names the source."""


class _AttachmentDocument(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    ID: str
    Type: str = ""


class _SpecDocument(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    Properties: Raw = msgspec.field(default_factory=lambda: _NULL)
    Tags: dict[str, str] | None = None
    Init: str = ""
    LogicalID: str | None = None
    Attachments: list[_AttachmentDocument] | None = None

    def to_spec(self) -> Spec:
        return Spec(
            properties=None if self.Properties == _NULL else self.Properties,
            tags=self.Tags or {},
            init=self.Init,
            logical_id=self.LogicalID,
            attachments=[Attachment(id=a.ID, type=a.Type) for a in self.Attachments or ()],
        )


_SPEC_DECODER = msgspec.json.Decoder(_SpecDocument)
_RAW_DECODER = msgspec.json.Decoder(Raw)


def format_of(source: str) -> Format | None:
    """The format a file name implies (``.json``, ``.yaml``, ``.yml``), else ``None``."""
    lowered = source.lower()
    if lowered.endswith(".json"):
        return "json"
    if lowered.endswith((".yaml", ".yml")):
        return "yaml"
    return None


def parse_spec(data: bytes, *, source: str = "<spec>", format: Format | None = None) -> Spec:
    """Read a spec document. ``format`` ``None`` guesses from ``source``, then from the content.

    Raises :class:`SpecFileError` naming ``source`` and, for a misplaced value, its path
    (``$.Tags.zone``, ``$.Tags["a.b"]``).
    """
    json_text = _as_json(data, source, format, spec=True)
    try:
        document = _SPEC_DECODER.decode(json_text)
    except msgspec.ValidationError as exc:
        message = name_map_keys(str(exc), json_text)
        hint = f" (a spec has {', '.join(SPEC_FIELDS)})" if "unknown field" in message else ""
        raise SpecFileError(f"{source}: {message}{hint}") from None
    except msgspec.DecodeError as exc:
        raise SpecFileError(f"{source}: {exc}") from None
    return document.to_spec()


def parse_properties(
    data: bytes, *, source: str = "<properties>", format: Format | None = None
) -> Raw:
    """Read a document that is a ``Properties`` value itself; return it as raw JSON."""
    return _RAW_DECODER.decode(_as_json(data, source, format, spec=False))


def _as_json(data: bytes, source: str, format: Format | None, *, spec: bool) -> bytes:
    """The document as JSON bytes: JSON input unchanged, YAML input converted."""
    if not data.strip():
        raise SpecFileError(f"{source}: the document is empty")
    wanted = format or format_of(source)
    if wanted == "yaml":
        return _yaml_to_json(data, source, spec)
    try:
        _RAW_DECODER.decode(data)
    except msgspec.DecodeError as json_error:
        not_json = SpecFileError(f"{source}: not valid JSON: {json_error}")
        if wanted == "json":
            raise not_json from None
        try:
            return _yaml_to_json(data, source, spec)
        except SpecFileError:
            # Broken JSON is usually meant as JSON: say what is wrong with it as JSON.
            if data.lstrip().startswith((b"{", b"[")):
                raise not_json from None
            raise
    return data


def _yaml_to_json(data: bytes, source: str, spec: bool) -> bytes:
    try:
        return msgspec.json.encode(load_yaml(data, spec=spec))
    except YAMLSpecError as exc:
        raise SpecFileError(f"{source}: {exc}") from None
