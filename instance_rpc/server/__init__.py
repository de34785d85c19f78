"""The server side: the daemon and its ways in. :class:`PluginServer` serves an
:class:`~instance_rpc.rpc.service.InstanceService` on a Unix socket (and, by the operator's
explicit choice, TCP with or without TLS) and removes its socket when it stops; the HTTP app
(POST, the documents, refusals), what every listener shares, the connection limits, malformed
HTTP, answers streamed chunked; systemd's passed sockets and sd_notify; the open-files limit.

Layer: beside the client, above rpc. Imports the domain, observability, net and rpc; never the
client side (nor jsonrpcclient).
"""

from .daemon import (
    DEFAULT_MAX_BODY,
    DEFAULT_SHUTDOWN_TIMEOUT,
    DEFAULT_SOCKET_MODE,
    AddressInUse,
    PluginServer,
    create_app,
    documents,
    probe_socket,
)

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "DEFAULT_SOCKET_MODE",
    "AddressInUse",
    "PluginServer",
    "create_app",
    "documents",
    "probe_socket",
]
