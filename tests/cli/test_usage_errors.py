"""A command line the command cannot parse: one line on stderr and exit status 2, as ``--help``
documents; other failures exit 1."""

from __future__ import annotations

import pytest

from instance_rpc.cli._app import USAGE_ERROR
from tests.daemon import run_cli


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["serve", "--frobnicate"], "No such option '--frobnicate'"),
        (["describe"], "Missing argument 'NAME'"),
        (["nope"], "No such command 'nope'"),
        (["serve", "--grace", "soon"], "Invalid value for '--grace': 'soon' is not a valid"),
    ],
)
def test_a_usage_error_is_one_line_and_status_2(args: list[str], line: str) -> None:
    result = run_cli(*args)
    assert result.returncode == USAGE_ERROR == 2
    assert result.stdout == ""
    (said,) = result.stderr.splitlines()
    assert said.startswith(f"instance-rpc: {line}")
    command = " ".join(["instance-rpc", *args[:1]]) if args[0] != "nope" else "instance-rpc"
    assert said.endswith(f"(see '{command} --help')")


def test_the_statuses_are_documented_in_help() -> None:
    text = " ".join(run_cli("--help").stdout.split())
    assert "Exit statuses: 0 done; 1 failed" in text
    assert "2 the command line cannot be parsed" in text
    assert "128+N when a second signal N ends it at once" in text


def test_a_failure_is_one_line_and_status_1() -> None:
    result = run_cli("describe", "/nonexistent/irpc-usage-test.sock")
    assert result.returncode == 1
    (said,) = result.stderr.splitlines()
    assert said.startswith("instance-rpc: ")
