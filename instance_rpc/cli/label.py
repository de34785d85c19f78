"""``instance-rpc label NAME ID KEY=VALUE...``: merge labels into an instance's tags."""

from __future__ import annotations

import click

from ._app import main
from ._common import NAME_HELP, call_plugin, help_with, parse_pairs
from ._tls import TLS_HELP, tls_options

__all__ = ["label"]


@main.command()
@click.argument("name")
@click.argument("instance", metavar="ID")
@click.argument("labels", nargs=-1, required=True, metavar="KEY=VALUE...")
@help_with(NAME_HELP, TLS_HELP)
@tls_options
def label(name: str, instance: str, labels: tuple[str, ...]) -> None:
    """Merge labels into an instance's tags.

    Labels instance ID of plugin NAME and prints the ID. A label whose key is already a tag
    replaces its value; other tags are kept.

    \b
    Examples:
      instance-rpc label instance-memory inst-1 owner=me tier=front
    """
    parsed = parse_pairs(labels, "KEY=VALUE")
    call_plugin(name, lambda client: client.label(instance, parsed))
    click.echo(instance)
