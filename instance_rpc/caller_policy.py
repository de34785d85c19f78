"""Who may call over a TCP listener, checked before anything runs.

The 0600 Unix socket admits the daemon's own user and root. Each TCP listener carries a
:class:`ListenerPolicy` that holds it to the same, unless the operator said otherwise
(``--insecure-listen``):

- plain TCP on loopback admits only callers whose end of the connection the daemon's own uid or
  root owns (the kernel's socket table, see :mod:`instance_rpc.peer_uid`), once per connection;
- plain HTTP (which a web page can reach, with any ``Host`` through DNS rebinding) refuses a
  request carrying an ``Origin`` header, or a ``Host`` that is not one of the listener's own
  names (:func:`listener_hosts`);
- every TCP listener refuses a ``POST`` without a ``Content-Type`` (browsers send cross-site
  forms and ``text/plain`` bodies without asking; the app refuses other non-JSON types).

Refusals are HTTP 403 (or 415) with a JSON-RPC error body, see :class:`Refusal`. Go InfraKit
clients post ``application/json`` with the ``Host`` they dialled, which these rules admit.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import hdrs, web

from .listeners import ListenAddress
from .peer_uid import peer_uid

__all__ = [
    "CallerCheck",
    "ListenerPolicy",
    "Refusal",
    "checked_protocol",
    "listener_hosts",
    "plain_http_policy",
]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


@dataclass(frozen=True, slots=True)
class Refusal:
    """An answer instead of running the request: HTTP ``status``, the metrics' ``reason``
    (one of ``instance_rpc.metrics.REFUSAL_REASONS``) and the error's ``message``."""

    status: int
    reason: str
    message: str


def listener_hosts(
    host: str, port: int, *, advertised: tuple[str, int] | None = None, extra: Iterable[str] = ()
) -> frozenset[str]:
    """The ``Host`` header values a listener bound to ``host:port`` answers (lower case).

    Its bound address as ``host:port`` and ``host``; each loopback name with the bound port;
    the ``advertised`` address likewise; each of ``extra`` (``--allow-host``) as given and,
    when it has no port, with the bound port. IPv6 hosts are written in brackets.
    """

    def bracketed(name: str) -> str:
        return f"[{name}]" if ":" in name and not name.startswith("[") else name

    names = {bracketed(host), f"{bracketed(host)}:{port}"}
    names.update(f"{name}:{port}" for name in LOOPBACK_NAMES)
    if advertised is not None:
        names.update({bracketed(advertised[0]), f"{bracketed(advertised[0])}:{advertised[1]}"})
    for name in extra:
        name = bracketed(name) if name.count(":") > 1 else name
        names.add(name)
        if ":" not in (name.rpartition("]")[2] if name.startswith("[") else name):
            names.add(f"{name}:{port}")
    return frozenset(name.lower() for name in names)


