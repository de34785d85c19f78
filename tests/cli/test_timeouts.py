"""``provision`` and ``destroy`` ``--timeout``: a call without an answer in time has an unknown
outcome (exit status 3), not a failed one; the defaults outlast the shipped backends' grace."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from instance_rpc.cli._app import EXIT_OUTCOME_UNKNOWN
from instance_rpc.cli._common import (
    DEFAULT_DESTROY_TIMEOUT,
    DEFAULT_PROVISION_TIMEOUT,
    LONGEST_GRACE_SECONDS,
)
from instance_rpc.testing.daemon import serve_in_thread
from instance_rpc.types import Context, Spec
from instance_rpc_plugins.docker._properties import DockerProperties
from instance_rpc_plugins.memory import MemoryPlugin
from instance_rpc_plugins.process._settings import MAX_STOP_GRACE_SECONDS
from tests.cli.helpers import Cli

SLOW_SECONDS = 1.5


class Lingering(MemoryPlugin):
    """Provision and Destroy finish after ``SLOW_SECONDS``, whether the caller waits or not."""

    def __init__(self) -> None:
        super().__init__()
        self.finished = threading.Event()

    async def provision(self, spec: Spec) -> str:
        await asyncio.sleep(SLOW_SECONDS)
        instance_id = await super().provision(spec)
        self.finished.set()
        return instance_id

    async def destroy(self, instance: str, context: Context) -> None:
        known = {d.id for d in await self.describe_instances(None)}
        if instance in known:  # an unknown ID is refused at once
            await asyncio.sleep(SLOW_SECONDS)
        await super().destroy(instance, context)
        self.finished.set()


@pytest.fixture
def lingering(plugins_home: Path) -> Iterator[Lingering]:
    backend = Lingering()
    with serve_in_thread(backend, plugins_home / "slow"):
        yield backend


def test_a_destroy_without_an_answer_in_time_is_unknown_not_failed(
    cli: Cli, lingering: Lingering
) -> None:
    instance_id = asyncio.run(MemoryPlugin.provision(lingering, Spec()))
    result = cli("destroy", "slow", instance_id, "--timeout", "0.3")
    assert result.exit_code == EXIT_OUTCOME_UNKNOWN == 3
    assert result.stdout == ""
    assert result.stderr == (
        f"instance-rpc: slow: destroy {instance_id}: no answer within 0.3s; the outcome is "
        "unknown (the plugin may still complete it)\n"
    )
    assert lingering.finished.wait(10)  # and it did
    assert cli.ok("describe", "slow", "-q") == ""


def test_a_refusal_outweighs_an_unknown_outcome(cli: Cli, lingering: Lingering) -> None:
    """A refusal the plugin sent is a failure (1), whatever else happened to the other IDs."""
    instance_id = asyncio.run(MemoryPlugin.provision(lingering, Spec()))
    result = cli("destroy", "slow", instance_id, "no-such", "--timeout", "0.3")
    assert result.exit_code == 1
    assert "outcome is unknown" in result.stderr.splitlines()[0]
    assert "instance not found: no-such" in result.stderr.splitlines()[1]


def test_a_provision_without_an_answer_in_time_is_unknown(cli: Cli, lingering: Lingering) -> None:
    result = cli("provision", "slow", "-", "--timeout", "0.3", input="{}")
    assert result.exit_code == 3
    assert result.stderr == (
        "instance-rpc: slow: provision: no answer within 0.3s; the outcome is unknown "
        "(the plugin may still complete it)\n"
    )
    assert lingering.finished.wait(10)
    assert len(cli.ok("describe", "slow", "-q").split()) == 1


def test_a_long_enough_timeout_waits_for_the_answer(cli: Cli, lingering: Lingering) -> None:
    instance_id = cli.ok("provision", "slow", "-", "--timeout", "30", input="{}").strip()
    assert cli.ok("destroy", "slow", instance_id, "--timeout", "30") == f"{instance_id}\n"


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_the_timeout_is_a_positive_number(cli: Cli, value: str) -> None:
    for command in (["provision", "slow", "-"], ["destroy", "slow", "i-1"]):
        result = cli(*command, "--timeout", value)
        assert result.exit_code == 2
        assert "--timeout" in result.stderr


def test_the_defaults_outlast_the_longest_grace_a_shipped_backend_allows() -> None:
    schema = msgspec.json.schema(DockerProperties)
    docker_longest = schema["$defs"]["DockerProperties"]["properties"]["StopTimeout"]["maximum"]
    assert max(MAX_STOP_GRACE_SECONDS, docker_longest) == LONGEST_GRACE_SECONDS
    assert DEFAULT_DESTROY_TIMEOUT > LONGEST_GRACE_SECONDS
    assert DEFAULT_PROVISION_TIMEOUT > LONGEST_GRACE_SECONDS


def test_help_documents_the_timeout_and_the_exit_status(cli: Cli) -> None:
    for command in ("provision", "destroy"):
        text = " ".join(cli.ok(command, "--help").split())
        assert "--timeout SECONDS" in text
        assert "exits with status 3" in text
