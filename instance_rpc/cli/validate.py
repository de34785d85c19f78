"""``instance-rpc validate NAME FILE``: ask the plugin whether a spec's Properties are usable."""

from __future__ import annotations

import click
import jsonschema

from ..client import PluginClient
from ..properties_schema import schema_violation
from ..specfile import SpecFileError, parse_properties, parse_spec
from ..types import Properties, load_properties
from ._app import fail, main
from ._common import NAME_HELP, SPEC_HELP, call_plugin, help_with, read_input
from ._schema import declared_schema
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

    Asks plugin NAME to validate the Properties of the spec in FILE (- reads standard input),
    then checks them against the JSON Schema the plugin declares for its type (see info
    --schema), for plugins that do not enforce their own declaration. Prints "valid" and exits 0,
    or prints the reason, naming the field, in the words provision would use, and exits 1.
    Nothing is created.

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
    problem = call_plugin(name, lambda client: _check(client, properties))
    if problem is not None:
        fail(f"{name}: invalid Properties: {problem}")
    click.echo("valid")


async def _check(client: PluginClient, properties: Properties) -> str | None:
    """The plugin's Validate (raising its error, worded as its Provision words it); once it
    accepts, the declared schema's objection, if any (absent Properties are the plugin's to
    judge, as in Provision)."""
    await client.validate(properties)
    value = load_properties(properties)
    schema = None if value is None else await declared_schema(client)
    if schema is None:
        return None
    try:
        return schema_violation(schema, value)
    except jsonschema.SchemaError:
        return None  # an unusable schema: the plugin's own check decided
