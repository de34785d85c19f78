"""Every command's --help explains it with examples."""

from __future__ import annotations

import pytest

from instance_rpc.cli import main
from tests.cli.helpers import Cli

VERBS = ["plugins", "ls", "info", "validate", "provision", "describe", "label", "destroy"]


@pytest.mark.parametrize("verb", VERBS)
def test_help_has_examples(cli: Cli, verb: str) -> None:
    text = cli.ok(verb, "--help")
    assert f"Usage: main {verb}" in text or f"Usage: instance-rpc {verb}" in text
    assert "\x08" not in text
    # The examples keep their lines (click's \\b marker stops it rewrapping them).
    examples = text.split("  Examples:\n")[1].split("\n\n")[0].splitlines()
    assert examples[0].startswith("    instance-rpc ")
    assert all(line.startswith("    ") for line in examples), examples


@pytest.mark.parametrize("verb", ["info", "validate", "provision", "describe", "label", "destroy"])
def test_help_explains_plugin_names(cli: Cli, verb: str) -> None:
    assert "lookup[/type]" in cli.ok(verb, "--help")


@pytest.mark.parametrize("verb", ["validate", "provision"])
def test_help_explains_spec_documents(cli: Cli, verb: str) -> None:
    assert '"Attachments": [{"ID"' in " ".join(cli.ok(verb, "--help").split())


def test_every_verb_is_registered() -> None:
    assert set(VERBS) <= set(main.commands)
