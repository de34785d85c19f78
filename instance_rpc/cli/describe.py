"""``instance-rpc describe NAME``: the instances a plugin knows, as a table, JSON or YAML."""

from __future__ import annotations

from collections.abc import Sequence

import click
import msgspec
import yaml

from ..types import Description, load_properties
from ..wire import WireDescription
from ._app import main
from ._common import NAME_HELP, call_plugin, help_with, parse_pairs
from ._table import render_table
from ._tls import TLS_HELP, tls_options

__all__ = ["describe", "render_descriptions"]


def _tags_cell(tags: dict[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(tags.items())) or "-"


def _properties_cell(description: Description) -> str:
    if description.properties is None:
        return "-"
    # One line, with the plugin's own spelling of every value (1.50 stays 1.50).
    return msgspec.json.format(bytes(description.properties), indent=0).decode()


def _table(descriptions: Sequence[Description], with_properties: bool) -> str:
    header = ["ID", "LOGICAL", "TAGS"] + (["PROPERTIES"] if with_properties else [])
    rows = []
    for d in descriptions:
        row = [d.id, d.logical_id or "-", _tags_cell(d.tags)]
        if with_properties:
            row.append(_properties_cell(d))
        rows.append(row)
    return render_table(header, rows)


def _yaml(descriptions: Sequence[Description]) -> str:
    documents = []
    for d in descriptions:
        document: dict[str, object] = {"ID": d.id, "LogicalID": d.logical_id, "Tags": d.tags}
        if d.properties is not None:
            document["Properties"] = load_properties(d.properties)
        documents.append(document)
    return yaml.safe_dump(documents, sort_keys=False, allow_unicode=True).rstrip("\n")


def render_descriptions(
    descriptions: Sequence[Description], output: str, *, with_properties: bool = False
) -> str:
    """``table``, ``json`` (the wire's Descriptions, Properties exact) or ``yaml``."""
    if output == "json":
        wire = [WireDescription.from_description(d) for d in descriptions]
        return msgspec.json.format(msgspec.json.encode(wire), indent=2).decode()
    if output == "yaml":
        return _yaml(descriptions)
    return _table(descriptions, with_properties)


@main.command()
@click.argument("name")
@click.option(
    "-t",
    "--tag",
    "tags",
    multiple=True,
    metavar="KEY=VALUE",
    help="Only instances with this tag; repeat for several (all must match).",
)
@click.option("-p", "--properties", is_flag=True, help="Ask for each instance's Properties too.")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json", "yaml"]),
    default="table",
    show_default=True,
)
@click.option("-q", "--quiet", is_flag=True, help="Print the IDs only, one a line.")
@help_with(NAME_HELP, TLS_HELP)
@tls_options
def describe(name: str, tags: tuple[str, ...], properties: bool, output: str, quiet: bool) -> None:
    """List the instances of plugin NAME, sorted by ID.

    The table shows ID, LOGICAL (the LogicalID, - when none), TAGS and, with --properties,
    PROPERTIES. json prints the Descriptions as the plugin sent them (Go field names).

    \b
    Examples:
      instance-rpc describe instance-memory
      instance-rpc describe instance-memory --tag group=web --properties
      instance-rpc describe instance-memory -t group=web -q \\
        | xargs instance-rpc destroy instance-memory
    """
    wanted = parse_pairs(tags, "--tag")
    descriptions = sorted(
        call_plugin(name, lambda client: client.describe_instances(wanted, properties))
    )
    if quiet:
        for d in descriptions:
            click.echo(d.id)
        return
    click.echo(render_descriptions(descriptions, output, with_properties=properties))
