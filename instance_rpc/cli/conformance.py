"""``instance-rpc conformance``: check a live plugin against the Instance contract."""

from __future__ import annotations

from pathlib import Path

import click
import msgspec

from ..errors import InstanceRPCError
from ..testing.conformance import CheckResult, run_conformance
from . import eventloop
from ._app import fail, main
from ._common import NAME_HELP, help_with
from ._tls import client_tls, tls_options

__all__ = ["conformance"]


def _read_json(option: str, path: str | None) -> msgspec.Raw | None:
    if path is None:
        return None
    try:
        data = Path(path).read_bytes()
        msgspec.json.decode(data)
    except OSError as exc:
        fail(f"{option}: cannot read {path}: {exc.strerror or exc}")
    except msgspec.DecodeError as exc:
        fail(f"{option}: {path} is not JSON: {exc}")
    return msgspec.Raw(data.strip())


@main.command()
@click.argument("target", metavar="NAME")
@click.option("--type", "type_name", metavar="T", help="The Type to test (overrides NAME/T).")
@click.option(
    "--properties",
    "properties_file",
    metavar="FILE",
    help="JSON file: the Properties to provision with (default: the example Properties the "
    "plugin declares for the type in /info/api.json, else {}).",
)
@click.option(
    "--bad-properties",
    "bad_properties_file",
    metavar="FILE",
    help='JSON file: Properties Validate must refuse (default ["not", "an", "object"]).',
)
@click.option(
    "--concurrency",
    default=8,
    show_default=True,
    type=click.IntRange(min=2, max=1000),
    help="Provisions sent at once by the concurrency check.",
)
@click.option(
    "--timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds to wait for each call.",
)
@help_with(NAME_HELP)
@tls_options
def conformance(
    target: str,
    type_name: str | None,
    properties_file: str | None,
    bad_properties_file: str | None,
    concurrency: int,
    timeout: float,
) -> None:
    """Check the plugin NAME against the Instance contract.

    Prints one line per check and a summary; exits 1 if any check fails. Everything the run
    creates is tagged with a run tag and destroyed at the end.

    \b
    Examples:
      instance-rpc conformance instance-file
      instance-rpc conformance local/process --properties props.json
      instance-rpc conformance /run/my-plugin.sock --type small
    """
    properties = _read_json("--properties", properties_file)
    bad_properties = _read_json("--bad-properties", bad_properties_file)

    def show(result: CheckResult) -> None:
        click.echo(result.line())

    try:
        report = eventloop.run(
            run_conformance(
                target,
                type_name=type_name,
                properties=properties,
                bad_properties=bad_properties,
                concurrency=concurrency,
                timeout=timeout,
                on_result=show,
                ssl=client_tls(),
            )
        )
    except InstanceRPCError as exc:
        fail(str(exc))
    click.echo(report.summary())
    if not report.ok:
        raise SystemExit(1)
