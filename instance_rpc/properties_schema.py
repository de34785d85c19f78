"""A backend's declared Properties: its JSON Schema, its example and the check of raw Properties.

A backend may declare, as class or instance attributes (all optional, see
:class:`~instance_rpc.spi.Plugin`):

- ``properties_type``: a type msgspec decodes into (a ``msgspec.Struct``, ``dict[str, Any]``, ...);
  the JSON Schema is ``msgspec.json.schema`` of it and a failure reads as msgspec's
  (``Expected `str`, got `int` - at `$.Config.Image```);
- or ``properties_schema``: a JSON Schema document (checked with ``jsonschema`` against its
  draft: ``$schema``, else 2020-12); a failure reads ``must be a JSON object, got array`` for a
  wrong type, else jsonschema's own words, with `` - at `$.path``` below the top;
- ``example_properties``: an example value (InfraKit's ``ExampleProperties``), checked against
  the declaration when it is read.

A map key in a path is named as :mod:`instance_rpc.field_paths` names it. JSON ``null`` (absent
Properties) is never checked here: what absence means is the backend's to say.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema
import msgspec
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator

from .errors import InvalidProperties
from .field_paths import name_map_keys, render_key
from .types import json_kind

__all__ = [
    "PropertiesDeclaration",
    "declaration_of",
    "schema_violation",
]

_MAX_MESSAGE = 200
_NULL = msgspec.Raw(b"null")
# What the first byte of a JSON value says of its kind (numbers: the rest).
_KIND_BY_FIRST_BYTE = {ord("{"): "object", ord("["): "array", ord('"'): "string"}
_KIND_BY_FIRST_BYTE |= {ord("t"): "boolean", ord("f"): "boolean", ord("n"): "null"}
_WHITESPACE = frozenset(b" \t\r\n")
_ANNOTATIONS = frozenset({"type", "$schema", "$id", "title", "description", "examples"})

Check = Callable[[msgspec.Raw], "str | None"]


@dataclass(frozen=True)
class PropertiesDeclaration:
    """What one backend declares of its Properties.

    ``schema``: the JSON Schema (a dict) or ``None`` when only an example is declared;
    ``example``: the example as raw JSON, or ``None``.
    """

    schema: dict[str, Any] | None
    example: msgspec.Raw | None
    _violation: Check | None

    def check(self, properties: msgspec.Raw | None) -> None:
        """Raise :class:`~instance_rpc.errors.InvalidProperties` (JSON-RPC -32000) naming the
        field when ``properties`` do not fit the declaration; ``None``/``null`` always pass."""
        if self._violation is None or properties is None or properties == _NULL:
            return
        message = self._violation(properties)
        if message is not None:
            raise InvalidProperties(message)


def declaration_of(backend: object) -> PropertiesDeclaration | None:
    """The declaration of ``backend``, or ``None`` when it declares nothing.

    Raises ``TypeError`` for a declaration that cannot be used: both a type and a schema, a type
    msgspec cannot describe, a schema that is not valid for its draft, an example that does not
    fit (so a broken declaration fails when the daemon starts, not on a call).
    """
    properties_type = getattr(backend, "properties_type", None)
    properties_schema = getattr(backend, "properties_schema", None)
    example = getattr(backend, "example_properties", None)
    if properties_type is None and properties_schema is None and example is None:
        return None
    name = type(backend).__name__
    if properties_type is not None and properties_schema is not None:
        raise TypeError(f"{name} declares both properties_type and properties_schema")
    schema: dict[str, Any] | None = None
    violation: Check | None = None
    if properties_type is not None:
        schema, violation = _from_type(properties_type, name)
    elif properties_schema is not None:
        schema, violation = _from_schema(properties_schema, name)
    raw_example = None if example is None else _example(example, violation, name)
    return PropertiesDeclaration(schema, raw_example, violation)


def schema_violation(schema: Mapping[str, Any], document: Any) -> str | None:
    """Why decoded ``document`` does not fit JSON Schema ``schema`` (``None``: it fits).

    The message names the field (``must be a JSON string, got number - at `$.Config.Image```).
    Raises ``jsonschema.SchemaError`` when ``schema`` itself is not valid.
    """
    document_schema = dict(schema)
    validator_class = jsonschema.validators.validator_for(document_schema)
    validator_class.check_schema(document_schema)
    return _first_error(validator_class(document_schema), document)


def _from_type(properties_type: Any, name: str) -> tuple[dict[str, Any], Check]:
    try:
        schema = msgspec.json.schema(properties_type)
        decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(properties_type)
    except TypeError as exc:
        raise TypeError(f"{name}.properties_type: {exc}") from None

    def violation(properties: msgspec.Raw) -> str | None:
        try:
            decoder.decode(properties)
        except msgspec.ValidationError as exc:
            return name_map_keys(str(exc), properties)
        except msgspec.DecodeError as exc:
            return f"not JSON: {exc}"
        return None

    return schema, violation


def _from_schema(properties_schema: Any, name: str) -> tuple[dict[str, Any], Check]:
    if not isinstance(properties_schema, Mapping):
        raise TypeError(f"{name}.properties_schema must be a JSON Schema object")
    schema = dict(properties_schema)
    validator_class = jsonschema.validators.validator_for(schema)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        message = f"{name}.properties_schema is not a valid JSON Schema: {exc.message}"
        raise TypeError(message) from None
    validator = validator_class(schema)
    kind = _kind_only(schema)
    if kind is not None:
        return schema, _kind_check(kind)

    def violation(properties: msgspec.Raw) -> str | None:
        try:
            document = msgspec.json.decode(properties)
        except msgspec.DecodeError as exc:
            return f"not JSON: {exc}"
        return _first_error(validator, document)

    return schema, violation


def _kind_only(schema: dict[str, Any]) -> str | None:
    """The one kind a schema asks for when it asks nothing else (``{"type": "object"}``)."""
    kind = schema.get("type")
    if set(schema) <= _ANNOTATIONS and kind in ("object", "array", "string", "boolean", "null"):
        return str(kind)
    return None


def _kind_check(expected: str) -> Check:
    """A check of the kind alone, read from the first byte: a Provision of any size then costs
    no decode (the words are those of the general check's)."""

    def violation(properties: msgspec.Raw) -> str | None:
        view = memoryview(properties)
        first: int | None = view[0] if len(view) else None
        if first in _WHITESPACE:  # a decoded member never starts so; a Raw made by hand may
            first = next((byte for byte in view if byte not in _WHITESPACE), None)
        if first is None:
            return "not JSON: empty"
        found = _KIND_BY_FIRST_BYTE.get(first, "number")
        return None if found == expected else f"must be a JSON {expected}, got {found}"

    return violation


def _example(example: Any, violation: Check | None, name: str) -> msgspec.Raw:
    raw = msgspec.Raw(msgspec.json.encode(example))
    problem = None if violation is None else violation(raw)
    if problem is not None:
        raise TypeError(f"{name}.example_properties does not fit its declaration: {problem}")
    return raw


def _first_error(validator: Validator, document: Any) -> str | None:
    error = best_match(validator.iter_errors(document))
    if error is None:
        return None
    if error.validator == "type":
        expected = error.validator_value
        names = expected if isinstance(expected, list) else [expected]
        text = f"must be a JSON {' or '.join(map(str, names))}, got {json_kind(error.instance)}"
    else:
        text = error.message
        if len(text) > _MAX_MESSAGE:
            text = text[: _MAX_MESSAGE - 3] + "..."
    path = _render_path(error.absolute_path)
    return text if path == "$" else f"{text} - at `{path}`"


def _render_path(segments: Iterable[str | int]) -> str:
    return "$" + "".join(
        f"[{segment}]" if isinstance(segment, int) else render_key(segment) for segment in segments
    )
