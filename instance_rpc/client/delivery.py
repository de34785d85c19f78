"""Whether a request that got no answer can have been processed by the plugin.

On a Unix socket the kernel says so: writing to a connection whose peer has closed fails with
EPIPE, and a peer that closes with our bytes still unread leaves us ECONNRESET instead of a clean
end of stream (Linux ``unix_release_sock``). Either, before any answer arrived, means the plugin
never read the whole request, so it cannot have acted on it: the same case as Go net/http's
"nothing written" retry. A clean close before a whole answer, or any break once an answer began,
leaves the outcome unknown.

A kept-alive connection is the usual victim (the plugin restarted while the connection sat in the
pool); aiohttp does not say on the error whether the connection was reused, so the client's
connectors (:class:`UnixConnector`, :class:`TCPConnector`) note it on the request's
:class:`Attempt` (which :func:`attempting` makes current) when ``connect()`` hands out a
connection that has carried a request before. (An ``aiohttp.TraceConfig`` could say so too, but
tracing sends every request's eight events to it: about 20 µs a call.)
"""

from __future__ import annotations

import contextlib
import errno
import weakref
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp.client_proto import ResponseHandler

from ..errors import CallOutcomeUnknown, PluginUnavailable

if TYPE_CHECKING:
    from aiohttp.connector import Connection
    from aiohttp.tracing import Trace

__all__ = ["Attempt", "TCPConnector", "UnixConnector", "attempting", "failure"]

_NOT_READ = {errno.EPIPE, errno.ECONNRESET}


class Attempt:
    """What one request went through: ``reused`` its connection came from the pool;
    ``answered`` the status line and headers of an answer arrived."""

    __slots__ = ("answered", "reused")

    def __init__(self) -> None:
        self.reused = False
        self.answered = False


_CURRENT: ContextVar[Attempt | None] = ContextVar("instance_rpc_attempt", default=None)


class _Attempting:
    # A class rather than @contextlib.contextmanager: its generator machinery costs more than
    # the rest of a small call's bookkeeping.
    __slots__ = ("_attempt", "_token")

    def __init__(self, attempt: Attempt) -> None:
        self._attempt = attempt

    def __enter__(self) -> Attempt:
        self._token = _CURRENT.set(self._attempt)
        return self._attempt

    def __exit__(self, *exc_info: object) -> None:
        _CURRENT.reset(self._token)


def attempting(attempt: Attempt) -> contextlib.AbstractContextManager[Attempt]:
    """Make ``attempt`` the one the connectors note a reused connection on, for the block."""
    return _Attempting(attempt)


class _ReuseNoting(aiohttp.BaseConnector):
    """Notes on the current :class:`Attempt` whether the connection it hands out was reused."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The connections handed out before (each gone once closed and dropped).
        self._carried: weakref.WeakSet[ResponseHandler] = weakref.WeakSet()

    async def connect(
        self, req: aiohttp.ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> Connection:
        connection = await super().connect(req, traces, timeout)
        protocol = connection.protocol
        if protocol is not None:
            if protocol in self._carried:
                attempt = _CURRENT.get()
                if attempt is not None:
                    attempt.reused = True
            else:
                self._carried.add(protocol)
        return connection


class UnixConnector(_ReuseNoting, aiohttp.UnixConnector):
    """aiohttp's Unix-socket connector, noting reused connections."""


class TCPConnector(_ReuseNoting, aiohttp.TCPConnector):
    """aiohttp's TCP connector, noting reused connections."""


def failure(socket_path: str, exc: aiohttp.ClientError, attempt: Attempt) -> PluginUnavailable:
    """The error for a request that broke with ``exc`` after it was connected.

    :class:`PluginUnavailable` with ``request_sent=False`` when the plugin cannot have read the
    whole request, else :class:`CallOutcomeUnknown`.
    """
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        reason = "the connection closed before a whole answer arrived"  # str() is a parser dump
    else:
        reason = str(exc) or type(exc).__name__
    if not attempt.answered and _unread(exc):
        return PluginUnavailable(
            socket_path, reason, request_sent=False, reused_connection=attempt.reused
        )
    return CallOutcomeUnknown(socket_path, reason, reused_connection=attempt.reused)


def _unread(exc: BaseException | None) -> bool:
    # aiohttp wraps a failed write ("Can not write request body", no errno) around its cause,
    # e.g. ConnectionResetError("Cannot write to closing transport") when an earlier write of
    # the same request already failed with EPIPE and closed the transport.
    while exc is not None:
        if isinstance(exc, ConnectionResetError):
            return True
        if isinstance(exc, OSError) and exc.errno in _NOT_READ:
            return True
        exc = exc.__cause__
    return False
