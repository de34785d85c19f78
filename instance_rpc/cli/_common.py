"""What the Instance commands share: reaching a plugin, reading inputs, reporting errors."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import click

from ..client import PluginClient
from ..errors import InstanceRPCError, NoSuchType, PluginError, RPCError
from . import eventloop
from ._app import fail
from ._tls import client_tls

__all__ = [
    "NAME_HELP",
    "SPEC_HELP",
    "call_plugin",
    "error_line",
    "help_with",
    "parse_pairs",
    "read_input",
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


def call_plugin(target: str, action: Callable[[PluginClient], Awaitable[_T]]) -> _T:
    """Run ``action`` with a client of ``target``; any failure ends the command with one line."""

    context = client_tls()

    async def run() -> _T:
        async with PluginClient(target, ssl=context) as client:
            return await action(client)

    try:
        return eventloop.run(run())
    except InstanceRPCError as exc:
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
