"""``instance-rpc serve``: run a plugin daemon until a signal stops it."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from .. import collector, eventloop, systemd
from ..activation import ActivatedServer
from ..backends import UnknownBackend, backend_factory
from ..discovery import plugins_dir
from ..errors import InstanceRPCError
from ..log_format import LOG_FORMATS, configure_logging
from ..server import DEFAULT_MAX_BODY, DEFAULT_SHUTDOWN_TIMEOUT, PluginServer
from ..service import InstanceService
from ..spi import Plugin
from ._app import LOG_LEVELS, fail, main

__all__ = ["DEFAULT_PLUGIN", "serve"]

DEFAULT_PLUGIN = "file"

logger = logging.getLogger(__name__)


def _socket_path(socket: str | None, name: str | None, first_plugin: str) -> Path:
    if socket is not None:
        return Path(socket).expanduser()
    return plugins_dir() / (name or f"instance-{first_plugin}")


def _parse_dirs(values: tuple[str, ...]) -> tuple[Path | None, dict[str, Path]]:
    """``--dir DIR`` (the base) and ``--dir BACKEND=DIR`` (one backend's own)."""
    base: Path | None = None
    own: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if sep and name and "/" not in name:
            own[name] = Path(path).expanduser()
        elif base is None:
            base = Path(value).expanduser()
        else:
            fail(f"--dir given twice without a backend name: {str(base)!r} and {value!r}")
    return base, own


def _parameters(factory: Any) -> set[str]:
    try:
        return set(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        return set()


def state_options(
    takes_dir: list[str], dirs: tuple[str, ...], socket_name: str
) -> dict[str, dict[str, Any]]:
    """Where each backend in ``takes_dir`` keeps its state, as options to its factory.

    ``--dir BACKEND=DIR`` names one backend's directory. The others share a base: ``--dir DIR``,
    else the backends' own default, ``$XDG_STATE_HOME/instance-rpc/<socket name>``. With one
    such backend the base is its directory; with several, ``<base>/<backend>`` is each one's.
    """
    base, own = _parse_dirs(dirs)
    stray = sorted(set(own) - set(takes_dir))
    if stray:
        fail(f"--dir {stray[0]}=...: no served backend {stray[0]!r} keeps state in a directory")
    options: dict[str, dict[str, Any]] = {name: {"dir": path} for name, path in own.items()}
    several = len(takes_dir) > 1
    for name in takes_dir:
        if name in options:
            continue
        if base is not None:
            options[name] = {"dir": base / name if several else base}
        else:
            options[name] = {"name": f"{socket_name}/{name}" if several else socket_name}
    return options


def _backends(names: tuple[str, ...], dirs: tuple[str, ...], socket_name: str) -> dict[str, Plugin]:
    """The first backend is the default (``Type: ""``); with several, each answers by name too."""
    unique = list(dict.fromkeys(names))
    factories = {name: backend_factory(name) for name in unique}
    parameters = {name: _parameters(factories[name]) for name in unique}
    takes_dir = [name for name in unique if "dir" in parameters[name]]
    options = state_options(takes_dir, dirs, socket_name)
    loaded: dict[str, Plugin] = {}
    for name in unique:
        accepted = {k: v for k, v in options.get(name, {}).items() if k in parameters[name]}
        loaded[name] = factories[name](**accepted)
    backends: dict[str, Plugin] = {"": loaded[unique[0]]}
    if len(loaded) > 1:
        backends.update(loaded)
    return backends


@main.command()
@click.option("--socket", "socket", metavar="PATH", help="Listen on this socket path.")
@click.option(
    "--name",
    metavar="NAME",
    help="Listen on NAME in the plugins directory ($INFRAKIT_PLUGINS_DIR, "
    "else $INFRAKIT_HOME/plugins, else ~/.infrakit/plugins). Default: instance-<plugin>.",
)
@click.option(
    "--plugin",
    "plugin_names",
    multiple=True,
    metavar="BACKEND",
    help=f"Backend to serve; repeat to serve several by Type. Default: {DEFAULT_PLUGIN}.",
)
@click.option(
    "--dir",
    "dirs",
    multiple=True,
    metavar="[BACKEND=]DIR",
    help="State directory of the backends that keep state (file, process). One such backend "
    "uses DIR itself, several use DIR/<backend>; BACKEND=DIR sets one backend's own. "
    "Default: $XDG_STATE_HOME/instance-rpc/<socket name> (~/.local/state/...).",
)
@click.option(
    "--socket-mode",
    default="600",
    show_default=True,
    help="Permissions of the socket (octal).",
)
@click.option(
    "--socket-group",
    metavar="GROUP",
    help="Give the socket to this group (with --socket-mode 660, its members may connect).",
)
@click.option(
    "--grace",
    default=DEFAULT_SHUTDOWN_TIMEOUT,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds in-flight calls get to finish after SIGTERM/SIGINT; a second signal exits now.",
)
@click.option(
    "--max-body",
    default=DEFAULT_MAX_BODY,
    show_default=True,
    type=click.IntRange(min=1024),
    help="Largest request body, in bytes.",
)
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="text",
    show_default=True,
    help="Log lines on stderr as text, or as one JSON object a line.",
)
@click.option(
    "--metrics/--no-metrics",
    default=True,
    show_default=True,
    help="Count calls and serve them at GET /metrics (Prometheus text format).",
)
def serve(
    socket: str | None,
    name: str | None,
    plugin_names: tuple[str, ...],
    dirs: tuple[str, ...],
    socket_mode: str,
    socket_group: str | None,
    grace: float,
    max_body: int,
    log_level: str,
    log_format: str,
    metrics: bool,
) -> None:
    """Run a plugin daemon until SIGINT or SIGTERM, then remove its socket.

    \b
    Examples:
      instance-rpc serve                                  # file backend, instance-file
      instance-rpc serve --plugin file --dir ./instances
      instance-rpc serve --name local --plugin file --plugin process
      instance-rpc serve --name local --plugin memory --log-level debug
    """
    if socket is not None and name is not None:
        fail("give --socket or --name, not both")
    try:
        mode = int(socket_mode, 8)
    except ValueError:
        fail(f"--socket-mode must be octal, like 600: {socket_mode!r}")
    names = plugin_names or (DEFAULT_PLUGIN,)
    configure_logging(log_level, log_format)
    try:
        inherited = systemd.listen_sockets()
    except systemd.ActivationError as exc:
        fail(f"socket activation: {exc}")
    socket_path = _socket_path(socket, name or _activated_name(inherited), names[0])
    try:
        service = InstanceService(_backends(names, dirs, socket_path.name))
    except UnknownBackend as exc:
        fail(f"{exc}")
    except InstanceRPCError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot open the state directory: {exc}")
    server: PluginServer | ActivatedServer
    if inherited:
        server = ActivatedServer(
            service, inherited, max_body=max_body, shutdown_timeout=grace, metrics=metrics
        )
    else:
        server = PluginServer(
            service,
            socket_path,
            socket_mode=mode,
            socket_group=socket_group,
            max_body=max_body,
            shutdown_timeout=grace,
            metrics=metrics,
        )
    try:
        eventloop.run(_run(server))
    except InstanceRPCError as exc:
        fail(str(exc))
    except (OSError, LookupError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        fail(f"cannot listen on {_where(server)}: {reason}")


def _activated_name(inherited: list[systemd.InheritedSocket]) -> str | None:
    """Under socket activation the plugin is named after its first socket file, if any."""
    for passed in inherited:
        if passed.address.startswith("/"):  # a Unix socket with a path
            return Path(passed.address).name
    return None


def _where(server: PluginServer | ActivatedServer) -> str:
    if isinstance(server, ActivatedServer):
        return ", ".join(server.addresses)
    return str(server.socket_path)


async def _run(server: PluginServer | ActivatedServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            logger.warning("second signal: exiting now")
            server.remove_socket()
            os._exit(128 + signum)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    await server.start()
    collector.settle_daemon()
    types = ", ".join(t or "(default)" for t in server.service.type_names)
    listening = f"listening on {_where(server)} (types: {types})"
    click.echo(listening, err=False)
    sys.stdout.flush()
    systemd.notify(f"READY=1\nSTATUS={listening}")
    try:
        await stop.wait()
    finally:
        logger.info("stopping")
        systemd.notify("STOPPING=1\nSTATUS=stopping")
        await server.close()
