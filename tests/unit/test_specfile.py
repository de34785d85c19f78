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


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"Properties: {a: {null: x}}", "key has no JSON equivalent: `None` - at `$.Properties.a`"),
        (b"Properties: {yes: 1}", "key has no JSON equivalent: `True` - at `$.Properties`"),
        (
            b"Properties: {a: [1, .nan]}",
            "value has no JSON equivalent: `nan` - at `$.Properties.a[1]`",
        ),
        (b"Properties: {a: -.inf}", "value has no JSON equivalent: `-inf` - at `$.Properties.a`"),
        (b"Properties: &p {a: *p}", "value contains itself (an alias) - at `$.Properties.a`"),
    ],
)
def test_yaml_values_without_a_json_equivalent_are_named(document: bytes, message: str) -> None:
    with pytest.raises(SpecFileError) as caught:
        parse_spec(document, source="x")
    assert str(caught.value) == f"x: a YAML {message}"


def test_properties_alone() -> None:
    assert bytes(parse_properties(b' {"a": 1.50}\n')) == b'{"a": 1.50}'
    assert bytes(parse_properties(b"a: 1\n")) == b'{"a":1}'


@pytest.mark.parametrize(
    ("document", "written", "reads_as", "path"),
    [
        (b"Tags: {env: no}", "no", "a boolean", "$.Tags.env"),
        (b"Tags:\n  a.b: on\n", "on", "a boolean", '$.Tags["a.b"]'),
        (b"LogicalID: 012", "012", "an integer", "$.LogicalID"),
        (b"Init: 2026-01-01", "2026-01-01", "a date", "$.Init"),
        (b"Init: 1.0e+3", "1.0e+3", "a number", "$.Init"),
        (b"Init: ~", "~", "null", "$.Init"),
        (b"Tags: {a: ~}", "~", "null", "$.Tags.a"),
        (b"Attachments:\n- {ID: 7}\n", "7", "an integer", "$.Attachments[0].ID"),
        (b"Attachments: [{ID: a, Type: off}]", "off", "a boolean", "$.Attachments[0].Type"),
        (b"Init: !!binary aGk=", "aGk=", "binary data", "$.Init"),
    ],
)
def test_yaml_values_that_are_not_strings_are_refused_as_written(
    document: bytes, written: str, reads_as: str, path: str
) -> None:
    with pytest.raises(SpecFileError) as caught:
        parse_spec(document, source="s.yaml")
    assert str(caught.value) == (
        f"s.yaml: Expected `str`, got `{written}` (YAML reads it as {reads_as};"
        f" quote it to keep it a string) - at `{path}`"
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"Tags: {a: }", "Expected `str`, got nothing (YAML reads it as null; quote it"),
        (b"Tags: {012: a}", "Expected `str` key, got `012` (YAML reads it as an integer; quote it"),
        (b"yes: 1", "Expected `str` key, got `yes` (YAML reads it as a boolean; quote it"),
        (b"Tags: {[a]: b}", "Expected `str` key, got a list - at `$.Tags`"),
    ],
)
def test_yaml_keys_and_empty_values_that_are_not_strings(document: bytes, message: str) -> None:
    with pytest.raises(SpecFileError) as caught:
        parse_spec(document, source="s.yaml")
    assert str(caught.value).startswith(f"s.yaml: {message}")


def test_quoted_yaml_values_stay_strings() -> None:
    spec = parse_spec(
        b"Tags: {env: 'no', '012': \"on\", a: !!str 1}\nLogicalID: '012'\nInit: \"2026-01-01\"\n"
        b"Attachments: [{ID: '7', Type: 'off'}]\n",
        source="s.yaml",
    )
    assert spec.tags == {"env": "no", "012": "on", "a": "1"}
    assert spec.logical_id == "012"
    assert spec.init == "2026-01-01"
    assert spec.attachments == [Attachment(id="7", type="off")]


def test_yaml_nulls_where_the_wire_takes_null() -> None:
    assert parse_spec(b"Tags: ~\nLogicalID:\nAttachments: null\nProperties: ~\n") == Spec()


def test_yaml_merge_keys_in_tags() -> None:
    spec = parse_spec(b"Tags:\n  <<: {a: b, c: x}\n  c: d\n", source="s.yaml")
    assert spec.tags == {"a": "b", "c": "d"}


def test_yaml_properties_are_read_as_yaml_data() -> None:
    spec = parse_spec(
        b"Properties: {enabled: yes, mode: 0755, day: 2026-01-01, none: ~}", source="s.yml"
    )
    assert bytes(spec.properties) == b'{"enabled":true,"mode":493,"day":"2026-01-01","none":null}'
    assert bytes(parse_properties(b"enabled: no\n")) == b'{"enabled":false}'
