"""The errors of instance-rpc, in one tree::

    InstanceRPCError                     everything this package raises
    ├── RPCError                         an error with a JSON-RPC code: .code, .message, .data
    │   ├── PluginError          -32000  raised by a backend; reaches callers with its message
    │   │   ├── InstanceNotFound         an operation named an ID the plugin does not know
    │   │   ├── InvalidProperties        Properties the plugin cannot use
    │   │   └── NoSuchType               the ``Type`` param names no backend in the daemon
    │   ├── ParseError           -32700  the request body is not JSON
    │   ├── InvalidRequest       -32600  JSON, but not a JSON-RPC 2.0 request
    │   ├── MethodNotFound       -32601  the daemon has no such method
    │   ├── InvalidParams        -32602  params of the wrong shape; the message names the field
    │   └── InternalError        -32603  a fault inside the daemon
    ├── TransportError                   the call did not get an answer
    │   ├── PluginUnavailable            nothing answers at the socket (missing, refused, closed)
    │   │   └── CallOutcomeUnknown       the connection broke after the plugin may have read the
    │   │                                request: it may have been processed (never repeated
    │   │                                unless the method is idempotent)
    │   ├── CallTimeout                  no answer within the call's timeout
    │   └── BadResponse                  an answer that is not a JSON-RPC response
    ├── HandshakeError                   the plugin does not speak the interface we need
    │   ├── InterfaceNotSupported        it does not implement the interface at all
    │   └── VersionMismatch              it implements another version of it
    └── DiscoveryError                   a plugin name that does not resolve to a socket
        └── PluginNotFound

A client raises the same classes a local backend does. The daemon sends an error's kind in the
JSON-RPC error's ``data``: ``{"kind": "<class name>", ...its arguments}`` (for example
``{"kind": "InstanceNotFound", "instance_id": "i-1"}``; the arguments are the names in the class's
``FIELDS``), with ``message`` exactly the exception's message (InfraKit's Go clients read only
``message``). :class:`~instance_rpc.client.PluginClient` rebuilds the class named by ``kind`` with
those arguments and the same message, so ``except InstanceNotFound`` fires on a remote call as on a
local one. A ``PluginError`` subclass a backend defines travels the same way when it declares
``FIELDS`` (its constructor's parameters, kept as attributes of the same names) or takes the message
alone; a client that has not imported the class raises ``PluginError`` with the same message and
``data``. Protocol errors carry their class's name too (``{"kind": "MethodNotFound"}``).
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "BadResponse",
    "CallOutcomeUnknown",
    "CallTimeout",
    "DiscoveryError",
    "HandshakeError",
    "InstanceNotFound",
    "InstanceRPCError",
    "InterfaceNotSupported",
    "InternalError",
    "InvalidParams",
    "InvalidProperties",
    "InvalidRequest",
    "MethodNotFound",
    "NoSuchType",
    "ParseError",
    "PluginError",
    "PluginNotFound",
    "PluginUnavailable",
    "RPCError",
    "TransportError",
    "VersionMismatch",
    "error_for_code",
]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000


class InstanceRPCError(Exception):
    """Base of every error raised by instance-rpc."""


_WIRE_SCALARS = (str, int, float, bool, type(None))


def _wire_value(value: Any) -> Any:
    """``value`` as JSON can carry it: lists, string-keyed dicts and scalars as they are,
    anything else as its text."""
    if isinstance(value, _WIRE_SCALARS):
        return value
    if isinstance(value, list | tuple):
        return [_wire_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _wire_value(item) for key, item in value.items()}
    return str(value)


class RPCError(InstanceRPCError):
    """An error that travels as a JSON-RPC error object.

    ``data``: what the raiser gave beside the message (any JSON value), or, for an error a client
    read off the wire, the error's whole ``data`` member (``{"kind": ..., ...}``).
    ``FIELDS``: the constructor's keyword parameters, kept as attributes of the same names, that
    :meth:`wire_data` sends and a client passes back to the constructor (``None``: the
    constructor takes the message alone; ``()``: it takes nothing).
    """

    CODE: ClassVar[int] = INTERNAL_ERROR
    FIELDS: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, message: str, *, data: Any = None, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data
        self.code: int = self.CODE if code is None else code

    @property
    def kind(self) -> str:
        """The class's name; for a bare ``RPCError``, that of the class of its code."""
        if type(self) is RPCError:
            return _BY_CODE.get(self.code, RPCError).__name__
        return type(self).__name__

    def wire_data(self) -> dict[str, Any]:
        """The JSON-RPC error's ``data``: ``{"kind": ..., **FIELDS}``, then the members of a dict
        ``data`` (a ``kind`` or field there gives way), or a non-dict ``data`` as ``"data"``."""
        data: dict[str, Any] = {}
        if isinstance(self.data, dict):
            data.update(_wire_value(self.data))
        elif self.data is not None:
            data["data"] = _wire_value(self.data)
        data["kind"] = self.kind
        for name in self.FIELDS or ():
            data[name] = _wire_value(getattr(self, name, None))
        return data

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, message={self.message!r})"


class PluginError(RPCError):
    """A backend failed; the message is what callers (Go ones too) see."""

    CODE = SERVER_ERROR


class InstanceNotFound(PluginError):
    """An operation named ``instance_id``, which the plugin does not know."""

    FIELDS = ("instance_id",)

    def __init__(self, instance_id: str) -> None:
        super().__init__(f"instance not found: {instance_id}")
        self.instance_id = instance_id


