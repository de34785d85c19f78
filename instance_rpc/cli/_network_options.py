"""The ``serve`` options for TCP listeners, TLS and connection limits, and what they build."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from ..net.tls import ServerTLS, TLSConfigError
from ..server.connection_limits import DEFAULT_LIMITS, ConnectionLimits
from ..server.listeners import InsecureListener, ListenAddress
from ..server.remote_access import RemoteAccess
from ._app import fail

__all__ = ["connection_limits", "network_options", "remote_access"]

_F = TypeVar("_F", bound=Callable[..., Any])
_SECONDS = click.FloatRange(min=0, min_open=True)


def network_options(command: _F) -> _F:
    """Add ``--listen``, the TLS options and the connection limits to ``serve``."""
    options = [
        click.option(
            "--listen",
            "listen",
            multiple=True,
            metavar="tcp://HOST:PORT",
            help="Also listen on TCP (repeatable; port 0 picks a free one). HTTPS with "
            "--tls-cert/--tls-key, which needs --tls-client-ca unless --insecure-listen. Plain "
            "HTTP only on loopback unless --insecure-listen, and there only for the daemon's "
            "own user and root, as its Unix socket (a root daemon called by a non-root InfraKit "
            "manager over loopback TCP needs --insecure-listen, or run both as one user).",
        ),
        click.option("--tls-cert", metavar="FILE", help="Certificate of the TCP listeners (PEM)."),
        click.option("--tls-key", metavar="FILE", help="Private key of --tls-cert (PEM)."),
        click.option(
            "--tls-client-ca",
            metavar="FILE",
            help="Require clients to present a certificate signed by this CA (mutual TLS).",
        ),
        click.option(
            "--insecure-listen",
            is_flag=True,
            help="Allow listeners that admit callers the Unix socket refuses (each logs a "
            "WARNING and is listed under Warnings in /info/api.json): plain TCP beyond loopback "
            "(anyone who reaches the port can create and destroy instances) or on loopback for "
            "every local user (any of them can); TLS without --tls-client-ca (anyone who "
            "reaches the port can). Socket-activated TCP sockets too.",
        ),
        click.option(
            "--allow-host",
            "allow_hosts",
            multiple=True,
            metavar="NAME",
            help="Another Host name plain-HTTP listeners answer (repeatable; NAME or NAME:PORT). "
            "They answer their bound address, localhost, 127.0.0.1 and [::1] with their port, "
            "and the --advertise address; requests with any other Host, or an Origin header "
            "(a web page's), are refused.",
        ),
        click.option(
            "--advertise",
            metavar="HOST[:PORT]",
            help="Address written to NAME.listen for others to use (behind NAT); default: the "
            "first --listen address as bound.",
        ),
        click.option(
            "--header-timeout",
            type=_SECONDS,
            default=DEFAULT_LIMITS.header_timeout,
            show_default=True,
            help="Seconds a connection gets to send a request's headers (TLS handshake included).",
        ),
        click.option(
            "--body-timeout",
            type=_SECONDS,
            default=DEFAULT_LIMITS.body_timeout,
            show_default=True,
            help="Seconds a request gets to send its body.",
        ),
        click.option(
            "--idle-timeout",
            type=_SECONDS,
            default=DEFAULT_LIMITS.idle_timeout,
            show_default=True,
            help="Seconds a kept-alive connection may stay idle.",
        ),
        click.option(
            "--max-connections",
            type=click.IntRange(min=1),
            default=DEFAULT_LIMITS.max_connections,
            show_default=True,
            help="Connections at once, all listeners together; beyond it the longest-idle one "
            "is closed, or the new one when all are busy.",
        ),
        click.option(
            "--max-tls-handshakes",
            type=click.IntRange(min=1),
            default=DEFAULT_LIMITS.max_tls_handshakes,
            show_default=True,
            help="TLS handshakes in progress at once; further connections are closed.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def connection_limits(options: Mapping[str, Any]) -> ConnectionLimits:
    return ConnectionLimits(
        header_timeout=options["header_timeout"],
        body_timeout=options["body_timeout"],
        idle_timeout=options["idle_timeout"],
        max_connections=options["max_connections"],
        max_tls_handshakes=options["max_tls_handshakes"],
    )


def remote_access(options: Mapping[str, Any]) -> RemoteAccess:
    """The TCP listeners the options ask for; ends the command with one line on bad input."""
    listen: tuple[str, ...] = options["listen"]
    cert, key, client_ca = options["tls_cert"], options["tls_key"], options["tls_client_ca"]
    if (cert is None) != (key is None):
        fail("give --tls-cert and --tls-key together")
    if client_ca is not None and cert is None:
        fail("--tls-client-ca needs --tls-cert and --tls-key")
    if not listen and (cert is not None or options["advertise"] is not None):
        fail("--tls-cert and --advertise are for TCP listeners: add --listen tcp://HOST:PORT")
    try:
        addresses = [ListenAddress.parse(text) for text in listen]
    except ValueError as exc:
        fail(f"--listen {exc}")
    if cert is None and any(text.startswith("https://") for text in listen):
        fail("--listen https://... needs --tls-cert and --tls-key")
    try:
        tls = None if cert is None else ServerTLS(cert, key, client_ca=client_ca)
        return RemoteAccess(
            addresses,
            tls=tls,
            insecure=options["insecure_listen"],
            advertise=options["advertise"],
            allow_hosts=options["allow_hosts"],
        )
    except (TLSConfigError, InsecureListener, ValueError) as exc:
        fail(str(exc))
