"""Spec documents: JSON kept exact, YAML converted, bad input named precisely."""

from __future__ import annotations

import pytest

from instance_rpc import Attachment, Spec, SpecFileError, parse_spec
from instance_rpc.specfile import format_of, parse_properties


def test_a_full_json_spec() -> None:
    spec = parse_spec(
        b'{"Properties": {"a": 1.50}, "Tags": {"k": "v"}, "Init": "echo", "LogicalID": "x",'
        b' "Attachments": [{"ID": "vol", "Type": "disk"}, {"ID": "eth0"}]}'
    )
    assert bytes(spec.properties) == b'{"a": 1.50}'
    assert spec.tags == {"k": "v"}
    assert spec.init == "echo"
    assert spec.logical_id == "x"
    assert spec.attachments == [Attachment(id="vol", type="disk"), Attachment(id="eth0")]


def test_every_member_is_optional_and_null_means_empty() -> None:
    empty = Spec()
    assert parse_spec(b"{}") == empty
    nulls = b'{"Properties": null, "Tags": null, "LogicalID": null, "Attachments": null}'
    assert parse_spec(nulls) == empty


def test_yaml_is_converted_to_json() -> None:
    spec = parse_spec(b"Tags: {k: v}\nProperties:\n  n: 3\n  list: [a, b]\nInit: |\n  line\n")
    assert spec.tags == {"k": "v"}
    assert spec.init == "line\n"
    assert bytes(spec.properties) == b'{"n":3,"list":["a","b"]}'


def test_yaml_flow_style_is_yaml_though_it_starts_like_json() -> None:
    assert parse_spec(b"{Tags: {a: b}}").tags == {"a": "b"}
    with pytest.raises(SpecFileError, match=r"^<spec>: not valid JSON: "):
        parse_spec(b'{"Tags": {"a": "b"}')


def test_the_file_name_picks_the_format() -> None:
    assert format_of("a.JSON") == "json"
    assert format_of("a.yml") == "yaml"
    assert format_of("a.yaml") == "yaml"
    assert format_of("-") is None
    with pytest.raises(SpecFileError, match=r"^s\.json: not valid JSON: "):
        parse_spec(b"Tags: {}", source="s.json")
    # JSON is YAML too: a .yaml file holding JSON is read, though its Properties are re-encoded.
    assert bytes(parse_spec(b'{"Properties": {"a": 1}}', source="s.yaml").properties) == b'{"a":1}'


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b'{"Tag": {}}', "spec.json: Object contains unknown field `Tag` (a spec has Properties"),
        (b'{"Init": 3}', "spec.json: Expected `str`, got `int` - at `$.Init`"),
        (
            b'{"Attachments": [{"ID": "a", "Kind": "b"}]}',
            "unknown field `Kind` - at `$.Attachments[0]`",
        ),
        (b"", "spec.json: the document is empty"),
        (b'{"Tags": {]', "spec.json: not valid JSON: "),
    ],
)
def test_bad_documents(document: bytes, message: str) -> None:
    with pytest.raises(SpecFileError) as caught:
        parse_spec(document, source="spec.json")
    assert message in str(caught.value)


def test_yaml_errors_say_where() -> None:
    with pytest.raises(SpecFileError, match=r"^x: not valid JSON or YAML: .* at line 2, column 1$"):
        parse_spec(b"Tags: [a,\n", source="x")


def test_yaml_values_without_a_json_equivalent() -> None:
    with pytest.raises(SpecFileError, match=r"^x: a YAML value has no JSON equivalent: Only dicts"):
        parse_spec(b"Properties: {null: x}", source="x")


def test_properties_alone() -> None:
    assert bytes(parse_properties(b' {"a": 1.50}\n')) == b'{"a": 1.50}'
    assert bytes(parse_properties(b"a: 1\n")) == b'{"a":1}'