class InvalidProperties(PluginError):
    """Properties the plugin cannot use; ``reason`` names the field (the message is
    ``invalid Properties: <reason>``)."""

    FIELDS = ("reason",)

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid Properties: {reason}")
        self.reason = reason


class NoSuchType(PluginError):
    """The ``Type`` param names no backend of the daemon. The message is the Go server's,
    ``no-plugin:<type>``; ``served`` lists the types the daemon serves (``""`` is the default
    type), or is ``None`` when unknown (a Go daemon does not say)."""

    FIELDS = ("type_name", "served")

    def __init__(self, type_name: str, served: list[str] | None = None) -> None:
        super().__init__(f"no-plugin:{type_name}")
        self.type_name = type_name
        self.served = served


class ParseError(RPCError):
    CODE = PARSE_ERROR


class InvalidRequest(RPCError):
    CODE = INVALID_REQUEST


class MethodNotFound(RPCError):
    CODE = METHOD_NOT_FOUND


class InvalidParams(RPCError):
    CODE = INVALID_PARAMS


class InternalError(RPCError):
    CODE = INTERNAL_ERROR


class TransportError(InstanceRPCError):
    """The call got no usable answer."""


class PluginUnavailable(TransportError):
    """Nothing answered. ``request_sent`` is False when the plugin certainly did not process the
    request: no connection could be made, or the connection broke before the plugin had read all
    of it (on a Unix socket the kernel reports that as EPIPE on our write or ECONNRESET before any
    answer); repeating it is then safe whatever the method. ``reused_connection`` is True when the
    call went out on a kept-alive connection (one a restarted plugin may have left dead)."""

    def __init__(
        self,
        socket_path: str,
        reason: str,
        *,
        request_sent: bool = True,
        reused_connection: bool = False,
    ) -> None:
        super().__init__(f"plugin at {socket_path} is unavailable: {reason}")
        self.socket_path = socket_path
        self.request_sent = request_sent
        self.reused_connection = reused_connection


class CallOutcomeUnknown(PluginUnavailable):
    """The connection broke after the plugin may have read the whole request and before a whole
    answer arrived: the call may or may not have taken effect (``request_sent`` is True). Check
    the plugin's state (e.g. DescribeInstances) before repeating a call that is not idempotent."""

    def __init__(self, socket_path: str, reason: str, *, reused_connection: bool = False) -> None:
        super().__init__(
            socket_path,
            f"{reason}; the plugin may have processed the request",
            reused_connection=reused_connection,
        )


class CallTimeout(TransportError):
    def __init__(self, method: str, seconds: float, socket_path: str) -> None:
        super().__init__(f"{method} on {socket_path} got no answer within {seconds:g}s")
        self.method = method
        self.seconds = seconds


class BadResponse(TransportError):
    """The plugin answered something that is not a JSON-RPC response."""


class HandshakeError(InstanceRPCError):
    """The plugin does not offer the interface this client needs."""


class InterfaceNotSupported(HandshakeError):
    def __init__(self, wanted: str, offered: list[str]) -> None:
        listed = ", ".join(offered) or "nothing"
        super().__init__(f"plugin does not implement {wanted}; it implements {listed}")
        self.wanted = wanted
        self.offered = offered


class VersionMismatch(HandshakeError):
    def __init__(self, wanted: str, offered: list[str]) -> None:
        super().__init__(
            f"version mismatch: client speaks {wanted}, plugin offers {', '.join(offered)}"
        )
        self.wanted = wanted
        self.offered = offered


class DiscoveryError(InstanceRPCError):
    """A plugin name could not be resolved."""


class PluginNotFound(DiscoveryError):
    def __init__(self, name: str, where: str) -> None:
        super().__init__(f"no plugin named {name!r} in {where}")
        self.name = name


_BY_CODE: dict[int, type[RPCError]] = {
    cls.CODE: cls
    for cls in (
        PluginError,
        ParseError,
        InvalidRequest,
        MethodNotFound,
        InvalidParams,
        InternalError,
    )
}


def _plugin_error_class(kind: str) -> type[PluginError] | None:
    """The ``PluginError`` subclass named ``kind`` among those imported (``None``: none)."""
    pending: list[type[PluginError]] = [PluginError]
    while pending:
        cls = pending.pop()
        if cls.__name__ == kind:
            return cls
        pending.extend(cls.__subclasses__())
    return None


def _rebuilt(cls: type[PluginError], message: str, data: dict[str, Any]) -> PluginError | None:
    """``cls`` built again from the arguments in ``data``; ``None`` when that fails or gives
    another message than ``message`` (a class whose ``FIELDS`` do not describe it)."""
    try:
        if cls.FIELDS is None:
            error = cls(message)
        else:
            arguments: dict[str, Any] = {name: data.get(name) for name in cls.FIELDS}
            error = cls(**arguments)
    except Exception:
        return None
    return error if error.message == message else None


def error_for_code(code: int, message: str, data: Any = None) -> RPCError:
    """The exception for a JSON-RPC error object read off the wire: for -32000, the
    ``PluginError`` subclass ``data["kind"]`` names, rebuilt from its arguments (``PluginError``
    when that class is not imported or cannot be rebuilt to the same message); otherwise the class
    of the code. ``message`` and ``data`` are kept as they came."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return RPCError(message, data=data, code=code)
    if cls is PluginError and isinstance(data, dict) and isinstance(data.get("kind"), str):
        found = _plugin_error_class(data["kind"])
        error = None if found is None else _rebuilt(found, message, data)
        if error is not None:
            error.data = data
            return error
    return cls(message, data=data)
