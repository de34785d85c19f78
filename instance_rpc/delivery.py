"""Whether a request that got no answer can have been processed by the plugin.

On a Unix socket the kernel says so: writing to a connection whose peer has closed fails with
EPIPE, and a peer that closes with our bytes still unread leaves us ECONNRESET instead of a clean
end of stream (Linux ``unix_release_sock``). Either, before any answer arrived, means the plugin
never read the whole request, so it cannot have acted on it: the same case as Go net/http's
"nothing written" retry. A clean close before a whole answer, or any break once an answer began,
leaves the outcome unknown.

A kept-alive connection is the usual victim (the plugin restarted while the connection sat in the
pool); aiohttp does not say on the error whether the connection was reused, so a
:class:`aiohttp.TraceConfig` records it per request.
"""

from __future__ import annotations

import errno
from types import SimpleNamespace

import aiohttp

from .errors import CallOutcomeUnknown, PluginUnavailable

__all__ = ["Attempt", "failure", "trace_config"]

_NOT_READ = {errno.EPIPE, errno.ECONNRESET}


class Attempt:
    """What one request went through: ``reused`` its connection came from the pool;
    ``answered`` the status line and headers of an answer arrived."""

    __slots__ = ("answered", "reused")

    def __init__(self) -> None:
        self.reused = False
        self.answered = False


async def _on_reuse(
    session: aiohttp.ClientSession,
    context: SimpleNamespace,
    params: aiohttp.TraceConnectionReuseconnParams,
) -> None:
    attempt = context.trace_request_ctx
    if isinstance(attempt, Attempt):
        attempt.reused = True


def trace_config() -> aiohttp.TraceConfig:
    """A trace that marks the request's :class:`Attempt` (``trace_request_ctx``) when it reuses
    a pooled connection."""
    config = aiohttp.TraceConfig()
    config.on_connection_reuseconn.append(_on_reuse)
    return config


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
