"""``instance-rpc destroy NAME ID...``: destroy instances, saying why."""

from __future__ import annotations

import click

from ..client import PluginClient
from ..errors import InstanceRPCError, RPCError
from ..types import ROLLING_UPDATE, TERMINATION
from ._app import fail, main, outcome_unknown
from ._common import (
    DEFAULT_DESTROY_TIMEOUT,
    NAME_HELP,
    TIMEOUT_HELP,
    call_plugin,
    help_with,
    is_outcome_unknown,
    outcome_line,
    timeout_option,
)
from ._tls import TLS_HELP, tls_options

__all__ = ["destroy"]

_REASONS = {context.reason: context for context in (TERMINATION, ROLLING_UPDATE)}


@main.command()
@click.argument("name")
@click.argument("instances", nargs=-1, required=True, metavar="ID...")
@click.option(
    "--reason",
    type=click.Choice(list(_REASONS)),
    default=TERMINATION.reason,
    show_default=True,
    help="Why, as the plugin is told: for good, or to be replaced by a new version.",
)
@timeout_option(
    DEFAULT_DESTROY_TIMEOUT,
    "How long to wait for each Destroy's answer; then its outcome is unknown (status 3).",
)
@help_with(TIMEOUT_HELP, NAME_HELP, TLS_HELP)
@tls_options
def destroy(name: str, instances: tuple[str, ...], reason: str, timeout: float) -> None:
    """Destroy instances; print each ID destroyed.

    Destroys the instances ID... of plugin NAME. Every ID is tried; one the plugin refuses is
    reported on stderr and the exit status is 1; one without an answer in time is reported as
    unknown and, if none was refused, the exit status is 3. A Destroy may be repeated: once
    it took effect, a repeat answers instance not found.

    \b
    Examples:
      instance-rpc destroy instance-memory inst-1 inst-2
      instance-rpc destroy instance-memory inst-3 --reason rolling_update
    """
    context = _REASONS[reason]

    async def destroy_each(client: PluginClient) -> tuple[list[str], list[str]]:
        failures: list[str] = []
        unknown: list[str] = []
        for instance in instances:
            try:
                await client.destroy(instance, context)
            except RPCError as exc:  # the plugin refused this one; the others may still go
                failures.append(f"{name}: destroy {instance}: {exc.message}")
            except InstanceRPCError as exc:
                if not is_outcome_unknown(exc):
                    raise
                unknown.append(outcome_line(name, f"destroy {instance}", exc))
            else:
                click.echo(instance)
        return failures, unknown

    failures, unknown = call_plugin(name, destroy_each, what="destroy", timeout=timeout)
    lines = unknown + failures
    for line in lines[:-1]:
        click.echo(f"instance-rpc: {line}", err=True)
    if failures:
        fail(lines[-1])
    if unknown:
        outcome_unknown(lines[-1])
