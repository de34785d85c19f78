"""A daemon's TCP listeners as one unit: check, bind, serve, advertise, withdraw.

:class:`RemoteAccess` is what ``PluginServer`` is given for ``--listen``: it refuses listeners
that would admit callers the Unix socket refuses unless allowed (see
:mod:`instance_rpc.listeners`), holds each listener to its :mod:`instance_rpc.caller_policy`,
binds every address once the Unix socket is up, and only then writes ``<name>.listen`` (see
:mod:`instance_rpc.listen_files`) with the first listener's URL, or the ``advertise`` address in
its place. A failed start writes nothing; :meth:`withdraw` removes the file at stop.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Callable, Sequence
from pathlib import Path

from aiohttp import web

from .caller_policy import ListenerPolicy, checked_protocol, plain_http_policy
from .connection_limits import ConnectionPool
from .errors import InstanceRPCError
from .listen_files import ListenFile, listen_file_for
from .listeners import GuardedSite, ListenAddress, bind_tcp, check_plain_tcp, check_tls_clients
from .tls import ServerTLS, TLSConfigError

__all__ = ["ListenerFailed", "RemoteAccess"]

logger = logging.getLogger(__name__)


class ListenerFailed(InstanceRPCError):
    """A TCP address that cannot be bound (in use, not this host's, not permitted)."""


class RemoteAccess:
    """TCP listeners of one daemon.

    ``listen``: the addresses to bind. ``tls``: the server context (HTTPS on every listener),
    a :class:`~instance_rpc.tls.ServerTLS` (the same, and :meth:`reload` reads its files
    again), or ``None`` for plain HTTP. ``insecure`` (``--insecure-listen``): allow listeners
    that admit callers the daemon's Unix socket would refuse: plain HTTP beyond loopback,
    plain HTTP on loopback for every local user, HTTPS without client certificates (each
    logs a warning at start and is listed in the spec document's ``Warnings``).
    ``advertise``: ``HOST:PORT`` (or ``HOST``, keeping the bound port) written to the
    ``.listen`` file instead of the bound address. ``allow_hosts`` (``--allow-host``): more
    ``Host`` names plain-HTTP listeners answer (see :mod:`instance_rpc.caller_policy`).
    Raises :class:`~instance_rpc.listeners.InsecureListener` (a listener that needs
    ``insecure``) or ValueError (a bad ``advertise``) when made.
    """

    def __init__(
        self,
        listen: Sequence[ListenAddress],
        *,
        tls: ssl.SSLContext | ServerTLS | None = None,
        insecure: bool = False,
        advertise: str | None = None,
        allow_hosts: Sequence[str] = (),
    ) -> None:
        self.addresses = list(listen)
        self._server_tls = tls if isinstance(tls, ServerTLS) else None
        self.tls = tls.context if isinstance(tls, ServerTLS) else tls
        self.insecure = insecure
        self.advertise = advertise
        self.allow_hosts = tuple(allow_hosts)
        self.warnings = [warning for address in self.addresses if (warning := self._check(address))]
        if advertise is not None:
            self._advertised(ListenAddress("h", 1))  # refuse a bad one before anything starts
        self.bound: list[ListenAddress] = []
        self.advertised_url: str | None = None
        self._listen_file: ListenFile | None = None
        self._sites: list[GuardedSite] = []

    def _check(self, address: ListenAddress) -> str | None:
        if self.tls is None:
            return check_plain_tcp(address, secure=False, insecure=self.insecure)
        return check_tls_clients(
            address,
            client_certificates=self.tls.verify_mode == ssl.CERT_REQUIRED,
            insecure=self.insecure,
        )

    def _policy(self, bound: ListenAddress) -> ListenerPolicy:
        if self.secure:
            return ListenerPolicy(url=bound.url(True), plain=False)
        return plain_http_policy(
            bound,
            insecure=self.insecure,
            advertised=self._advertised(bound),
            allow_hosts=self.allow_hosts,
        )

    def reload(self) -> bool:
        """Read the TLS certificate, key and client CA again (SIGHUP) and serve new
        connections with them; connections already open keep theirs. True when reloaded; a
        file that cannot be loaded logs a WARNING naming it and why, and the listeners keep the
        certificate they had (False). Without TLS files there is nothing to reload (False)."""
        if self._server_tls is None:
            logger.info("reload: no TLS certificate to reload")
            return False
        try:
            context = self._server_tls.reload()
        except TLSConfigError as exc:
            logger.warning("reload: keeping the current TLS certificate: %s", exc)
            return False
        self.tls = context
        for site in self._sites:
            site.tls = context
        logger.info("reload: TLS certificate reloaded from %s", self._server_tls.cert)
        return True

    @property
    def secure(self) -> bool:
        return self.tls is not None

    def urls(self) -> list[str]:
        """The URL of each bound listener, ports as bound."""
        return [address.url(self.secure) for address in self.bound]

    def _advertised(self, bound: ListenAddress) -> ListenAddress:
        if self.advertise is None:
            if bound.is_wildcard():
                return ListenAddress(socket.gethostname(), bound.port)
            return bound
        if ":" in self.advertise and not self.advertise.startswith("["):
            host, _, port = self.advertise.rpartition(":")
        elif self.advertise.startswith("["):
            host, _, port = self.advertise[1:].partition("]")
            port = port.removeprefix(":")
        else:
            host, port = self.advertise, ""
        if not host or (port and not port.isdigit()) or (port and not 0 < int(port) < 65536):
            raise ValueError(f"--advertise {self.advertise!r}: want HOST:PORT or HOST")
        return ListenAddress(host, int(port) if port else bound.port)

    async def start(
        self,
        runner: web.BaseRunner,
        pool: ConnectionPool,
        protocol: Callable[[], web.RequestHandler],
        socket_path: Path,
    ) -> None:
        """Bind and serve every address, then write ``<socket_path>.listen``.

        Raises :class:`ListenerFailed` when an address cannot be bound (nothing is then advertised).
        """
        for address in self.addresses:
            try:
                sock = bind_tcp(address)
            except OSError as exc:
                reason = exc.strerror or str(exc)
                raise ListenerFailed(
                    f"cannot listen on {address.url(self.secure)}: {reason}"
                ) from exc
            try:
                bound = address.with_port(sock.getsockname()[1])
                site = GuardedSite(
                    runner,
                    sock,
                    pool=pool,
                    protocol=checked_protocol(protocol, self._policy(bound)),
                    tls=self.tls,
                    name=bound.url(self.secure),
                )
                await site.start()
            except BaseException:
                sock.close()
                raise
            self.bound.append(bound)
            self._sites.append(site)
        for warning in self.warnings:
            logger.warning("%s", warning)
        if not self.bound:
            return
        self.advertised_url = self._advertised(self.bound[0]).url(self.secure)
        self._listen_file = ListenFile(listen_file_for(socket_path))
        self._listen_file.write(self.advertised_url)
        logger.info("advertised %s in %s", self.advertised_url, self._listen_file.path)

    def withdraw(self) -> None:
        """Remove the ``.listen`` file (if it is still ours)."""
        listen_file, self._listen_file = self._listen_file, None
        if listen_file is not None:
            listen_file.remove()
