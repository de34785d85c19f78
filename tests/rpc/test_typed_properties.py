"""Declared Properties through a real daemon: checked before the backend runs, published."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import msgspec
import pytest

from instance_rpc import InstanceService
from instance_rpc.testing import running_server
from tests.http import call, post
from tests.recording_backend import Recording


class Config(msgspec.Struct):
    Image: str


class ServerProperties(msgspec.Struct, forbid_unknown_fields=True):
    Config: Config
    Tags: dict[str, str] | None = None


class TypedRecording(Recording):
    properties_type = ServerProperties
    example_properties: ClassVar[dict[str, Any]] = {"Config": {"Image": "web:1"}}


class SchemaRecording(Recording):
    properties_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"size": {"enum": ["small", "large"]}},
    }


def _spec(properties: Any) -> dict[str, Any]:
    return {"Properties": properties, "Tags": None, "Init": "", "LogicalID": None}


BAD = [
    (
        "typed",
        {"Config": {"Image": 1}},
        "invalid Properties: Expected `str`, got `int` - at `$.Config.Image`",
    ),
    (
        "typed",
        {"Config": {"Image": "x"}, "Tags": {"ok": "y", "web.tier": 3}},
        'invalid Properties: Expected `str`, got `int` - at `$.Tags["web.tier"]`',
    ),
    (
        "schema",
        {"size": "huge"},
        "invalid Properties: 'huge' is not one of ['small', 'large'] - at `$.size`",
    ),
    ("schema", [1], "invalid Properties: must be a JSON object, got array"),
]


@pytest.fixture
def backends() -> dict[str, Recording]:
    return {"typed": TypedRecording(), "schema": SchemaRecording(), "plain": Recording()}


@pytest.mark.parametrize(("type_name", "properties", "message"), BAD)
async def test_bad_properties_are_refused_before_the_backend_runs(
    backends: dict[str, Recording],
    sock_dir: Path,
    type_name: str,
    properties: Any,
    message: str,
) -> None:
    async with running_server(backends, sock_dir / "typed") as path:
        validated = await call(
            path, "Instance.Validate", {"Type": type_name, "Properties": properties}
        )
        provisioned = await call(
            path, "Instance.Provision", {"Type": type_name, "Spec": _spec(properties)}
        )
    for answer in (validated, provisioned):
        reason = message.removeprefix("invalid Properties: ")
        data = {"kind": "InvalidProperties", "reason": reason}
        assert answer["error"] == {"code": -32000, "message": message, "data": data}
    assert backends[type_name].calls == []


async def test_fitting_and_absent_properties_reach_the_backend(
    backends: dict[str, Recording], sock_dir: Path
) -> None:
    good = {"Config": {"Image": "web:1"}}
    async with running_server(backends, sock_dir / "typed") as path:
        for properties in (good, None):
            validated = await call(
                path, "Instance.Validate", {"Type": "typed", "Properties": properties}
            )
            assert validated["result"] == {"Type": "typed", "OK": True}
            provisioned = await call(
                path, "Instance.Provision", {"Type": "typed", "Spec": _spec(properties)}
            )
            assert "result" in provisioned
    assert [kind for kind, _ in backends["typed"].calls] == ["validate", "provision"] * 2
    assert backends["typed"].calls[0] == ("validate", good)


async def test_a_backend_that_declares_nothing_gets_every_properties(
    backends: dict[str, Recording], sock_dir: Path
) -> None:
    async with running_server(backends, sock_dir / "typed") as path:
        for _, properties, _ in BAD:
            answer = await call(
                path, "Instance.Validate", {"Type": "plain", "Properties": properties}
            )
            assert answer["result"] == {"Type": "plain", "OK": True}
    assert backends["plain"].calls == [("validate", properties) for _, properties, _ in BAD]


async def test_the_spec_document_carries_each_declaration(
    backends: dict[str, Recording], sock_dir: Path
) -> None:
    async with running_server(backends, sock_dir / "typed") as path:
        status, body = await post(path, b"", path="/info/api.json", method="GET")
    assert status == 200
    types = json.loads(body)["Types"]
    assert set(types) == {"typed", "schema"}  # "plain" declares nothing
    assert types["typed"]["ExampleProperties"] == {"Config": {"Image": "web:1"}}
    assert types["typed"]["PropertiesSchema"] == msgspec.json.schema(ServerProperties)
    assert types["schema"] == {"PropertiesSchema": SchemaRecording.properties_schema}
    for declared in types.values():
        schema = declared["PropertiesSchema"]
        jsonschema.validators.validator_for(schema).check_schema(schema)
    jsonschema.validate(types["typed"]["ExampleProperties"], types["typed"]["PropertiesSchema"])


async def test_the_method_examples_use_the_default_types_example(sock_dir: Path) -> None:
    async with running_server(TypedRecording(), sock_dir / "typed") as path:
        _, body = await post(path, b"", path="/info/api.json", method="GET")
    methods = {
        m["Request"]["method"]: m["Request"]["params"]
        for m in json.loads(body)["Interfaces"][0]["Methods"]
    }
    assert methods["Instance.Validate"] == {
        "Type": "",
        "Properties": {"Config": {"Image": "web:1"}},
    }
    assert methods["Instance.Provision"]["Spec"]["Properties"] == {"Config": {"Image": "web:1"}}


async def test_without_declarations_the_document_is_as_before(sock_dir: Path) -> None:
    async with running_server(Recording(), sock_dir / "plain") as path:
        _, body = await post(path, b"", path="/info/api.json", method="GET")
    document = json.loads(body)
    assert set(document) == {"Vendor", "Implements", "Interfaces"}
    validate = [
        m
        for m in document["Interfaces"][0]["Methods"]
        if m["Request"]["method"] == "Instance.Validate"
    ]
    assert validate[0]["Request"]["params"]["Properties"] == {
        "instanceType": "small",
        "disk": {"sizeGb": 10},
    }


def test_a_broken_declaration_fails_when_the_service_is_made() -> None:
    class Broken(Recording):
        properties_type = ServerProperties
        example_properties: ClassVar[dict[str, Any]] = {"Config": {}}

    with pytest.raises(TypeError, match="example_properties does not fit"):
        InstanceService({"": Broken()})
