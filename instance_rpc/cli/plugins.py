"""``instance-rpc plugins`` (``ls``): the plugins directory, each socket asked who it is."""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

import click
import msgspec

from ..client import PluginClient
from ..errors import InstanceRPCError, PluginUnavailable
from ..handshake import DEFAULT_TYPE_NAME
from ..net.discovery import list_plugins, plugins_dir
from ..net.listen_files import LISTEN_SUFFIX, list_listen_files, read_listen_file
from . import eventloop
from ._app import main
from ._table import render_table
from ._tls import client_tls, tls_options

__all__ = ["PluginStatus", "plugins"]


class PluginStatus(msgspec.Struct, kw_only=True):
    """What one socket answered to the handshake (the ``-o json`` form uses these names)."""

    Name: str
    Socket: str
    Status: str
    Interfaces: dict[str, list[str]] = msgspec.field(default_factory=dict)
    Error: str | None = None
    Address: str | None = None
    """For a ``NAME.listen`` entry: the TCP address it holds (``Socket`` is the file)."""


async def _ask(path: Path, timeout: float) -> PluginStatus:
    try:
        async with PluginClient(path, timeout=timeout) as client:
            offered = await client.hello()
    except PluginUnavailable as exc:
        status = "stale" if _refused(path) else "unavailable"
        return PluginStatus(Name=path.name, Socket=str(path), Status=status, Error=str(exc))
    except InstanceRPCError as exc:
        return PluginStatus(Name=path.name, Socket=str(path), Status="error", Error=str(exc))
    interfaces = {spec.encode(): types for spec, types in offered.items()}
    return PluginStatus(Name=path.name, Socket=str(path), Status="ok", Interfaces=interfaces)


def _refused(path: Path) -> bool:
    """True when nothing listens on the socket: a daemon died and left its file behind."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except ConnectionRefusedError:
            return True
        except OSError:
            return False
    return False


async def _ask_listen(path: Path, timeout: float, context: ssl.SSLContext | None) -> PluginStatus:
    name = path.name.removesuffix(LISTEN_SUFFIX)
    status = PluginStatus(Name=name, Socket=str(path), Status="error")
    try:
        status.Address = read_listen_file(path)
        async with PluginClient(status.Address, timeout=timeout, ssl=context) as client:
            offered = await client.hello()
    except PluginUnavailable as exc:
        status.Status, status.Error = "unavailable", str(exc)
        return status
    except (InstanceRPCError, ValueError, OSError) as exc:
        status.Error = str(exc)
        return status
    status.Status = "ok"
    status.Interfaces = {spec.encode(): types for spec, types in offered.items()}
    return status


async def _ask_all(
    sockets: list[Path], listens: list[Path], timeout: float, context: ssl.SSLContext | None
) -> list[PluginStatus]:
    asked = [_ask(path, timeout) for path in sockets]
    asked += [_ask_listen(path, timeout, context) for path in listens]
    return sorted(await asyncio.gather(*asked), key=lambda status: status.Name)


def _type_names(status: PluginStatus) -> str:
    names = dict.fromkeys(name for types in status.Interfaces.values() for name in types)
    shown = ["(default)" if name == DEFAULT_TYPE_NAME else name for name in names]
    return ", ".join(shown) or "-"


def _status_text(status: PluginStatus) -> str:
    if status.Status == "stale":
        return "stale socket: nothing answers"
    if status.Error is not None:
        return f"{status.Status}: {status.Error}"
    return status.Status


def _table(statuses: list[PluginStatus]) -> str:
    rows = [
        (
            f"{status.Name} ({status.Address})" if status.Address else status.Name,
            ", ".join(status.Interfaces) or "-",
            _type_names(status),
            _status_text(status),
        )
        for status in statuses
    ]
    return render_table(("NAME", "INTERFACES", "TYPES", "STATUS"), rows)


@main.command("plugins")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Plugins directory to list (default: $INFRAKIT_PLUGINS_DIR, else "
    "$INFRAKIT_HOME/plugins, else ~/.infrakit/plugins).",
)
@click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Seconds to wait for each plugin's handshake.",
)
@tls_options
def plugins(directory: Path | None, output: str, timeout: float) -> None:
    """List the plugins in the plugins directory.

    For each socket: the interfaces and versions its handshake announces, the types it serves
    ((default) is the one a bare NAME reaches; others are NAME/type) and its status: ok, stale
    socket (a file left behind by a daemon that is gone), unavailable (it cannot be reached,
    the reason says why) or error (it answered, but not with a usable handshake). A plugin
    on TCP, advertised by a NAME.listen file, is shown with its address (HTTPS ones are
    reached with the --tls-* options).

    \b
    Examples:
      instance-rpc plugins
      instance-rpc ls --dir /run/infrakit/plugins -o json
    """
    where = directory if directory is not None else plugins_dir()
    sockets = list_plugins(where)
    listens = list_listen_files(where)
    statuses = eventloop.run(_ask_all(sockets, listens, timeout, client_tls()))
    if output == "json":
        click.echo(msgspec.json.format(msgspec.json.encode(statuses), indent=2).decode())
    elif statuses:
        click.echo(_table(statuses))
    else:
        click.echo(f"no plugins in {where}", err=True)


main.add_command(
    click.Command(
        "ls",
        callback=plugins.callback,
        params=plugins.params,
        short_help="Same as plugins.",
        help=plugins.help,
    )
)
