"""Reading a backend's Properties declaration and checking raw Properties against it."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import jsonschema
import msgspec
import pytest

from instance_rpc.errors import InvalidProperties
from instance_rpc.properties_schema import declaration_of, schema_violation


class Config(msgspec.Struct):
    Image: str
    Env: list[str] | None = None


class Typed(msgspec.Struct, forbid_unknown_fields=True):
    Config: Config
    Tags: dict[str, str] | None = None
    Count: Annotated[int, msgspec.Meta(ge=0)] = 1


class TypedBackend:
    properties_type: ClassVar[type[Typed]] = Typed
    example_properties: ClassVar[dict[str, Any]] = {"Config": {"Image": "web"}, "Count": 2}


class SchemaBackend:
    properties_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"size": {"type": "string"}, "disks": {"type": "array"}},
        "required": ["size"],
    }


def raw(value: Any) -> msgspec.Raw:
    return msgspec.Raw(msgspec.json.encode(value))


def refusal(backend: object, value: Any) -> str:
    declaration = declaration_of(backend)
    assert declaration is not None
    with pytest.raises(InvalidProperties) as raised:
        declaration.check(raw(value))
    return raised.value.message


def test_a_backend_that_declares_nothing_has_no_declaration() -> None:
    class Plain:
        pass

    assert declaration_of(Plain()) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"Config": {"Image": 1}},
            "invalid Properties: Expected `str`, got `int` - at `$.Config.Image`",
        ),
        (
            {"Config": {}},
            "invalid Properties: Object missing required field `Image` - at `$.Config`",
        ),
        ({"Config": {"Image": "x"}, "Count": -1}, "Expected `int` >= 0 - at `$.Count`"),
        ({"Config": {"Image": "x"}, "tags": {}}, "Object contains unknown field `tags`"),
        ({"Config": {"Image": "x"}, "Tags": {"ok": "1", "a.b": 2}}, 'at `$.Tags["a.b"]`'),
        ({"Config": {"Image": "x", "Env": ["A", 3]}}, "at `$.Config.Env[1]`"),
        ([1], "invalid Properties: Expected `object`, got `array`"),
    ],
)
def test_a_struct_declaration_names_the_field(value: Any, message: str) -> None:
    assert message in refusal(TypedBackend(), value)


def test_a_struct_declaration_gives_its_schema_and_example() -> None:
    declaration = declaration_of(TypedBackend())
    assert declaration is not None
    assert declaration.schema == msgspec.json.schema(Typed)
    jsonschema.validators.validator_for(declaration.schema).check_schema(declaration.schema)
    assert declaration.example is not None
    assert msgspec.json.decode(declaration.example) == {"Config": {"Image": "web"}, "Count": 2}
    declaration.check(declaration.example)


def test_fitting_and_absent_properties_pass() -> None:
    for backend in (TypedBackend(), SchemaBackend()):
        declaration = declaration_of(backend)
        assert declaration is not None
        declaration.check(None)
        declaration.check(msgspec.Raw(b"null"))
    declaration = declaration_of(SchemaBackend())
    assert declaration is not None
    declaration.check(raw({"size": "small", "disks": []}))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "invalid Properties: must be a JSON object, got array"),
        ({"size": 3}, "invalid Properties: must be a JSON string, got number - at `$.size`"),
        ({}, "invalid Properties: 'size' is a required property"),
        (
            {"size": "s", "disks": {}},
            "invalid Properties: must be a JSON array, got object - at `$.disks`",
        ),
    ],
)
def test_a_schema_declaration_names_the_field(value: Any, message: str) -> None:
    assert refusal(SchemaBackend(), value) == message


def test_schema_violation_checks_decoded_documents_against_a_generated_schema() -> None:
    schema = msgspec.json.schema(Typed)
    assert schema_violation(schema, {"Config": {"Image": "x"}}) is None
    assert (
        schema_violation(schema, {"Config": {"Image": 1}})
        == "must be a JSON string, got number - at `$.Config.Image`"
    )


class Both:
    properties_type = Typed
    properties_schema: ClassVar[dict[str, Any]] = {"type": "object"}


class BadSchema:
    properties_schema: ClassVar[dict[str, Any]] = {"type": "thing"}


class BadExample:
    properties_type = Typed
    example_properties: ClassVar[dict[str, Any]] = {"Config": {}}


class BadType:
    properties_type = object


@pytest.mark.parametrize(
    ("backend", "message"),
    [
        (Both(), "Both declares both properties_type and properties_schema"),
        (BadSchema(), "BadSchema.properties_schema is not a valid JSON Schema"),
        (BadExample(), "BadExample.example_properties does not fit its declaration"),
        (BadType(), "BadType.properties_type"),
    ],
)
def test_an_unusable_declaration_is_refused_when_read(backend: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        declaration_of(backend)


class KindOnly:
    properties_schema: ClassVar[dict[str, Any]] = {"type": "object", "title": "any object"}


@pytest.mark.parametrize("value", [[], [1], "s", 3, -1.5, True, False, {}, {"a": [1]}])
def test_a_kind_only_schema_answers_as_the_general_check(value: Any) -> None:
    declaration = declaration_of(KindOnly())
    assert declaration is not None
    schema = KindOnly.properties_schema
    general = schema_violation(schema, value)
    if general is None:
        declaration.check(raw(value))
        declaration.check(msgspec.Raw(b" \n" + msgspec.json.encode(value)))
    else:
        assert refusal(KindOnly(), value) == f"invalid Properties: {general}"
