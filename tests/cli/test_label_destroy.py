"""``instance-rpc label`` and ``destroy``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import Cli, RecordingPlugin, table_rows


@pytest.fixture
def two(cli: Cli, memory_socket: Path) -> None:
    for _ in range(2):
        cli.ok("provision", "instance-memory", "-", input='{"Tags": {"group": "web"}}')


@pytest.mark.usefixtures("two")
def test_label_merges_into_the_tags(cli: Cli) -> None:
    assert cli.ok("label", "instance-memory", "inst-1", "owner=me", "group=api", "note=") == (
        "inst-1\n"
    )
    rows = table_rows(cli.ok("describe", "instance-memory"))
    assert rows[1] == ["inst-1", "-", "group=api,note=,owner=me"]
    assert rows[2] == ["inst-2", "-", "group=web"]


@pytest.mark.usefixtures("two")
def test_label_of_an_unknown_instance(cli: Cli) -> None:
    line = cli.fails("label", "instance-memory", "inst-9", "a=b")
    assert line == "instance-memory: instance not found: inst-9"


def test_label_needs_key_value_pairs(cli: Cli, memory_socket: Path) -> None:
    result = cli("label", "instance-memory", "inst-1", "=b")
    assert result.exit_code == 2
    assert "'=b' is not KEY=VALUE" in result.stderr
    assert cli("label", "instance-memory", "inst-1").exit_code == 2


@pytest.mark.usefixtures("two")
def test_destroy_prints_each_id_and_tells_the_reason(cli: Cli, backend: RecordingPlugin) -> None:
    assert cli.ok("destroy", "instance-memory", "inst-2", "inst-1") == "inst-2\ninst-1\n"
    assert backend.destroyed == [("inst-2", "terminate"), ("inst-1", "terminate")]
    assert cli.ok("describe", "instance-memory", "-q") == ""


@pytest.mark.usefixtures("two")
def test_destroy_for_a_rolling_update(cli: Cli, backend: RecordingPlugin) -> None:
    cli.ok("destroy", "instance-memory", "--reason", "rolling_update", "inst-1")
    assert backend.destroyed == [("inst-1", "rolling_update")]


@pytest.mark.usefixtures("two")
def test_destroy_goes_on_after_a_refusal(cli: Cli, backend: RecordingPlugin) -> None:
    result = cli("destroy", "instance-memory", "inst-9", "inst-1", "inst-8")
    assert result.exit_code == 1
    assert result.stdout == "inst-1\n"
    assert result.stderr.splitlines() == [
        "instance-rpc: instance-memory: destroy inst-9: instance not found: inst-9",
        "instance-rpc: instance-memory: destroy inst-8: instance not found: inst-8",
    ]
    assert backend.destroyed == [("inst-1", "terminate")]


def test_destroy_rejects_an_unknown_reason(cli: Cli, memory_socket: Path) -> None:
    result = cli("destroy", "instance-memory", "inst-1", "--reason", "because")
    assert result.exit_code == 2
    assert "'because' is not one of 'terminate', 'rolling_update'" in result.stderr
