"""TCP listeners: their addresses, the rule that plain TCP stays on loopback, and their sockets.

A listener address is ``tcp://HOST:PORT`` (or ``HOST:PORT``, as InfraKit's ``--listen`` took
it); IPv6 hosts go in brackets (``tcp://[::1]:0``). Port 0 picks a free port. A listener serves
HTTPS when the server has a TLS context, plain HTTP otherwise. A listener may admit no caller the
daemon's 0600 Unix socket would refuse unless the operator says ``insecure=True``
(``--insecure-listen``): plain HTTP stays on loopback (where :mod:`instance_rpc.caller_policy`
admits only the daemon's user and root), and HTTPS requires client certificates
(:func:`check_plain_tcp`, :func:`check_tls_clients`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from .connection_limits import ConnectionGuard, ConnectionPool
from .errors import InstanceRPCError

__all__ = [
    "DEFAULT_BACKLOG",
    "GuardedSite",
    "InsecureListener",
    "ListenAddress",
    "bind_tcp",
    "bind_unix",
    "check_plain_tcp",
    "check_tls_clients",
    "system_backlog",
]

_SOMAXCONN_FILE = "/proc/sys/net/core/somaxconn"
_LARGEST_BACKLOG = (1 << 16) - 1


def system_backlog(somaxconn_file: str = _SOMAXCONN_FILE) -> int:
    """The longest listen queue the kernel allows (``net.core.somaxconn``), read as Go's
    ``net.Listen`` reads it for every listener, InfraKit's plugins' included (Go
    ``net/sock_linux.go``, ``maxListenerBacklog``): ``socket.SOMAXCONN`` where the file cannot
    be read or holds no positive number, and at most 65,535 (Go issue 5030)."""
    try:
        with open(somaxconn_file, encoding="ascii") as file:
            found = int(file.read().split()[0])
    except (OSError, ValueError, IndexError):
        return socket.SOMAXCONN
    if found <= 0:
        return socket.SOMAXCONN
    return min(found, _LARGEST_BACKLOG)


DEFAULT_BACKLOG = system_backlog()
"""Connections the kernel queues for a listener before the daemon accepts them: the system's
limit, as for a Go plugin, so a burst of callers (1,000 concurrent Provisions from a group
controller) waits to be accepted instead of being refused (``EAGAIN`` on a Unix socket,
``ECONNREFUSED`` or dropped SYNs on TCP) once 128 are queued."""


class InsecureListener(InstanceRPCError):
    """Plain TCP on an address other than loopback, without ``--insecure-listen``."""


@dataclass(frozen=True)
class ListenAddress:
    """Where a TCP listener binds (``port`` 0: any free port)."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> ListenAddress:
        """``tcp://HOST:PORT``, ``https://HOST:PORT`` or ``HOST:PORT``; ValueError otherwise."""
        scheme, sep, _ = text.partition("://")
        if sep and scheme not in ("tcp", "https"):
            raise ValueError(f"{text!r}: a listener is tcp://HOST:PORT")
        parts = urlsplit(text if sep else f"tcp://{text}")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"{text!r}: the port must be a number from 0 to 65535") from None
        if not parts.hostname or port is None or parts.path not in ("", "/"):
            raise ValueError(f"{text!r}: a listener is tcp://HOST:PORT")
        return cls(parts.hostname, port)

    def with_port(self, port: int) -> ListenAddress:
        return ListenAddress(self.host, port)

    @property
    def hostport(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def url(self, secure: bool) -> str:
        """``https://HOST:PORT`` or ``tcp://HOST:PORT`` (what InfraKit's discovery reads)."""
        return f"{'https' if secure else 'tcp'}://{self.hostport}"

    def is_loopback(self) -> bool:
        """True when every address the host resolves to is a loopback address."""
        try:
            infos = socket.getaddrinfo(self.host, None, proto=socket.IPPROTO_TCP)
        except socket.gaierror:
            return False
        addresses = {info[4][0] for info in infos}
        return bool(addresses) and all(
            ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses
        )

    def is_wildcard(self) -> bool:
        return self.host in ("0.0.0.0", "::", "")


def check_plain_tcp(address: ListenAddress, *, secure: bool, insecure: bool) -> str | None:
    """The warning to log when ``address`` serves plain HTTP to more callers than the daemon's
    Unix socket admits; ``None`` if it admits no more.

    Plain TCP on loopback admits only the daemon's user and root (by the uid owning the
    caller's end, see :mod:`instance_rpc.caller_policy`); with ``insecure``
    (``--insecure-listen``) every local user, which earns the warning. Beyond loopback it needs
    ``insecure``: raises :class:`InsecureListener` without it.
    """
    if secure:
        return None
    if address.is_loopback():
        if not insecure:
            return None
        return (
            f"plain TCP listener on {address.url(False)} admits every local user "
            "(--insecure-listen): any of them can create and destroy instances"
        )
    if not insecure:
        raise InsecureListener(
            f"refusing plain TCP on {address.url(False)}: it is not a loopback address and "
            "anyone who reaches it could create and destroy instances; give --tls-cert and "
            "--tls-key (and --tls-client-ca), or --insecure-listen to accept the risk"
        )
    return (
        f"plain TCP listener on {address.url(False)} without TLS (--insecure-listen): "
        "anyone who reaches it can create and destroy instances"
    )


def check_tls_clients(
    address: ListenAddress, *, client_certificates: bool, insecure: bool
) -> str | None:
    """The warning to log when the HTTPS listener at ``address`` asks callers for no
    certificate (no ``--tls-client-ca``): anyone who reaches it is served. ``None`` when it
    requires them. Without ``insecure`` (``--insecure-listen``) raises
    :class:`InsecureListener` instead of warning.
    """
    if client_certificates:
        return None
    if not insecure:
        raise InsecureListener(
            f"refusing TLS without client certificates on {address.url(True)}: anyone who "
            "reaches it could create and destroy instances; give --tls-client-ca, or "
            "--insecure-listen to accept the risk"
        )
    return (
        f"TLS listener on {address.url(True)} without client certificates (--insecure-listen): "
        "anyone who reaches it can create and destroy instances"
    )


def bind_tcp(address: ListenAddress, backlog: int = DEFAULT_BACKLOG) -> socket.socket:
    """A listening socket bound to ``address``; OSError if the address cannot be bound."""
    infos = socket.getaddrinfo(
        address.host or None, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    family, _, _, _, sockaddr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(sockaddr)
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class GuardedSite(web.BaseSite):
    """An aiohttp site on a socket we bound, each connection behind a :class:`ConnectionGuard`."""

    def __init__(
        self,
        runner: web.BaseRunner,
        sock: socket.socket,
        *,
        pool: ConnectionPool,
        protocol: Callable[[], web.RequestHandler],
        tls: ssl.SSLContext | None = None,
        name: str,
        backlog: int = DEFAULT_BACKLOG,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self._sock = sock
        self._pool = pool
        self._protocol = protocol
        self._tls = tls
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def tls(self) -> ssl.SSLContext | None:
        """The TLS context of the connections it accepts from now on (swapped on reload)."""
        return self._tls

    @tls.setter
    def tls(self, context: ssl.SSLContext | None) -> None:
        self._tls = context

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()

        def guarded() -> ConnectionGuard:
            return ConnectionGuard(self._pool, self._protocol(), self._tls)

        self._server = await loop.create_server(guarded, sock=self._sock, backlog=self._backlog)


def bind_unix(path: Path, backlog: int = DEFAULT_BACKLOG) -> socket.socket:
    """A listening Unix socket at ``path`` (created with the process's umask)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock
