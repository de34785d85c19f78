"""The ``instance-rpc`` command group and what its commands share.

Each command lives in a module of its own: it parses its arguments, calls the library, renders.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from .._version import __version__

__all__ = [
    "EXIT_OUTCOME_UNKNOWN",
    "EXIT_STATUSES",
    "LOG_LEVELS",
    "USAGE_ERROR",
    "fail",
    "main",
    "outcome_unknown",
]

LOG_LEVELS = ["debug", "info", "warning", "error"]

USAGE_ERROR = 2
"""The exit status of a command line the command cannot parse."""

EXIT_OUTCOME_UNKNOWN = 3
"""Exit status of a call whose outcome is unknown: no answer within ``--timeout``, or the
connection broke after the plugin may have read the request. The plugin may still complete
it: look (``describe``) before repeating a call that is not safe to repeat."""

EXIT_STATUSES = (
    "Exit statuses: 0 done; 1 failed (one line on stderr: the plugin refused, could not be "
    "reached, an input or option value was refused, a conformance check failed); 2 the command "
    "line cannot be parsed (an unknown option or command, a missing argument, a value of the "
    "wrong type; one line on stderr); 3 the outcome is unknown (provision, destroy: no answer "
    "within --timeout, or the connection broke after the request was sent); serve: 0 after a "
    "signal stopped it, 128+N when a second signal N ends it at once."
)


def fail(message: str) -> NoReturn:
    """End the command with one readable line on stderr and exit status 1."""
    click.echo(f"instance-rpc: {message}", err=True)
    sys.exit(1)


def outcome_unknown(message: str) -> NoReturn:
    """End the command with one line on stderr and :data:`EXIT_OUTCOME_UNKNOWN`."""
    click.echo(f"instance-rpc: {message}", err=True)
    sys.exit(EXIT_OUTCOME_UNKNOWN)


class _OneLineGroup(click.Group):
    """A group whose usage errors are one line on stderr (``instance-rpc: <what is wrong>
    (see '<command> --help')``) and exit status :data:`USAGE_ERROR`."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        prog_name = prog_name or "instance-rpc"  # not "-c" or "__main__.py"
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            returned = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else "instance-rpc"
            message = exc.format_message().replace("\n", " ").rstrip(".")
            click.echo(f"instance-rpc: {message} (see '{command} --help')", err=True)
            sys.exit(USAGE_ERROR)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("instance-rpc: aborted", err=True)
            sys.exit(1)
        sys.exit(returned if isinstance(returned, int) else 0)


@click.group(
    cls=_OneLineGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EXIT_STATUSES,
)
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
