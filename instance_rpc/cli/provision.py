"""``instance-rpc provision NAME FILE``: create an instance from a spec document."""

from __future__ import annotations

import click

from ..specfile import SpecFileError, parse_spec
from ._app import fail, main
from ._common import (
    DEFAULT_PROVISION_TIMEOUT,
    NAME_HELP,
    SPEC_HELP,
    TIMEOUT_HELP,
    call_plugin,
    help_with,
    read_input,
    timeout_option,
)
from ._tls import TLS_HELP, tls_options

__all__ = ["provision"]


@main.command()
@click.argument("name")
@click.argument("file", metavar="FILE|-")
@timeout_option(
    DEFAULT_PROVISION_TIMEOUT,
    "How long to wait for the plugin's answer; then the outcome is unknown (status 3).",
)
@help_with(SPEC_HELP, TIMEOUT_HELP, NAME_HELP, TLS_HELP)
@tls_options
def provision(name: str, file: str, timeout: float) -> None:
    """Create an instance from a spec; print its ID.

    Asks plugin NAME to provision the spec in FILE (- reads standard input) and prints
    the new instance's ID.

    \b
    Examples:
      instance-rpc provision instance-memory web.json
      echo '{"Tags": {"group": "web"}, "Properties": {"size": "small"}}' \\
        | instance-rpc provision instance-memory -
    """
    source = "<stdin>" if file == "-" else file
    try:
        spec = parse_spec(read_input(file), source=source)
    except SpecFileError as exc:
        fail(str(exc))
    instance_id = call_plugin(
        name, lambda client: client.provision(spec), what="provision", provision_timeout=timeout
    )
    if instance_id is None:
        click.echo("provisioned; the plugin returned no ID", err=True)
    else:
        click.echo(instance_id)
