"""``instance-rpc plugins`` / ``ls``."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from instance_rpc.testing.daemon import serve_in_thread
from instance_rpc_plugins.memory import MemoryPlugin
from tests.cli.helpers import Cli, fake_plugin, table_rows


def _stale_socket(path: Path) -> None:
    """A socket file nobody listens on: what a killed daemon leaves behind."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))


def test_lists_a_live_plugin_with_its_interfaces_and_types(cli: Cli, memory_socket: Path) -> None:
    rows = table_rows(cli.ok("plugins"))
    assert rows == [
        ["NAME", "INTERFACES", "TYPES", "STATUS"],
        ["instance-memory", "Instance/0.6.1", "(default)", "ok"],
    ]


def test_ls_is_the_same_command(cli: Cli, memory_socket: Path) -> None:
    assert cli.ok("ls") == cli.ok("plugins")


def test_a_stale_socket_shows_as_such(cli: Cli, memory_socket: Path, plugins_home: Path) -> None:
    _stale_socket(plugins_home / "gone")
    rows = table_rows(cli.ok("plugins"))
    assert [row[0] for row in rows] == ["NAME", "gone", "instance-memory"]
    assert rows[1] == ["gone", "-", "-", "stale socket: nothing answers"]
    assert rows[2][-1] == "ok"


def test_every_type_of_a_daemon_is_listed(cli: Cli, plugins_home: Path) -> None:
    backends = {"": MemoryPlugin(), "small": MemoryPlugin(), "big": MemoryPlugin()}
    with serve_in_thread(backends, plugins_home / "multi"):
        rows = table_rows(cli.ok("plugins"))
    assert rows[1][:3] == ["multi", "Instance/0.6.1", "(default), big, small"]


def test_a_plugin_of_another_version_shows_its_interfaces(cli: Cli, plugins_home: Path) -> None:
    hello = {"result": {"Objects": {"Instance/0.9.0": [{"Name": ".", "ProxyFor": ""}]}}}
    with fake_plugin(plugins_home / "future", {"Handshake.Hello": hello}):
        rows = table_rows(cli.ok("plugins"))
    assert rows[1] == ["future", "Instance/0.9.0", "(default)", "ok"]


def test_json_output(cli: Cli, memory_socket: Path, plugins_home: Path) -> None:
    _stale_socket(plugins_home / "gone")
    listed = json.loads(cli.ok("plugins", "-o", "json"))
    assert [entry["Name"] for entry in listed] == ["gone", "instance-memory"]
    assert listed[0]["Status"] == "stale"
    assert "Connection refused" in listed[0]["Error"]
    assert listed[1]["Status"] == "ok"
    assert listed[1]["Socket"] == str(memory_socket)
    assert listed[1]["Interfaces"] == {"Instance/0.6.1": ["."]}


def test_an_empty_directory_says_where_it_looked(cli: Cli, plugins_home: Path) -> None:
    (plugins_home / "not-a-socket").write_text("")
    result = cli("plugins")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == f"no plugins in {plugins_home}\n"


def test_dir_option_overrides_the_environment(
    cli: Cli, memory_socket: Path, tmp_path: Path
) -> None:
    result = cli("plugins", "--dir", str(tmp_path))
    assert result.stderr == f"no plugins in {tmp_path}\n"
    assert "instance-memory" in cli.ok("plugins", "--dir", str(memory_socket.parent))


@pytest.mark.parametrize("command", ["plugins", "ls"])
def test_help_has_examples(cli: Cli, command: str) -> None:
    assert "instance-rpc plugins" in cli.ok(command, "--help")


def test_a_socket_that_answers_no_handshake_shows_the_error(cli: Cli, plugins_home: Path) -> None:
    with fake_plugin(plugins_home / "odd", {}):
        rows = table_rows(cli.ok("plugins"))
        listed = json.loads(cli.ok("plugins", "-o", "json"))
    assert rows[1] == ["odd", "-", "-", "error: Method not found"]
    assert (listed[0]["Status"], listed[0]["Error"]) == ("error", "Method not found")
