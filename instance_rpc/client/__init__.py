"""The client side: :class:`PluginClient` (async), one method per wire method, itself a
:class:`~instance_rpc.spi.Plugin` (the mirror of InfraKit pkg/rpc/instance/client.go);
:class:`SyncPluginClient`, the same without ``await``; the transport that carries a call's
bytes (sessions, timeouts, the retries that are safe), what was delivered, where to connect, and
answers read as Go's json2 client reads them.

Layer: beside the server, above rpc. Imports the domain, observability and net; never the
server side (nor jsonrpcserver).
"""

from . import plugin_client, sync_client
from .plugin_client import *  # noqa: F403  (what the module instance_rpc.client exported)
from .sync_client import *  # noqa: F403

__all__ = plugin_client.__all__ + sync_client.__all__
