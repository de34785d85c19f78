"""``instance-rpc serve``: run a plugin daemon until a signal stops it."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from ..errors import InstanceRPCError
from ..net.discovery import plugins_dir
from ..observability import collector
from ..observability.log_format import LOG_FORMATS, configure_logging
from ..observability.log_output import flush_logs
from ..rpc.service import InstanceService
from ..server import DEFAULT_MAX_BODY, DEFAULT_SHUTDOWN_TIMEOUT, PluginServer, systemd
from ..server.activation import ActivatedServer
from ..server.open_files import RESERVE, make_room
from ..spi import Plugin
from . import eventloop
from ._app import LOG_LEVELS, fail, main
from ._backend_options import (
    StartupFailed,
    backend_option_values,
    close_backends,
    docker_policy_options,
    ec2_options,
    failure_reason,
    load_backends,
    state_options,
)
from ._network_options import connection_limits, network_options, remote_access
from ._process_options import process_options
from ._signals import install_signal_handlers, signal_name

__all__ = ["DEFAULT_PLUGIN", "serve", "state_options"]

logger = logging.getLogger(__name__)

DEFAULT_PLUGIN = "file"


def _socket_path(socket: str | None, name: str | None, first_plugin: str) -> Path:
    if socket is not None:
        return Path(socket).expanduser()
    return plugins_dir() / (name or f"instance-{first_plugin}")


@main.command()
@click.option("--socket", "socket", metavar="PATH", help="Listen on this socket path.")
@click.option(
    "--name",
    metavar="NAME",
    help="Listen on NAME in the plugins directory ($INFRAKIT_PLUGINS_DIR, "
    "else $INFRAKIT_HOME/plugins, else ~/.infrakit/plugins). Default: instance-<backend>.",
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
@docker_policy_options
@ec2_options
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True)
@network_options
@process_options
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
    docker_allow: tuple[str, ...],
    docker_registry: tuple[str, ...],
    docker_engine_timeout: float | None,
    ec2_endpoint: str | None,
    ec2_deadline: float | None,
    ec2_rate: tuple[str, ...],
    log_level: str,
    log_format: str,
    metrics: bool,
    **network: Any,  # and the process options
) -> None:
    """Run a plugin daemon until SIGINT or SIGTERM, then remove its socket. SIGHUP reloads
    the TLS certificate, key and client CA (a pair that does not load keeps the old one).

    \b
    Examples:
      instance-rpc serve                                  # file backend, instance-file
      instance-rpc serve --plugin file --dir ./instances
      instance-rpc serve --name local --plugin file --plugin process
      instance-rpc serve --name local --plugin memory --log-level debug
      instance-rpc serve --plugin docker --docker-host unix:///run/docker.sock
      instance-rpc serve --plugin ec2 --ec2-endpoint http://127.0.0.1:5000
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
    limits = connection_limits(network, max_body)
    _make_room_for(network["max_connections"])
    try:
        inherited = systemd.listen_sockets()
    except systemd.ActivationError as exc:
        fail(f"socket activation: {exc}")
    socket_path = _socket_path(socket, name or _activated_name(inherited), names[0])
    backends: dict[str, Plugin] = {}
    server: PluginServer | ActivatedServer | None = None
    try:
        offered, typed = backend_option_values(click.get_current_context())
        backends = load_backends(names, dirs, socket_path.name, offered, typed)
        service = InstanceService(backends)
        if inherited:
            server = ActivatedServer(
                service,
                inherited,
                max_body=max_body,
                shutdown_timeout=grace,
                limits=limits,
                metrics=metrics,
                insecure=network["insecure_listen"],
                allow_hosts=network["allow_hosts"],
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
                limits=limits,
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
        close_backends(backends.values())


def _make_room_for(max_connections: int) -> None:
    """Enough open files for ``max_connections`` (see :mod:`instance_rpc.open_files`)."""
    limit = make_room(max_connections)
    if not limit.enough:
        logger.warning(
            "open files limit is %d, below the %d that --max-connections %d needs (%d kept "
            "for the daemon's own files): connections may fail with 'too many open files' "
            "before the connection limit applies; raise the hard limit (LimitNOFILE= in a "
            "systemd unit, ulimit -Hn) or lower --max-connections",
            limit.now,
            limit.wanted,
            max_connections,
            RESERVE,
        )
    elif limit.now != limit.before:
        logger.debug("open files limit raised from %d to %d", limit.before, limit.now)


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
        raise StartupFailed(f"cannot write to standard output: {failure_reason(exc)}") from None
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
            flush_logs()
            os._exit(128 + signum)
        logger.info("received %s: stopping", signal_name(signum))
        stop.set()

    def on_reload() -> None:
        logger.info("received SIGHUP: reload")
        server.reload()

    install_signal_handlers(loop, on_signal)
    loop.add_signal_handler(signal.SIGHUP, on_reload)
    try:
        await server.start()
        await _astart_backends(server.service.backends.values())
        collector.settle_daemon()
        listening = _announce(server)  # on stdout, once; the log repeats it only at DEBUG
        logger.debug("%s", listening)
        systemd.notify(f"READY=1\nSTATUS={listening}")
        await stop.wait()
        logger.info("stopping")
        systemd.notify("STOPPING=1\nSTATUS=stopping")
    finally:
        await server.close()
        await _aclose_backends(server.service.backends.values())


async def _astart_backends(backends: Iterable[Plugin]) -> None:
    """Let backends with an ``astart()`` coroutine begin their work on the daemon's loop (the
    process backend resumes interrupted Destroys); errors are logged, not raised."""
    for backend in {id(b): b for b in backends}.values():
        astart = getattr(backend, "astart", None)
        if callable(astart):
            try:
                await astart()
            except Exception:
                logger.exception("starting backend %r failed", backend)


async def _aclose_backends(backends: Iterable[Plugin]) -> None:
    """Let backends with an ``aclose()`` coroutine (an engine session, say) release it on the
    loop it was opened on; errors are logged, not raised. Their ``close()`` follows later."""
    for backend in {id(b): b for b in backends}.values():
        aclose = getattr(backend, "aclose", None)
        if callable(aclose):
            try:
                await aclose()
            except Exception:
                logger.exception("closing backend %r failed", backend)
