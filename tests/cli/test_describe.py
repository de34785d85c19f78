"""``instance-rpc describe``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from instance_rpc.testing.daemon import serve_in_thread
from instance_rpc_plugins.memory import MemoryPlugin
from tests.cli.helpers import Cli, table_rows

WEB = '{"Tags": {"group": "web", "zone": "a"}, "Properties": {"price": 1.50}}'
DB = '{"Tags": {"group": "db"}, "LogicalID": "db-1", "Properties": {"size": "large"}}'


@pytest.fixture
def three(cli: Cli, memory_socket: Path) -> None:
    for document in (WEB, WEB, DB):
        cli.ok("provision", "instance-memory", "-", input=document)


@pytest.mark.usefixtures("three")
def test_table(cli: Cli) -> None:
    assert table_rows(cli.ok("describe", "instance-memory")) == [
        ["ID", "LOGICAL", "TAGS"],
        ["inst-1", "-", "group=web,zone=a"],
        ["inst-2", "-", "group=web,zone=a"],
        ["inst-3", "db-1", "group=db"],
    ]


@pytest.mark.usefixtures("three")
def test_table_with_properties_as_the_plugin_spelt_them(cli: Cli) -> None:
    rows = table_rows(cli.ok("describe", "instance-memory", "--properties", "--tag", "group=web"))
    assert rows == [
        ["ID", "LOGICAL", "TAGS", "PROPERTIES"],
        ["inst-1", "-", "group=web,zone=a", '{"price": 1.50}'],
        ["inst-2", "-", "group=web,zone=a", '{"price": 1.50}'],
    ]


@pytest.mark.usefixtures("three")
def test_every_tag_must_match(cli: Cli) -> None:
    assert cli.ok("describe", "instance-memory", "-t", "group=web", "-t", "zone=b", "-q") == ""
    assert cli.ok("describe", "instance-memory", "-t", "group=db", "-q") == "inst-3\n"


@pytest.mark.usefixtures("three")
def test_quiet_prints_ids_only(cli: Cli) -> None:
    assert cli.ok("describe", "instance-memory", "-q") == "inst-1\ninst-2\ninst-3\n"


@pytest.mark.usefixtures("three")
def test_json_keeps_the_wire_names_and_properties(cli: Cli) -> None:
    text = cli.ok("describe", "instance-memory", "-p", "-o", "json", "-t", "group=db")
    assert json.loads(text) == [
        {
            "ID": "inst-3",
            "LogicalID": "db-1",
            "Tags": {"group": "db"},
            "Properties": {"size": "large"},
        },
    ]
    web = cli.ok("describe", "instance-memory", "-p", "-o", "json", "-t", "group=web")
    assert '"price": 1.50' in web


@pytest.mark.usefixtures("three")
def test_json_without_properties_omits_them(cli: Cli) -> None:
    listed = json.loads(cli.ok("describe", "instance-memory", "-o", "json"))
    assert [sorted(entry) for entry in listed] == [["ID", "LogicalID", "Tags"]] * 3


@pytest.mark.usefixtures("three")
def test_yaml(cli: Cli) -> None:
    listed = yaml.safe_load(cli.ok("describe", "instance-memory", "-p", "-o", "yaml"))
    assert listed[2] == {
        "ID": "inst-3",
        "LogicalID": "db-1",
        "Tags": {"group": "db"},
        "Properties": {"size": "large"},
    }


def test_no_instances_prints_the_header(cli: Cli, memory_socket: Path) -> None:
    assert cli.ok("describe", "instance-memory") == "ID  LOGICAL  TAGS\n"


def test_a_bad_tag_is_a_usage_error(cli: Cli, memory_socket: Path) -> None:
    result = cli("describe", "instance-memory", "--tag", "group")
    assert result.exit_code == 2
    assert "Invalid value for --tag: 'group' is not KEY=VALUE" in result.stderr


def test_a_type_after_the_slash_picks_the_backend(cli: Cli, plugins_home: Path) -> None:
    with serve_in_thread({"": MemoryPlugin(), "big": MemoryPlugin()}, plugins_home / "multi"):
        assert cli.ok("provision", "multi/big", "-", input="{}") == "inst-1\n"
        assert cli.ok("describe", "multi/big", "-q") == "inst-1\n"
        assert cli.ok("describe", "multi", "-q") == ""
