"""``instance-rpc bench``: put load on any Instance plugin and report what it sustained."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from ..errors import InstanceRPCError
from ..testing.bench import METHODS, LoadReport, run_load
from . import eventloop
from ._app import fail, main
from ._common import NAME_HELP, help_with
from ._tls import client_tls, tls_options

__all__ = ["bench"]


def _render(report: LoadReport) -> str:
    s = report.summary
    return (
        f"{report.method} on {report.target}, concurrency {report.concurrency}, "
        f"{s.seconds:.1f} s (seed {report.seed})\n"
        f"calls      {s.calls}\n"
        f"calls/s    {s.calls_per_second:.1f}\n"
        f"p50        {s.p50_ms:.3f} ms\n"
        f"p99        {s.p99_ms:.3f} ms\n"
        f"max        {s.max_ms:.3f} ms\n"
        f"errors     {s.errors}\n"
        f"destroyed  {report.destroyed} (instances this run provisioned)"
    )


@main.command()
@click.argument("target", metavar="NAME")
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default="validate",
    show_default=True,
    help="The call to repeat; mix draws validate, provision, describe, label and destroy.",
)
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Seconds of load.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the call mix.")
@click.option("--keep", is_flag=True, help="Keep the instances the run provisions.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@help_with(NAME_HELP)
@tls_options
def bench(
    target: str,
    method: str,
    concurrency: int,
    duration: float,
    seed: int,
    keep: bool,
    as_json: bool,
) -> None:
    """Call the plugin NAME for a while; print calls/s, p50, p99 and errors.

    \b
    Examples:
      instance-rpc bench instance-memory --method provision --concurrency 16 --duration 10
      instance-rpc bench /tmp/p.sock --method mix --seed 7 --json
    """
    try:
        report = eventloop.run(
            run_load(
                target,
                method=method,
                concurrency=concurrency,
                duration=duration,
                seed=seed,
                keep=keep,
                ssl=client_tls(),
            )
        )
    except InstanceRPCError as exc:
        fail(str(exc))
    click.echo(json.dumps(asdict(report), indent=2) if as_json else _render(report))
