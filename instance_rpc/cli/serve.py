"""``instance-rpc serve``: run a plugin daemon until a signal stops it."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import sys
from collections.abc import Iterable
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
from ._network_options import connection_limits, network_options, remote_access

__all__ = ["DEFAULT_PLUGIN", "serve"]

logger = logging.getLogger(__name__)

DEFAULT_PLUGIN = "file"


class StartupFailed(Exception):
    """Start-up cannot go on; the message is the one line ``serve`` ends with."""


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


def _backends(
    names: tuple[str, ...],
    dirs: tuple[str, ...],
    socket_name: str,
    offered: dict[str, Any] | None = None,
) -> dict[str, Plugin]:
    """The first backend is the default (``Type: ""``); with several, each answers by name too.

    Each factory gets the keyword options it accepts: its state directory (``dir`` or ``name``),
    its ``name`` (the socket's, or ``<socket>/<backend>`` with several), and each of ``offered``
    (options of ``serve`` such as ``docker_host``; one that no backend accepts is refused).

    Raises :class:`StartupFailed`; the backends made before the failing one are closed first.
    """
    unique = list(dict.fromkeys(names))
    factories = {name: _factory(name) for name in unique}
    parameters = {name: _parameters(factories[name]) for name in unique}
    takes_dir = [name for name in unique if "dir" in parameters[name]]
    options = state_options(takes_dir, dirs, socket_name)
    extra = offered or {}
    for option in extra:
        if not any(option in parameters[name] for name in unique):
            fail(f"--{option.replace('_', '-')}: no served backend takes it")
    loaded: dict[str, Plugin] = {}
    for name in unique:
        own = f"{socket_name}/{name}" if len(unique) > 1 else socket_name
        given = {"name": own, **extra, **options.get(name, {})}
        accepted = {k: v for k, v in given.items() if k in parameters[name]}
        try:
            loaded[name] = factories[name](**accepted)
        except Exception as exc:
            _close_backends(loaded.values())
            raise StartupFailed(_backend_failure(name, exc)) from None
    backends: dict[str, Plugin] = {"": loaded[unique[0]]}
    if len(loaded) > 1:
        backends.update(loaded)
    return backends


def _factory(name: str) -> Any:
    try:
        return backend_factory(name)
    except (UnknownBackend, InstanceRPCError) as exc:
        raise StartupFailed(str(exc)) from None
    except Exception as exc:  # a backend module that fails as it is imported
        raise StartupFailed(f"cannot load backend {name!r}: {_reason(exc)}") from None


def _backend_failure(name: str, exc: Exception) -> str:
    if isinstance(exc, InstanceRPCError):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"backend {name!r}: cannot open the state directory: {exc.filename}: {_reason(exc)}"
    return f"backend {name!r} failed to start: {_reason(exc)}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _close_backends(backends: Iterable[Plugin]) -> None:
    """Release what the backends hold (state directory locks); errors are logged, not raised."""
    for backend in {id(b): b for b in backends}.values():
        close = getattr(backend, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                logger.exception("closing backend %r failed", backend)


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
@click.option(
    "--docker-host",
    metavar="URL",
    help="Docker engine of the docker backend. Default: $DOCKER_HOST, "
    "else unix:///var/run/docker.sock.",
)
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True)
@network_options
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
    docker_host: str | None,
    log_level: str,
    log_format: str,
    metrics: bool,
    **network: Any,
) -> None:
    """Run a plugin daemon until SIGINT or SIGTERM, then remove its socket.

    \b
    Examples:
      instance-rpc serve                                  # file backend, instance-file
      instance-rpc serve --plugin file --dir ./instances
      instance-rpc serve --name local --plugin file --plugin process
      instance-rpc serve --name local --plugin memory --log-level debug
      instance-rpc serve --plugin docker --docker-host unix:///run/docker.sock
      instance-rpc serve --listen tcp://0.0.0.0:8443 --tls-cert d.pem --tls-key d.key \\
        --tls-client-ca ca.pem
    """
    if socket is not None and name is not None:
        fail("give --socket or --name, not both")
    try:
        mode = int(socket_mode, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777:
        fail(f"--socket-mode must be octal permissions from 0 to 777, like 600: {socket_mode!r}")
    names = plugin_names or (DEFAULT_PLUGIN,)
    configure_logging(log_level, log_format)
    remote = remote_access(network)
    try:
        inherited = systemd.listen_sockets()
    except systemd.ActivationError as exc:
        fail(f"socket activation: {exc}")
    socket_path = _socket_path(socket, name or _activated_name(inherited), names[0])
    backends: dict[str, Plugin] = {}
    server: PluginServer | ActivatedServer | None = None
    try:
        offered = {} if docker_host is None else {"docker_host": docker_host}
        backends = _backends(names, dirs, socket_path.name, offered)
        service = InstanceService(backends)
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
                remote=remote,
                limits=connection_limits(network),
                metrics=metrics,
            )
        eventloop.run(_run(server))
    except StartupFailed as exc:
        fail(str(exc))
    except InstanceRPCError as exc:
        fail(str(exc))
    except (OSError, LookupError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        where = str(socket_path) if server is None else _where(server)
        fail(f"cannot listen on {where}: {reason}")
    finally:
        _close_backends(backends.values())


def _announce(server: PluginServer | ActivatedServer) -> str:
    """Tell whoever started the daemon it is ready ("listening on ..."); the line said."""
    types = ", ".join(t or "(default)" for t in server.service.type_names)
    listening = f"listening on {_where(server)} (types: {types})"
    if sys.stdout is None:  # started with standard output closed: nobody to tell
        return listening
    try:
        click.echo(listening)
        if isinstance(server, PluginServer):
            for url in server.remote.urls():
                click.echo(f"listening on {url}")
        sys.stdout.flush()
    except OSError as exc:
        raise StartupFailed(f"cannot write to standard output: {_reason(exc)}") from None
    return listening


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
    try:
        await server.start()
        collector.settle_daemon()
        listening = _announce(server)
        logger.info("%s", listening)
        systemd.notify(f"READY=1\nSTATUS={listening}")
        await stop.wait()
        logger.info("stopping")
        systemd.notify("STOPPING=1\nSTATUS=stopping")
    finally:
        await server.close()
