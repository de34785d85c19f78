"""``instance-rpc destroy NAME ID...``: destroy instances, saying why."""

from __future__ import annotations

import click

from ..client import PluginClient
from ..errors import RPCError
from ..types import ROLLING_UPDATE, TERMINATION
from ._app import fail, main
from ._common import NAME_HELP, call_plugin, help_with
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
@help_with(NAME_HELP, TLS_HELP)
@tls_options
def destroy(name: str, instances: tuple[str, ...], reason: str) -> None:
    """Destroy instances; print each ID destroyed.

    Destroys the instances ID... of plugin NAME. Every ID is tried; one the plugin refuses is
    reported on stderr and the exit status is 1.

    \b
    Examples:
      instance-rpc destroy instance-memory inst-1 inst-2
      instance-rpc destroy instance-memory inst-3 --reason rolling_update
    """
    context = _REASONS[reason]

    async def destroy_each(client: PluginClient) -> list[str]:
        failures = []
        for instance in instances:
            try:
                await client.destroy(instance, context)
            except RPCError as exc:  # the plugin refused this one; the others may still go
                failures.append(f"{name}: destroy {instance}: {exc.message}")
            else:
                click.echo(instance)
        return failures

    failures = call_plugin(name, destroy_each)
    if failures:
        for line in failures[:-1]:
            click.echo(f"instance-rpc: {line}", err=True)
        fail(failures[-1])
