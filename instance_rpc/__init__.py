"""instance-rpc: the InfraKit Instance plugin protocol (JSON-RPC 2.0 over a Unix socket).

Serve a backend with :class:`PluginServer` (or ``instance-rpc serve``); call any plugin, ours or a
Go one, with :class:`PluginClient`, which is itself a :class:`Plugin`; scripts without an event
loop use :class:`SyncPluginClient`.
"""

from . import _moved
from ._version import __version__
from .client import PluginClient, SyncPluginClient
from .errors import (
    BadResponse,
    CallOutcomeUnknown,
    CallTimeout,
    DiscoveryError,
    HandshakeError,
    InstanceNotFound,
    InstanceRPCError,
    InterfaceNotSupported,
    InternalError,
    InvalidParams,
    InvalidProperties,
    InvalidRequest,
    MethodNotFound,
    NoSuchType,
    ParseError,
    PluginError,
    PluginNotFound,
    PluginUnavailable,
    RPCError,
    TransportError,
    VersionMismatch,
)
from .rpc.service import InstanceService
from .server import AddressInUse, PluginServer
from .specfile import SpecFileError, parse_spec
from .spi import INTERFACE, Plugin
from .types import (
    ID,
    ROLLING_UPDATE,
    TERMINATION,
    Attachment,
    Context,
    Description,
    InterfaceSpec,
    LogicalID,
    Spec,
    VendorInfo,
    load_properties,
)

_moved.install()

__all__ = [
    "ID",
    "INTERFACE",
    "ROLLING_UPDATE",
    "TERMINATION",
    "AddressInUse",
    "Attachment",
    "BadResponse",
    "CallOutcomeUnknown",
    "CallTimeout",
    "Context",
    "Description",
    "DiscoveryError",
    "HandshakeError",
    "InstanceNotFound",
    "InstanceRPCError",
    "InstanceService",
    "InterfaceNotSupported",
    "InterfaceSpec",
    "InternalError",
    "InvalidParams",
    "InvalidProperties",
    "InvalidRequest",
    "LogicalID",
    "MethodNotFound",
    "NoSuchType",
    "ParseError",
    "Plugin",
    "PluginClient",
    "PluginError",
    "PluginNotFound",
    "PluginServer",
    "PluginUnavailable",
    "RPCError",
    "Spec",
    "SpecFileError",
    "SyncPluginClient",
    "TransportError",
    "VendorInfo",
    "VersionMismatch",
    "__version__",
    "load_properties",
    "parse_spec",
]
