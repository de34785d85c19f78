"""The Instance service: each wire method's params -> the backend named by ``Type`` -> its result.

One short method per wire method, in the order of :class:`~instance_rpc.client.PluginClient`'s
(InfraKit pkg/rpc/instance service.go and client.go mirror each other the same way). Each decodes
its params into the typed wire struct and calls the backend; the JSON-RPC 2.0 envelope, batches,
error objects and the per-call log line are :mod:`instance_rpc.rpc.protocol`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

import msgspec
from msgspec import Raw

from .. import handshake
from .._version import __version__
from ..errors import InvalidParams, NoSuchType
from ..field_paths import name_map_keys
from ..observability import collector
from ..observability.observe import CallObserver
from ..properties_schema import PropertiesDeclaration, declaration_of
from ..spi import EncodedDescriber, Plugin, VendorProvider
from ..types import VendorInfo
from ..wire import (
    DescribeParams,
    DescribeResult,
    DestroyParams,
    EmptyParams,
    EncodedDescribeResult,
    LabelParams,
    OKResult,
    PluginInfo,
    ProvisionParams,
    ProvisionResult,
    ValidateParams,
    WireDescription,
    context_of,
    raw_or_none,
)
from .api_info import plugin_info
from .protocol import DEFAULT_MAX_BATCH, Call, JsonRpcProtocol, Result
from .streaming import PLACEHOLDER, StreamedAnswer, StreamedResult

__all__ = ["DEFAULT_MAX_BATCH", "DEFAULT_VENDOR", "InstanceService"]

logger = logging.getLogger("instance_rpc.service")

DEFAULT_VENDOR = VendorInfo(
    name="instance-rpc", version=__version__, url="https://pypi.org/project/instance-rpc/"
)

_P = TypeVar("_P", bound=msgspec.Struct)
_ENCODER = msgspec.json.Encoder()


class InstanceService:
    """Serves one or more Instance backends, chosen per call by the ``Type`` param.

    ``backends`` maps type names to plugins; ``""`` is the default that Go clients address when
    they name no type. ``max_batch``: most requests one JSON-RPC batch may carry.
    """

    def __init__(
        self,
        backends: Mapping[str, Plugin],
        *,
        vendor: VendorInfo | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if not backends:
            raise ValueError("an InstanceService needs at least one backend")
        self._backends: dict[str, Plugin] = dict(backends)
        self._declarations: dict[str, PropertiesDeclaration] = {
            name: declaration
            for name, backend in self._backends.items()
            if (declaration := declaration_of(backend)) is not None
        }
        default = self._backends.get("") or next(iter(self._backends.values()))
        self._vendor = vendor or (
            default.vendor_info() if isinstance(default, VendorProvider) else DEFAULT_VENDOR
        )
        self._protocol = JsonRpcProtocol(
            {
                "Instance.Validate": self._validate,
                "Instance.Provision": self._provision,
                "Instance.Label": self._label,
                "Instance.Destroy": self._destroy,
                "Instance.DescribeInstances": self._describe,
                "Handshake.Implements": self._implements,
                "Handshake.Types": self._types,
                "Handshake.Hello": self._hello,
            },
            max_batch=max_batch,
            log=logger,
            answered_in_turn=("Instance.DescribeInstances",),  # its answers can be megabytes
        )
        self._info = plugin_info(self._vendor, self.type_names, self._declarations)

    @property
    def max_batch(self) -> int:
        """Most requests one JSON-RPC batch may carry."""
        return self._protocol.max_batch

    @max_batch.setter
    def max_batch(self, value: int) -> None:
        self._protocol.max_batch = value

    @property
    def type_names(self) -> list[str]:
        """The types served, ``""`` (the default) first when there is one."""
        return sorted(self._backends, key=lambda name: (name != "", name))

    @property
    def backends(self) -> Mapping[str, Plugin]:
        """The backends by type name (``""``: the default)."""
        return self._backends

    @property
    def method_names(self) -> list[str]:
        return self._protocol.method_names

    def info(self) -> PluginInfo:
        """The document served at ``GET /info/api.json``."""
        return self._info

    def info_bytes(self) -> bytes:
        return _ENCODER.encode(self._info)

    @staticmethod
    def error_body(code: int, message: str) -> bytes:
        """A JSON-RPC error response (id ``null``) for failures found before parsing."""
        return JsonRpcProtocol.error_body(code, message)

    # handle and respond hand out the protocol's coroutine rather than awaiting it in one of
    # their own: one coroutine fewer on every call's path.

    def handle(self, body: bytes, observer: CallObserver | None = None) -> Awaitable[bytes | None]:
        """Answer one HTTP body, a request or a batch (await it); ``None`` means no response is
        due.

        ``observer`` is told of every call and refusal (the app's metrics).
        """
        return self._protocol.handle(body, observer)

    def respond(
        self, body: bytes, observer: CallObserver | None = None
    ) -> Awaitable[bytes | StreamedAnswer | None]:
        """As :meth:`handle`, but a large DescribeInstances answer of a single request comes
        back in pieces (:class:`~instance_rpc.rpc.streaming.StreamedAnswer`) for the transport to
        send as they are produced."""
        return self._protocol.respond(body, observer)

    # --- methods -------------------------------------------------------------------------------

    @staticmethod
    def _decode(struct: type[_P], params: Raw | None, call: Call) -> _P:
        try:
            decoded = _decoder(struct).decode(params if params is not None else b"{}")
        except msgspec.ValidationError as exc:
            message = name_map_keys(str(exc), params)
            raise InvalidParams(f"invalid params: {message}") from None
        call.type_name = getattr(decoded, "Type", "")
        return decoded

    def _backend(self, type_name: str) -> Plugin:
        backend = self._backends.get(type_name)
        if backend is None:
            raise NoSuchType(type_name, sorted(self._backends))
        return backend

    def _checked_backend(self, type_name: str, properties: Raw) -> Plugin:
        """The backend, once ``properties`` fit its declaration (if it declares any)."""
        backend = self._backend(type_name)
        declaration = self._declarations.get(type_name)
        if declaration is not None:
            declaration.check(raw_or_none(properties))
        return backend

    async def _validate(self, params: Raw | None, call: Call) -> Result:
        p = self._decode(ValidateParams, params, call)
        backend = self._checked_backend(p.Type, p.Properties)
        await backend.validate(raw_or_none(p.Properties))
        return OKResult(Type=p.Type, OK=True)

    async def _provision(self, params: Raw | None, call: Call) -> Result:
        p = self._decode(ProvisionParams, params, call)
        if p.Spec.LogicalID is not None:
            call.details = {"logical_id": p.Spec.LogicalID}
        backend = self._checked_backend(p.Type, p.Spec.Properties)
        instance_id = await backend.provision(p.Spec.to_spec())
        if instance_id is not None and not isinstance(instance_id, str):
            raise TypeError(f"the backend returned a non-string ID: {instance_id!r}")
        return ProvisionResult(Type=p.Type, ID=instance_id)

    async def _label(self, params: Raw | None, call: Call) -> Result:
        p = self._decode(LabelParams, params, call)
        await self._backend(p.Type).label(p.Instance, p.Labels or {})
        return OKResult(Type=p.Type, OK=True)

    async def _destroy(self, params: Raw | None, call: Call) -> Result:
        p = self._decode(DestroyParams, params, call)
        call.details = {"instance": p.Instance, "reason": p.Context.Reason}
        await self._backend(p.Type).destroy(p.Instance, context_of(p))
        return OKResult(Type=p.Type, OK=True)

    async def _describe(self, params: Raw | None, call: Call) -> Result:
        p = self._decode(DescribeParams, params, call)
        backend = self._backend(p.Type)
        if isinstance(backend, EncodedDescriber) and _encodes_what_it_describes(backend):
            encoded = await backend.describe_encoded(p.Tags, properties=p.Properties)
            if isinstance(encoded, bytes):
                return EncodedDescribeResult(Type=p.Type, Descriptions=Raw(encoded))
            template = EncodedDescribeResult(Type=p.Type, Descriptions=PLACEHOLDER)
            return StreamedResult(template, encoded)
        # The backend's descriptions must be gone before the collector resumes: resuming with
        # 100,000 of them alive costs one long collection over all of them.
        with collector.paused():
            found = await backend.describe_instances(p.Tags, properties=p.Properties)
            descriptions = WireDescription.from_descriptions(found, p.Properties)
            del found
        return DescribeResult(Type=p.Type, Descriptions=descriptions)

    async def _implements(self, params: Raw | None, call: Call) -> Result:
        return handshake.implements_result()

    async def _types(self, params: Raw | None, call: Call) -> Result:
        return handshake.types_result(self.type_names)

    async def _hello(self, params: Raw | None, call: Call) -> Result:
        return handshake.hello_result(self.type_names)


_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {
    struct: msgspec.json.Decoder(struct)
    for struct in (
        ValidateParams,
        ProvisionParams,
        LabelParams,
        DestroyParams,
        DescribeParams,
        EmptyParams,
    )
}


def _decoder(struct: type[_P]) -> msgspec.json.Decoder[_P]:
    return _DECODERS[struct]


def _defined_by(cls: type, name: str) -> type | None:
    return next((klass for klass in cls.__mro__ if name in vars(klass)), None)


def _encodes_what_it_describes(backend: EncodedDescriber) -> bool:
    """Whether ``describe_encoded`` comes from the class that gives ``describe_instances``: a
    subclass that overrides ``describe_instances`` alone must be described by its override."""
    cls = type(backend)
    return _defined_by(cls, "describe_encoded") is _defined_by(cls, "describe_instances")
