"""``instance-rpc validate NAME FILE``: ask the plugin whether a spec's Properties are usable."""

from __future__ import annotations

import click

from ..specfile import SpecFileError, parse_properties, parse_spec
from ._app import fail, main
from ._common import NAME_HELP, SPEC_HELP, call_plugin, help_with, read_input
from ._tls import TLS_HELP, tls_options

__all__ = ["validate"]


@main.command()
@click.argument("name")
@click.argument("file", metavar="FILE|-")
@click.option(
    "--properties-only",
    is_flag=True,
    help="FILE holds the Properties value itself rather than a whole spec.",
)
@help_with(SPEC_HELP, NAME_HELP, TLS_HELP)
@tls_options
def validate(name: str, file: str, properties_only: bool) -> None:
    """Check a spec's Properties with a plugin.

    Asks plugin NAME to validate the Properties of the spec in FILE (- reads standard input).
    Prints "valid" and exits 0, or prints the plugin's reason and exits 1. Nothing is created.

    \b
    Examples:
      instance-rpc validate instance-memory web.json
      echo '{"size": "small"}' | instance-rpc validate instance-memory --properties-only -
    """
    data = read_input(file)
    source = "<stdin>" if file == "-" else file
    try:
        if properties_only:
            properties = parse_properties(data, source=source)
        else:
            properties = parse_spec(data, source=source).properties
    except SpecFileError as exc:
        fail(str(exc))
    call_plugin(name, lambda client: client.validate(properties))
    click.echo("valid")
