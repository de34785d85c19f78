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


_COUNT = click.IntRange(min=1)
_LIMITS: tuple[tuple[str, click.ParamType[Any], str, str | None], ...] = (
    (
        "--header-timeout",
        _SECONDS,
        "Seconds a connection gets to send a request's headers (after the TLS handshake, on TLS).",
        None,
    ),
    (
        "--tls-handshake-timeout",
        _SECONDS,
        "Seconds a TLS connection gets to start and finish its handshake.",
        None,
    ),
    (
        "--body-timeout",
        _SECONDS,
        "Seconds a request gets to send its whole body, whatever its rate.",
        None,
    ),
    (
        "--min-transfer-rate",
        _COUNT,
        "After --transfer-grace, a body must arrive, and an answer be read, at this rate (a "
        "second more per this many bytes); a slower peer is cut off.",
        "BYTES_PER_S",
    ),
    (
        "--transfer-grace",
        _SECONDS,
        "Seconds a body or answer gets before --min-transfer-rate applies.",
        None,
    ),
    ("--idle-timeout", _SECONDS, "Seconds a kept-alive connection may stay idle.", None),
    (
        "--max-connections",
        _COUNT,
        "Connections at once, every listener counted (Unix socket, TCP, passed sockets). TCP "
        "peers together hold at most nine tenths of them: the rest is kept for the Unix socket. "
        "Beyond a limit the least recently active connection without a call running is closed, "
        "or the new one when every one has a call.",
        None,
    ),
    (
        "--max-connections-per-peer",
        _COUNT,
        "TCP connections at once from one source address (raise it for a manager that makes "
        "more calls at once).",
        None,
    ),
    (
        "--max-tls-handshakes",
        _COUNT,
        "TLS handshakes in progress at once; beyond it the oldest is closed.",
        None,
    ),
    (
        "--max-buffered-bytes",
        click.IntRange(min=1024 * 1024),
        "Request bodies and unsent answers the daemon holds at once, all callers together; "
        "beyond it bodies wait unread (503 after --body-timeout) and answers are made as they "
        "are read. At least --max-body.",
        "BYTES",
    ),
)
"""The connection limits' options: flag (its ConnectionLimits field's name), type, help, metavar."""


def _field(flag: str) -> str:
    return flag.removeprefix("--").replace("-", "_")


def _limit_option(
    flag: str, kind: click.ParamType[Any], text: str, metavar: str | None
) -> Callable[[_F], _F]:
    return click.option(
        flag,
        type=kind,
        default=getattr(DEFAULT_LIMITS, _field(flag)),
        show_default=True,
        metavar=metavar,
        help=text,
    )


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
        *(_limit_option(*limit) for limit in _LIMITS),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def connection_limits(options: Mapping[str, Any], max_body: int) -> ConnectionLimits:
    """The limits the options ask for; ends the command with one line when ``max_body`` (the
    largest body, in bytes) exceeds the buffered-bytes budget."""
    if max_body > options["max_buffered_bytes"]:
        fail(
            f"--max-body {max_body} exceeds --max-buffered-bytes {options['max_buffered_bytes']}:"
            " such a body could never be read"
        )
    return ConnectionLimits(**{_field(flag): options[_field(flag)] for flag, *_ in _LIMITS})


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