@dataclass(frozen=True, kw_only=True)
class ListenerPolicy:
    """What one TCP listener admits.

    ``url``: the listener, as messages name it. ``plain``: it speaks plain HTTP (``Origin``
    and ``Host`` are checked). ``hosts``: the ``Host`` values accepted (see
    :func:`listener_hosts`). ``uids``: the only users admitted, by the uid owning the caller's
    end of the connection; ``None`` admits everyone (TLS, or ``--insecure-listen``).
    """

    url: str
    plain: bool
    hosts: frozenset[str] = frozenset()
    uids: frozenset[int] | None = None

    @classmethod
    def socket_users(cls) -> frozenset[int]:
        """Whom the daemon's 0600 Unix socket admits: its own (effective) uid and root."""
        return frozenset({os.geteuid(), 0})

    def peer_refusal(self, transport: asyncio.BaseTransport | None) -> Refusal | None:
        """The refusal of every request on the connection of ``transport``, if its caller is
        not one of :attr:`uids`; asks the kernel (blocking, tens of microseconds)."""
        if self.uids is None:
            return None
        uid = None
        if transport is not None:
            local = transport.get_extra_info("sockname")
            peer = transport.get_extra_info("peername")
            if local is not None and peer is not None:
                uid = peer_uid(local, peer)
        if uid in self.uids:
            return None
        users = ", ".join(f"uid {u}" for u in sorted(self.uids, reverse=True))
        who = f"uid {uid}" if uid is not None else "a caller whose user cannot be read"
        return Refusal(
            403,
            "forbidden_peer",
            f"refused: {who} may not call over plain TCP on {self.url}; like the daemon's "
            f"Unix socket it admits only {users} (the daemon's user and root). Use the Unix "
            "socket, TLS with client certificates, or start the daemon with --insecure-listen "
            "to admit every local user",
        )

    def request_refusal(self, request: web.BaseRequest) -> Refusal | None:
        """The refusal of ``request`` for its headers, if any (``Origin``, ``Host``, a ``POST``
        without ``Content-Type``)."""
        headers = request.headers
        if self.plain:
            if hdrs.ORIGIN in headers:
                return Refusal(
                    403,
                    "forbidden_host",
                    f"refused: a request carrying an Origin header (a web page's) on plain "
                    f"HTTP {self.url}; the daemon serves no browsers",
                )
            host = headers.get(hdrs.HOST)
            if host is None or host.lower() not in self.hosts:
                shown = "no Host header" if host is None else f"Host {host!r}"
                return Refusal(
                    403,
                    "forbidden_host",
                    f"refused: {shown} is not an address of {self.url}; dial the listener's "
                    "own address, or start the daemon with --allow-host NAME to accept another",
                )
        if request.method == "POST" and hdrs.CONTENT_TYPE not in headers:
            return Refusal(
                415,
                "unsupported_media_type",
                "unsupported Content-Type: none given; TCP listeners take POST requests with "
                "Content-Type: application/json",
            )
        return None


def plain_http_policy(
    bound: ListenAddress,
    *,
    insecure: bool,
    advertised: ListenAddress | None = None,
    allow_hosts: Iterable[str] = (),
) -> ListenerPolicy:
    """The rules of a plain-HTTP listener bound to ``bound`` (its port as bound): the ``Host``
    names of :func:`listener_hosts`; on loopback without ``insecure`` (``--insecure-listen``)
    only the callers its Unix socket would admit (:meth:`ListenerPolicy.socket_users`)."""
    hosts = listener_hosts(
        bound.host,
        bound.port,
        advertised=None if advertised is None else (advertised.host, advertised.port),
        extra=allow_hosts,
    )
    checked = bound.is_loopback() and not insecure
    return ListenerPolicy(
        url=bound.url(False),
        plain=True,
        hosts=hosts,
        uids=ListenerPolicy.socket_users() if checked else None,
    )


_UNCHECKED = Refusal(0, "", "")


class CallerCheck:
    """A :class:`ListenerPolicy` applied to one connection: whether its caller may call is
    found once, at its first request, and kept (:meth:`refusal`)."""

    __slots__ = ("_peer", "policy")

    def __init__(self, policy: ListenerPolicy) -> None:
        self.policy = policy
        self._peer: Refusal | None = _UNCHECKED

    def refusal(self, request: web.BaseRequest) -> Refusal | None:
        """Why ``request`` is refused before it runs, or ``None`` if it may run."""
        peer = self._peer
        if peer is _UNCHECKED:
            peer = self._peer = self.policy.peer_refusal(request.transport)
        return peer if peer is not None else self.policy.request_refusal(request)


def checked_protocol(
    protocol: Callable[[], web.RequestHandler], policy: ListenerPolicy
) -> Callable[[], web.RequestHandler]:
    """``protocol`` (a listener's protocol factory) making connections that carry ``policy``
    (their ``caller_check``, which the app applies)."""

    def make() -> web.RequestHandler:
        handler = protocol()
        cast(Any, handler).caller_check = CallerCheck(policy)
        return handler

    return make
