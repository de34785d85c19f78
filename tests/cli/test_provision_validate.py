"""``instance-rpc provision`` and ``validate``: spec files in, an ID or a verdict out."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from instance_rpc import Description
from tests.cli.helpers import Cli, RecordingPlugin
from tests.http import call

SPEC_JSON = (
    b'{"Properties": {"price": 1.50, "big": 123456789012345678901234567890},'
    b' "Tags": {"group": "web"}, "Init": "echo hi", "LogicalID": null,'
    b' "Attachments": [{"ID": "vol-1", "Type": "volume"}]}'
)

SPEC_YAML = """\
Tags:
  group: db
Init: |
  #!/bin/sh
  echo hello
LogicalID: db-1
Properties:
  size: large
  disks: [1, 2]
"""


def _stored(backend: RecordingPlugin) -> list[Description]:
    """What the backend holds (it is idle between commands, so reading it here is safe)."""
    return asyncio.run(backend.describe_instances(None, properties=True))


def test_provision_from_a_json_file_keeps_properties_exact(
    cli: Cli, memory_socket: Path, backend: RecordingPlugin, tmp_path: Path
) -> None:
    spec = tmp_path / "web.json"
    spec.write_bytes(SPEC_JSON)
    assert cli.ok("provision", "instance-memory", str(spec)) == "inst-1\n"
    (stored,) = _stored(backend)
    assert bytes(stored.properties) == (b'{"price": 1.50, "big": 123456789012345678901234567890}')
    assert stored.tags == {"group": "web"}


def test_provision_from_yaml_on_stdin(
    cli: Cli, memory_socket: Path, backend: RecordingPlugin
) -> None:
    assert cli.ok("provision", "instance-memory", "-", input=SPEC_YAML) == "inst-1\n"
    (stored,) = _stored(backend)
    assert stored.logical_id == "db-1"
    assert stored.tags == {"group": "db"}
    assert msgspec.json.decode(stored.properties) == {"size": "large", "disks": [1, 2]}


def test_provision_from_a_yaml_file(cli: Cli, memory_socket: Path, tmp_path: Path) -> None:
    spec = tmp_path / "db.yml"
    spec.write_text(SPEC_YAML)
    assert cli.ok("provision", str(memory_socket), str(spec)) == "inst-1\n"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"tags": {}}', "Object contains unknown field `tags` (a spec has Properties, Tags,"),
        ('{"Tags": {"a": 1}}', "Expected `str`, got `int` - at `$.Tags.a`"),
        ('{"Attachments": [{"Type": "x"}]}', "missing required field `ID` - at `$.Attachments[0]`"),
        ('{"Tags": ', "not valid JSON: Input data was truncated"),
        ("Tags: [", "not valid JSON or YAML: expected the node content"),
        ("[1, 2]", "Expected `object`, got `array`"),
        ("  \n", "the document is empty"),
    ],
)
def test_bad_spec_documents_are_named(
    cli: Cli, memory_socket: Path, document: str, message: str
) -> None:
    line = cli.fails("provision", "instance-memory", "-", input=document)
    assert line.startswith("<stdin>: ")
    assert message in line


def test_a_json_file_must_be_json(cli: Cli, memory_socket: Path, tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text("Tags: {a: b}\n")
    assert cli.fails("provision", "instance-memory", str(spec)).startswith(
        f"{spec}: not valid JSON: "
    )


def test_missing_file(cli: Cli, memory_socket: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    line = cli.fails("provision", "instance-memory", str(missing))
    assert line == f"cannot read {missing}: No such file or directory"


def test_validate_accepts_a_spec(cli: Cli, memory_socket: Path, backend: RecordingPlugin) -> None:
    assert cli.ok("validate", "instance-memory", "-", input=SPEC_JSON) == "valid\n"
    assert _stored(backend) == []


def test_validate_words_the_mistake_as_provision_does(cli: Cli, memory_socket: Path) -> None:
    # (more of this, against a daemon in a process: tests/cli/test_typed_properties.py)
    line = cli.fails("validate", "instance-memory", "-", input='{"Properties": [1]}')
    assert line == "instance-memory: invalid Properties: must be a JSON object, got array"
    assert cli.fails("provision", "instance-memory", "-", input='{"Properties": [1]}') == line


def test_validate_properties_only(cli: Cli, memory_socket: Path) -> None:
    args = ("validate", "instance-memory", "--properties-only", "-")
    assert cli.ok(*args, input='{"size": "small"}') == "valid\n"
    line = cli.fails(*args, input='"small"')
    assert line == "instance-memory: invalid Properties: must be a JSON object, got string"


BAD_SPECS = [
    {"Tags": {"a": 1}},
    {"Tags": {"a.b": True}},
    {"Tags": {"ok": "x", "b c": None}},
    {"Tags": {"": 1}},
    {"Tags": {"a": {"b": "c"}}},
    {"Tags": []},
    {"Init": 3},
    {"LogicalID": 5},
    {"Attachments": [{"ID": 1}]},
    {"Attachments": [{"ID": "a", "Type": False}]},
    {"Attachments": [{"Type": "x"}]},
    {"Attachments": {}},
]


@pytest.mark.parametrize("spec", BAD_SPECS, ids=lambda spec: json.dumps(spec))
def test_a_bad_spec_file_is_named_as_the_daemon_names_it(
    cli: Cli, memory_socket: Path, spec: dict[str, Any]
) -> None:
    """The CLI's path from the file's root equals the daemon's path under ``$.Spec``."""
    params = {"Type": "", "Spec": spec}
    wire = asyncio.run(call(memory_socket, "Instance.Provision", params))["error"]
    assert wire["code"] == -32602
    daemon_says = wire["message"].removeprefix("invalid params: ").replace("`$.Spec", "`$")
    for command in ("provision", "validate"):
        line = cli.fails(command, "instance-memory", "-", input=json.dumps(spec))
        assert line == f"<stdin>: {daemon_says}"


@pytest.mark.parametrize(
    ("yaml_text", "written", "reads_as", "json_twin"),
    [
        ("Tags: {a.b: no}\n", "no", "a boolean", {"Tags": {"a.b": False}}),
        ("Tags: {a: ~}\n", "~", "null", {"Tags": {"a": None}}),
        ("LogicalID: 012\n", "012", "an integer", {"LogicalID": 10}),
        ("Attachments: [{ID: 2026-01-01}]\n", "2026-01-01", "a date", {"Attachments": [{"ID": 1}]}),
    ],
)
def test_a_yaml_surprise_is_refused_at_the_path_the_daemon_uses(
    cli: Cli,
    memory_socket: Path,
    backend: RecordingPlugin,
    yaml_text: str,
    written: str,
    reads_as: str,
    json_twin: dict[str, Any],
) -> None:
    wire = asyncio.run(call(memory_socket, "Instance.Provision", {"Type": "", "Spec": json_twin}))
    path = wire["error"]["message"].rsplit(" - at ", 1)[1].replace("`$.Spec", "`$")
    line = cli.fails("provision", "instance-memory", "-", input=yaml_text)
    assert line == (
        f"<stdin>: Expected `str`, got `{written}` (YAML reads it as {reads_as}; "
        f"quote it to keep it a string) - at {path}"
    )
    assert _stored(backend) == []
