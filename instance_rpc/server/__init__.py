"""The server side: the daemon and its ways in. :class:`PluginServer` serves an
:class:`~instance_rpc.rpc.service.InstanceService` on a Unix socket (and, by the operator's
explicit choice, TCP with or without TLS) and removes its socket when it stops; the HTTP app
(POST, the documents, refusals), what every listener shares, the connection limits, malformed
HTTP, answers streamed chunked; systemd's passed sockets and sd_notify; the open-files limit.

Layer: beside the client, above rpc. Imports the domain, observability, net and rpc; never the
client side (nor jsonrpcclient).
"""

from . import daemon
from .daemon import *  # noqa: F403  (what the module instance_rpc.server exported)

__all__ = daemon.__all__
