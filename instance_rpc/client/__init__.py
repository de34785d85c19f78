"""The client side: :class:`PluginClient` (async), one method per wire method, itself a
:class:`~instance_rpc.spi.Plugin` (the mirror of InfraKit pkg/rpc/instance/client.go);
:class:`SyncPluginClient`, the same without ``await``; the transport that carries a call's
bytes (sessions, timeouts, the retries that are safe), what was delivered, where to connect, and
answers read as Go's json2 client reads them.

Layer: beside the server, above rpc. Imports the domain, observability and net; never the
server side (nor jsonrpcserver).
"""

from .plugin_client import (
    DEFAULT_PROVISION_TIMEOUT,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_BACKOFF,
    DEFAULT_TIMEOUT,
    PluginClient,
)
from .sync_client import SyncPluginClient

__all__ = [
    "DEFAULT_PROVISION_TIMEOUT",
    "DEFAULT_RETRIES",
    "DEFAULT_RETRY_BACKOFF",
    "DEFAULT_TIMEOUT",
    "PluginClient",
    "SyncPluginClient",
]
