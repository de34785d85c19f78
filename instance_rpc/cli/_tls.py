"""``--tls-ca``, ``--tls-cert``, ``--tls-key``: how every command reaches an HTTPS plugin."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..net.tls import TLSConfigError, client_context
from ._app import fail

__all__ = ["TLS_HELP", "client_tls", "tls_options"]

_F = TypeVar("_F", bound=Callable[..., Any])
_KEY = "instance_rpc.tls"

TLS_HELP = (
    "NAME may also be tcp://HOST:PORT or https://HOST:PORT, or a plugin whose discovery entry "
    "is a NAME.listen file. For HTTPS: --tls-ca (the CA that signed the daemon's certificate; "
    "default: the system's), --tls-cert and --tls-key (this client's certificate, for daemons "
    "that require one), or INSTANCE_RPC_TLS_CA, INSTANCE_RPC_TLS_CERT, INSTANCE_RPC_TLS_KEY."
)


def _remember(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    ctx.meta.setdefault(_KEY, {})[param.name or ""] = value


def tls_options(command: _F) -> _F:
    """Add the three TLS options to a command (read back with :func:`client_tls`)."""
    options = [
        ("--tls-key", "tls_key", "INSTANCE_RPC_TLS_KEY", "This client's private key (PEM)."),
        ("--tls-cert", "tls_cert", "INSTANCE_RPC_TLS_CERT", "This client's certificate (PEM)."),
        ("--tls-ca", "tls_ca", "INSTANCE_RPC_TLS_CA", "CA certificates to trust (PEM)."),
    ]
    for flag, name, envvar, text in options:
        command = click.option(
            flag,
            name,
            metavar="FILE",
            envvar=envvar,
            expose_value=False,
            callback=_remember,
            help=f"{text} Env: {envvar}.",
        )(command)
    return command


def client_tls() -> ssl.SSLContext | None:
    """The TLS context the current command's options ask for; ``None`` when none was given."""
    ctx = click.get_current_context(silent=True)
    given = {} if ctx is None else ctx.meta.get(_KEY, {})
    ca, cert, key = given.get("tls_ca"), given.get("tls_cert"), given.get("tls_key")
    if ca is None and cert is None and key is None:
        return None
    try:
        return client_context(ca=ca, cert=cert, key=key)
    except TLSConfigError as exc:
        fail(str(exc))
