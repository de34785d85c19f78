"""``instance-rpc info NAME``: the plugin's spec document, readable or raw."""

from __future__ import annotations

import click
import msgspec

from ..client import PluginClient
from ..wire import PluginInfo
from ._app import fail, main
from ._common import NAME_HELP, call_plugin, help_with
from ._schema import type_info
from ._tls import TLS_HELP, tls_options

__all__ = ["info", "render_info"]


def _method_line(request: dict[str, object]) -> str:
    method = str(request.get("method", "?"))
    params = request.get("params")
    names = ", ".join(params) if isinstance(params, dict) else ""
    return f"  {method}({names})"


class _Warnings(msgspec.Struct):
    """What a daemon warns of in its spec document (plain TCP beyond loopback, say)."""

    Warnings: list[str] = msgspec.field(default_factory=list)


def render_info(document: PluginInfo, warnings: list[str] | None = None) -> str:
    """The spec document as a few readable lines: vendor, interfaces, methods and their params."""
    lines: list[str] = [f"WARNING:     {warning}" for warning in warnings or []]
    if document.Vendor is not None:
        vendor = document.Vendor
        url = f"  {vendor.URL}" if vendor.URL else ""
        lines.append(f"Vendor:      {vendor.Name} {vendor.Version}{url}")
    implements = ", ".join(f"{api.Name}/{api.Version}" for api in document.Implements)
    lines.append(f"Implements:  {implements or '-'}")
    for interface in document.Interfaces:
        lines.append(f"Interface {interface.Name}/{interface.Version}:")
        lines.extend(_method_line(example.Request) for example in interface.Methods)
    return "\n".join(lines)


@main.command()
@click.argument("name")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: the document itself, as GET /info/api.json serves it.",
)
@click.option(
    "--schema",
    is_flag=True,
    help="Print the JSON Schema of the Properties of NAME's type (lookup/type; no type: the "
    "default), as the plugin declares it.",
)
@help_with(NAME_HELP, TLS_HELP)
@tls_options
def info(name: str, output: str, schema: bool) -> None:
    """Show what a plugin says about itself.

    Reads GET /info/api.json of plugin NAME: the vendor, the interfaces it implements and, per
    interface, its methods with the names of their params. The json output is the document
    itself, with an example request and response per method.

    \b
    Examples:
      instance-rpc info instance-memory
      instance-rpc info /run/plugins/local.sock -o json
      instance-rpc serve --name local --plugin file --plugin process &
      instance-rpc info local/process --schema
      instance-rpc info local --schema             # the default type: file
    """

    async def fetch(client: PluginClient) -> tuple[bytes, str]:
        return await client.info_json(), client.type_name

    raw, type_name = call_plugin(name, fetch)
    if schema:
        declared = type_info(raw, type_name)
        if declared is None or isinstance(declared.PropertiesSchema, msgspec.UnsetType):
            served = call_plugin(name, _instance_types)
            if type_name and type_name not in served:
                listed = ", ".join(served) or "none"
                fail(f"{name}: the plugin serves no type {type_name!r} (types: {listed})")
            shown = repr(type_name) if type_name else "the default type"
            fail(f"{name}: no Properties schema declared for {shown}")
        click.echo(msgspec.json.format(msgspec.json.encode(declared.PropertiesSchema)).decode())
        return
    if output == "json":
        click.echo(msgspec.json.format(raw, indent=2).decode())
    else:
        document = msgspec.json.decode(raw, type=PluginInfo)
        warnings = msgspec.json.decode(raw, type=_Warnings).Warnings
        click.echo(render_info(document, warnings))


async def _instance_types(client: PluginClient) -> list[str]:
    """The Instance type names the plugin serves (``"."`` is the default)."""
    offered = await client.hello()
    return sorted(
        {name for spec, names in offered.items() if spec.name == "Instance" for name in names}
    )
