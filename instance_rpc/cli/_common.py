"""What the Instance commands share: reaching a plugin, reading inputs, reporting errors."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import click

from ..client import PluginClient
from ..errors import (
    CallOutcomeUnknown,
    CallTimeout,
    InstanceRPCError,
    NoSuchType,
    PluginError,
    RPCError,
)
from . import eventloop
from ._app import fail, outcome_unknown
from ._tls import client_tls

__all__ = [
    "DEFAULT_DESTROY_TIMEOUT",
    "DEFAULT_PROVISION_TIMEOUT",
    "LONGEST_GRACE_SECONDS",
    "NAME_HELP",
    "SPEC_HELP",
    "TIMEOUT_HELP",
    "call_plugin",
    "error_line",
    "help_with",
    "is_outcome_unknown",
    "outcome_line",
    "parse_pairs",
    "read_input",
    "timeout_option",
]

_T = TypeVar("_T")

NAME_HELP = (
    "NAME is a plugin name, lookup[/type], looked up in the plugins directory "
    "($INFRAKIT_PLUGINS_DIR, else $INFRAKIT_HOME/plugins, else ~/.infrakit/plugins), "
    "or the path of a socket."
)

SPEC_HELP = (
    "A spec is a JSON or YAML object with the Go field names of the wire, every one optional: "
    '{"Properties": {...}, "Tags": {"k": "v"}, "Init": "script", "LogicalID": "id", '
    '"Attachments": [{"ID": "vol-1", "Type": "volume"}]}. From JSON, Properties reach the '
    "plugin byte for byte. A file named .yaml or .yml is read as YAML, .json as JSON; "
    "otherwise JSON is tried first."
)


LONGEST_GRACE_SECONDS = 3600.0
"""The longest graceful stop a shipped backend allows: the process backend's
``stop_grace_seconds`` and the docker backend's ``StopTimeout`` (a test keeps them in step)."""

DEFAULT_DESTROY_TIMEOUT = LONGEST_GRACE_SECONDS + 60.0
"""Seconds ``destroy`` waits for each answer: a plugin that stops an instance before it
answers may take the longest grace period, and then some."""

DEFAULT_PROVISION_TIMEOUT = LONGEST_GRACE_SECONDS + 600.0
"""Seconds ``provision`` waits: a Provision of a LogicalID being destroyed waits for that
Destroy, then creates (pulls, Init), which may take minutes."""

TIMEOUT_HELP = (
    "Without an answer within --timeout seconds the outcome is unknown, not failed: the plugin "
    "may still finish the call. The command then says so and exits with status 3 (1 is a "
    "failure the plugin reported, 2 a usage error). A Provision with a LogicalID is safe to "
    "repeat (the plugin returns the instance it made); one without may make a second instance, "
    "so look first (instance-rpc describe)."
)


def timeout_option(default: float, help_text: str) -> Callable[[_F], _F]:
    """``--timeout SECONDS`` (more than 0, ``default`` when not given): how long the command
    waits for an answer before the outcome is unknown (exit status 3); ``help_text`` says so."""
    return click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=default,
        show_default=True,
        metavar="SECONDS",
        help=help_text,
    )


def outcome_line(target: str, what: str, exc: InstanceRPCError) -> str:
    """The line saying a call's outcome is unknown: no answer, or a connection that broke after
    the plugin may have read the request."""
    why = f"no answer within {exc.seconds:g}s" if isinstance(exc, CallTimeout) else str(exc)
    return f"{target}: {what}: {why}; the outcome is unknown (the plugin may still complete it)"


def is_outcome_unknown(exc: InstanceRPCError) -> bool:
    """True for an error after which the call may or may not have taken effect."""
    return isinstance(exc, CallTimeout | CallOutcomeUnknown)


_F = TypeVar("_F", bound=Callable[..., None])


def help_with(*paragraphs: str) -> Callable[[_F], _F]:
    """Append paragraphs to a command's docstring (apply it below ``@main.command``)."""

    def append(function: _F) -> _F:
        function.__doc__ = "\n\n".join([inspect.cleandoc(function.__doc__ or ""), *paragraphs])
        return function

    return append


def error_line(target: str, exc: InstanceRPCError) -> str:
    """One readable line for an error: the plugin's own message for what the plugin raised (with
    the types a daemon serves after a ``no-plugin:<type>``)."""
    if isinstance(exc, NoSuchType) and exc.served is not None:
        served = ", ".join(name or "." for name in exc.served)
        return f"{target}: {exc.message} (types: {served})"
    if isinstance(exc, PluginError):
        return f"{target}: {exc.message}"
    if isinstance(exc, RPCError):
        return f"{target}: {type(exc).__name__} ({exc.code}): {exc.message}"
    return str(exc)


def call_plugin(
    target: str,
    action: Callable[[PluginClient], Awaitable[_T]],
    *,
    what: str = "call",
    timeout: float | None = None,
    provision_timeout: float | None = None,
) -> _T:
    """Run ``action`` with a client of ``target``; any failure ends the command with one line
    (exit status 1), a call whose outcome is unknown (``what`` names it) with status 3.
    ``timeout`` and ``provision_timeout`` (seconds), when given, are the client's."""

    context = client_tls()

    async def run() -> _T:
        async with PluginClient(target, ssl=context) as client:
            if timeout is not None:
                client.timeout = timeout
            if provision_timeout is not None:
                client.provision_timeout = provision_timeout
            return await action(client)

    try:
        return eventloop.run(run())
    except InstanceRPCError as exc:
        if is_outcome_unknown(exc):
            outcome_unknown(outcome_line(target, what, exc))
        fail(error_line(target, exc))


def parse_pairs(pairs: Iterable[str], what: str) -> dict[str, str]:
    """``key=value`` arguments as a dict (a later key wins); the value may be empty."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint=what)
        parsed[key] = value
    return parsed


def read_input(file: str) -> bytes:
    """The bytes of ``file``, or of standard input for ``-``."""
    if file == "-":
        return sys.stdin.buffer.read()
    try:
        with open(file, "rb") as handle:
            return handle.read()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
