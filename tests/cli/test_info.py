"""``instance-rpc info``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.helpers import Cli


def test_readable_document(cli: Cli, memory_socket: Path) -> None:
    lines = cli.ok("info", "instance-memory").splitlines()
    assert lines[0].split() == ["Vendor:", "instance-rpc-memory", "0.1.0"]
    assert lines[1].split() == ["Implements:", "Instance/0.6.0,", "Instance/0.6.1"]
    assert "Interface Instance/0.6.0:" in lines
    assert "  Instance.Provision(Type, Spec)" in lines
    assert "  Instance.Destroy(Type, Instance, Context)" in lines


def test_json_is_the_document(cli: Cli, memory_socket: Path) -> None:
    document = json.loads(cli.ok("info", str(memory_socket), "-o", "json"))
    assert document["Vendor"]["Name"] == "instance-rpc-memory"
    assert {"Name": "Instance", "Version": "0.6.0", "Sub": ""} in document["Implements"]
    methods = [m["Request"]["method"] for m in document["Interfaces"][0]["Methods"]]
    assert "Instance.DescribeInstances" in methods


def test_unknown_plugin(cli: Cli, plugins_home: Path) -> None:
    assert cli.fails("info", "nothing-here") == f"no plugin named 'nothing-here' in {plugins_home}"
