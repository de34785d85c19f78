"""Every failure is one readable line on stderr and a non-zero status, never a traceback."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import Cli, fake_plugin

HELLO_061 = {"result": {"Objects": {"Instance/0.6.1": [{"Name": ".", "ProxyFor": ""}]}}}
COMMANDS = [
    ("describe",),
    ("provision", "-"),
    ("validate", "-"),
    ("label", "inst-1", "a=b"),
    ("destroy", "inst-1"),
    ("info",),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_unknown_plugin(cli: Cli, plugins_home: Path, command: tuple[str, ...]) -> None:
    verb, *rest = command
    line = cli.fails(verb, "ghost", *rest, input="{}")
    assert line == f"no plugin named 'ghost' in {plugins_home}"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_stale_socket(cli: Cli, plugins_home: Path, command: tuple[str, ...]) -> None:
    path = plugins_home / "gone"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))
    verb, *rest = command
    line = cli.fails(verb, "gone", *rest, input="{}")
    assert line == f"plugin at {path} is unavailable: Connection refused"


def test_a_name_that_is_not_a_plugin_name(cli: Cli, plugins_home: Path) -> None:
    line = cli.fails("describe", "a/b/c")
    assert line == "not a plugin name (want lookup or lookup/type): 'a/b/c'"


def test_an_unknown_type_keeps_the_go_message_and_lists_the_types(
    cli: Cli, memory_socket: Path
) -> None:
    line = cli.fails("describe", "instance-memory/large")
    assert line == "instance-memory/large: no-plugin:large (types: .)"


def test_version_mismatch(cli: Cli, plugins_home: Path) -> None:
    hello = {"result": {"Objects": {"Instance/0.9.0": [{"Name": ".", "ProxyFor": ""}]}}}
    with fake_plugin(plugins_home / "future", {"Handshake.Hello": hello}):
        line = cli.fails("describe", "future")
    assert line == "version mismatch: client speaks Instance/0.6.0, plugin offers Instance/0.9.0"


def test_a_plugin_that_implements_something_else(cli: Cli, plugins_home: Path) -> None:
    hello = {"result": {"Objects": {"Group/0.6.1": [{"Name": ".", "ProxyFor": ""}]}}}
    with fake_plugin(plugins_home / "group", {"Handshake.Hello": hello}):
        line = cli.fails("destroy", "group", "x")
    assert line == "plugin does not implement Instance/0.6.0; it implements Group/0.6.1"


def test_a_remote_error_keeps_its_message(cli: Cli, plugins_home: Path) -> None:
    answers: dict[str, dict[str, Any]] = {
        "Handshake.Hello": HELLO_061,
        "Instance.Provision": {"error": {"code": -32000, "message": "quota exceeded: 0 left"}},
        "Instance.DescribeInstances": {
            "error": {"code": -32602, "message": "Expected `bool` - at `$.Properties`"}
        },
    }
    with fake_plugin(plugins_home / "cloud", answers):
        assert cli.fails("provision", "cloud", "-", input="{}") == "cloud: quota exceeded: 0 left"
        assert cli.fails("describe", "cloud") == (
            "cloud: InvalidParams (-32602): Expected `bool` - at `$.Properties`"
        )


def test_a_socket_path_works_as_a_name(cli: Cli, memory_socket: Path) -> None:
    assert cli.ok("provision", str(memory_socket), "-", input="{}") == "inst-1\n"
    assert cli.ok("describe", str(memory_socket), "-q") == "inst-1\n"
