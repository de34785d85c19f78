"""The ``instance-rpc`` command group and what its commands share.

Each command lives in a module of its own: it parses its arguments, calls the library, renders.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from .._version import __version__

__all__ = ["EXIT_OUTCOME_UNKNOWN", "LOG_LEVELS", "fail", "main", "outcome_unknown"]

LOG_LEVELS = ["debug", "info", "warning", "error"]

EXIT_OUTCOME_UNKNOWN = 3
"""Exit status of a call whose outcome is unknown: no answer within ``--timeout``, or the
connection broke after the plugin may have read the request. The plugin may still complete
it: look (``describe``) before repeating a call that is not safe to repeat."""


def fail(message: str) -> NoReturn:
    """End the command with one readable line on stderr and exit status 1."""
    click.echo(f"instance-rpc: {message}", err=True)
    sys.exit(1)


def outcome_unknown(message: str) -> NoReturn:
    """End the command with one line on stderr and :data:`EXIT_OUTCOME_UNKNOWN`."""
    click.echo(f"instance-rpc: {message}", err=True)
    sys.exit(EXIT_OUTCOME_UNKNOWN)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="instance-rpc")
def main() -> None:
    """Serve and drive InfraKit Instance plugins (JSON-RPC 2.0 over a Unix socket).

    \b
    Examples:
      instance-rpc serve                      # file backend, ~/.infrakit/plugins/instance-file
      instance-rpc serve --name local --plugin file --plugin process
      instance-rpc conformance local/process
      instance-rpc serve --socket /tmp/p.sock
      instance-rpc plugins                    # what answers in the plugins directory
      instance-rpc provision instance-memory web.json
      instance-rpc describe instance-memory --tag group=web --properties
      instance-rpc label instance-memory inst-1 owner=me
      instance-rpc destroy instance-memory inst-1

    A plugin NAME is lookup[/type] in the plugins directory, or a socket path.
    """
