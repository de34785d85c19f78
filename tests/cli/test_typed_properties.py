"""``info --schema`` and ``validate``'s local check, against ``instance-rpc serve`` in a process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import msgspec
import pytest

from instance_rpc.testing.daemon import serve_in_thread
from instance_rpc_plugins.process._settings import ProcessProperties
from tests.cli.helpers import Cli, daemon_process, run_command
from tests.recording_backend import Recording


@pytest.fixture(scope="module")
def daemon(plugins_dir: Path) -> Iterator[Path]:
    """``local``: memory (the default type) and process."""
    state = str(plugins_dir.parent / "state")
    with daemon_process(
        plugins_dir, "local", "--plugin", "memory", "--plugin", "process", "--dir", state
    ) as path:
        yield path


def test_info_schema_prints_the_types_json_schema(plugins_dir: Path, daemon: Path) -> None:
    result = run_command(plugins_dir, "info", "local/process", "--schema")
    assert (result.returncode, result.stderr) == (0, "")
    schema = json.loads(result.stdout)
    jsonschema.validators.validator_for(schema).check_schema(schema)
    assert schema == msgspec.json.schema(ProcessProperties)
    jsonschema.validate({"env": {"A": "1"}, "stop_grace_seconds": 5}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"grace": 1}, schema)


def test_info_schema_of_the_default_type(plugins_dir: Path, daemon: Path) -> None:
    result = run_command(plugins_dir, "info", "local", "--schema")
    assert (result.returncode, json.loads(result.stdout)) == (0, {"type": "object"})


def test_info_schema_of_a_type_the_plugin_does_not_serve(plugins_dir: Path, daemon: Path) -> None:
    result = run_command(plugins_dir, "info", "local/nope", "--schema")
    assert result.returncode == 1
    assert result.stderr == (
        "instance-rpc: local/nope: the plugin serves no type 'nope' (types: ., memory, process)\n"
    )


@pytest.mark.parametrize("name", ["local/process", "local"])
@pytest.mark.parametrize(
    "spec",
    [
        '{"Properties": {"env": {"PORT": "80"}, "stop_grace_seconds": "5"}}',
        '{"Properties": [1]}',
        '{"Properties": "small"}',
    ],
)
def test_validate_words_a_mistake_as_provision_does(
    plugins_dir: Path, daemon: Path, name: str, spec: str
) -> None:
    validated = run_command(plugins_dir, "validate", name, "-", input=spec)
    provisioned = run_command(plugins_dir, "provision", name, "-", input=spec)
    assert validated.returncode == provisioned.returncode
    if name == "local":  # memory takes any object
        assert validated.returncode == ("env" not in spec)
    else:
        assert validated.returncode == 1
    if validated.returncode:
        assert validated.stderr == provisioned.stderr
        assert validated.stderr.startswith(f"instance-rpc: {name}: invalid Properties: ")


@pytest.mark.parametrize("name", ["local/process", "local"])
def test_absent_properties_are_judged_alike(plugins_dir: Path, daemon: Path, name: str) -> None:
    for spec in ('{"Tags": {"a": "b"}}', '{"Properties": null}'):
        validated = run_command(plugins_dir, "validate", name, "-", input=spec)
        provisioned = run_command(plugins_dir, "provision", name, "-", input=spec)
        assert (validated.returncode, validated.stdout) == (0, "valid\n"), validated.stderr
        assert provisioned.returncode == 0, provisioned.stderr
        destroyed = run_command(plugins_dir, "destroy", name, provisioned.stdout.strip())
        assert destroyed.returncode == 0, destroyed.stderr


def test_what_no_schema_can_say_is_still_the_plugins(plugins_dir: Path, daemon: Path) -> None:
    relative = '{"Properties": {"cwd": "relative/dir"}}'
    result = run_command(plugins_dir, "validate", "local/process", "-", input=relative)
    assert result.returncode == 1
    assert result.stderr == (
        "instance-rpc: local/process: invalid Properties: "
        "cwd must be an absolute path, got 'relative/dir'\n"
    )


def test_a_plugin_without_declarations(cli: Cli, plugins_home: Path) -> None:
    backend = Recording()
    with serve_in_thread(backend, plugins_home / "plain"):
        refused = cli.fails("info", "plain", "--schema")
        checked = cli.ok("validate", "plain", "--properties-only", "-", input="[1]")
    assert refused == "plain: no Properties schema declared for the default type"
    assert checked == "valid\n"
    assert backend.calls == [("validate", [1])]  # nothing checked it before the backend
