"""JSON-RPC 2.0 over Instance backends: bytes in, bytes out, no transport.

The request envelope is parsed here once (msgspec; params stay raw JSON); each request is then
dispatched by jsonrpcserver to a method that decodes its own params into the typed wire struct,
picks the backend by ``Type`` and calls it.

Dispatch is synchronous on purpose: jsonrpcserver's async dispatcher wraps every request in a
task (``asyncio.gather``), which costs three trips through the event loop and leaves cyclic
garbage. The registered methods only *start* the call (a coroutine, kept in the :class:`_Call`
passed as context) and return at once; :meth:`InstanceService.handle` then awaits it, also
for notifications, whose response jsonrpcserver drops.

Every failure becomes a JSON-RPC error object: backend errors as -32000 with the backend's
message, protocol errors with their standard codes. Tracebacks go to the log, never onto the wire.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar, cast

import msgspec
from jsonrpcserver import Success, dispatch_to_response
from jsonrpcserver.response import ErrorResponse, SuccessResponse
from jsonrpcserver.sentinels import NODATA
from msgspec import Raw

from . import collector, handshake
from ._version import __version__
from .errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    SERVER_ERROR,
    NoSuchType,
    RPCError,
)
from .field_paths import name_map_keys
from .log_format import log_call
from .observe import CallObserver
from .spi import Plugin, VendorProvider
from .types import VendorInfo
from .wire import (
    DescribeParams,
    DescribeResult,
    DestroyParams,
    EmptyParams,
    LabelParams,
    MethodExample,
    OKResult,
    PluginInfo,
    ProvisionParams,
    ProvisionResult,
    ValidateParams,
    WireContext,
    WireDescription,
    WireInterface,
    WireInterfaceSpec,
    WireSpec,
    WireVendor,
    context_of,
    raw_or_none,
)

__all__ = ["DEFAULT_MAX_BATCH", "DEFAULT_VENDOR", "InstanceService"]

logger = logging.getLogger(__name__)

DEFAULT_VENDOR = VendorInfo(
    name="instance-rpc", version=__version__, url="https://pypi.org/project/instance-rpc/"
)

DEFAULT_MAX_BATCH = 1000
"""Most requests one batch may carry."""

_P = TypeVar("_P", bound=msgspec.Struct)
Result = Any  # a method's result: the wire struct its response carries


class _Call:
    """One request's call: its raw params, the work its method started, and what the per-call
    log line reports besides the method (filled in as the call proceeds)."""

    __slots__ = ("details", "observer", "params", "pending", "type_name")

    def __init__(self, params: Raw | None, observer: CallObserver | None) -> None:
        self.params = params
        self.observer = observer
        self.pending: Coroutine[Any, Any, Any] | None = None
        self.type_name = ""
        self.details: dict[str, str] | None = None


MethodBody = Callable[[Raw | None, _Call], Awaitable[Result]]

_REQUEST_ID = str | int | float | None


class _ErrorObject(msgspec.Struct):
    code: int
    message: str
    data: Any = None


class _ErrorEnvelope(msgspec.Struct):
    error: _ErrorObject
    id: Any = None
    jsonrpc: str = "2.0"


class _SuccessEnvelope(msgspec.Struct):
    result: Any
    id: Any = None
    jsonrpc: str = "2.0"


_ENCODER = msgspec.json.Encoder()
_BODY_DECODER = msgspec.json.Decoder(dict[str, Raw] | list[Raw])
_OBJECT_DECODER = msgspec.json.Decoder(dict[str, Raw])
_ID_DECODER = msgspec.json.Decoder(_REQUEST_ID)
_STR_DECODER = msgspec.json.Decoder(str)
_NULL = Raw(b"null")


def _identity(value: Any) -> Any:
    return value


def _unwrap(either: Any) -> Any:
    """jsonrpcserver hands responses over wrapped in oslash's Left/Right."""
    return either._error if hasattr(either, "_error") else either._value


def _decoded_str(raw: Raw | None) -> str | None:
    """The string a raw member holds, or ``None`` when it is missing or not a string."""
    if raw is None:
        return None
    try:
        return _STR_DECODER.decode(raw)
    except msgspec.ValidationError:
        return None


def _error_object(code: int, message: str, data: Any) -> _ErrorObject:
    """An error jsonrpcserver itself answered with, its message made to name the problem."""
    data = None if data is NODATA else data
    if code == METHOD_NOT_FOUND:
        return _ErrorObject(code, f"method not found: {data}")
    if code == INVALID_PARAMS and isinstance(data, str):
        # jsonrpcserver's own argument check; our methods take any params object.
        return _ErrorObject(code, f"invalid params: {data}")
    return _ErrorObject(code, message, data)


def _error_bytes(code: int, message: str, request_id: Any = _NULL) -> bytes:
    return _ENCODER.encode(_ErrorEnvelope(error=_ErrorObject(code, message), id=request_id))


class _RequestRejected(Exception):
    """A request that cannot be dispatched; answered with ``code`` and ``message``."""

    def __init__(self, code: int, message: str, request_id: Raw = _NULL) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


class InstanceService:
    """Serves one or more Instance backends, chosen per call by the ``Type`` param.

    ``backends`` maps type names to plugins; ``""`` is the default that Go clients address when
    they name no type.
    """

    def __init__(
        self,
        backends: Mapping[str, Plugin],
        *,
        vendor: VendorInfo | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        self.max_batch = max_batch
        if not backends:
            raise ValueError("an InstanceService needs at least one backend")
        self._backends: dict[str, Plugin] = dict(backends)
        default = self._backends.get("") or next(iter(self._backends.values()))
        self._vendor = vendor or (
            default.vendor_info() if isinstance(default, VendorProvider) else DEFAULT_VENDOR
        )
        self._methods: dict[str, Callable[[_Call], Any]] = {
            name: self._wrap(name, body)
            for name, body in {
                "Instance.Validate": self._validate,
                "Instance.Provision": self._provision,
                "Instance.Label": self._label,
                "Instance.Destroy": self._destroy,
                "Instance.DescribeInstances": self._describe,
                "Handshake.Implements": self._implements,
                "Handshake.Types": self._types,
                "Handshake.Hello": self._hello,
            }.items()
        }
        self._info = self._build_info()

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
        return sorted(self._methods)

    def info(self) -> PluginInfo:
        """The document served at ``GET /info/api.json``."""
        return self._info

    def info_bytes(self) -> bytes:
        return _ENCODER.encode(self._info)

    @staticmethod
    def error_body(code: int, message: str) -> bytes:
        """A JSON-RPC error response (id ``null``) for failures found before parsing."""
        return _error_bytes(code, message)

    # --- the JSON-RPC layer ------------------------------------------------------------------

    async def handle(self, body: bytes, observer: CallObserver | None = None) -> bytes | None:
        """Answer one HTTP body, a request or a batch; ``None`` means no response is due.

        ``observer`` is told of every call and refusal (the app's metrics).
        """
        try:
            parsed = self._parse(body)
        except _RequestRejected as exc:
            if observer is not None:
                observer.refused("bad_json" if exc.code == PARSE_ERROR else "invalid_request")
            return _error_bytes(exc.code, exc.message)
        if isinstance(parsed, dict):
            return await self._handle_one(parsed, observer)
        answers = await asyncio.gather(*(self._handle_raw(item, observer) for item in parsed))
        present = [answer for answer in answers if answer is not None]
        if not present:
            return None
        return b"[" + b",".join(present) + b"]"

    def _parse(self, body: bytes) -> dict[str, Raw] | list[Raw]:
        """The request or the batch of ``body``; raises :class:`_RequestRejected`."""
        try:
            body.decode("utf-8")  # msgspec leaves raw members unchecked
        except UnicodeDecodeError as exc:
            message = f"parse error: invalid UTF-8 at byte {exc.start}"
            raise _RequestRejected(PARSE_ERROR, message) from None
        try:
            parsed = _BODY_DECODER.decode(body)
        except msgspec.ValidationError:
            message = "invalid request: expected a JSON object or array"
            raise _RequestRejected(INVALID_REQUEST, message) from None
        except msgspec.DecodeError as exc:
            raise _RequestRejected(PARSE_ERROR, f"parse error: {exc}") from None
        except RecursionError:
            message = "invalid request: JSON nested too deeply"
            raise _RequestRejected(INVALID_REQUEST, message) from None
        if isinstance(parsed, list) and not parsed:
            raise _RequestRejected(INVALID_REQUEST, "invalid request: empty batch")
        if isinstance(parsed, list) and len(parsed) > self.max_batch:
            message = (
                f"invalid request: batch of {len(parsed)} exceeds the limit of {self.max_batch}"
            )
            raise _RequestRejected(INVALID_REQUEST, message)
        return parsed

    async def _handle_raw(self, item: Raw, observer: CallObserver | None) -> bytes | None:
        try:
            request = _OBJECT_DECODER.decode(item)
        except (msgspec.DecodeError, RecursionError):
            if observer is not None:
                observer.refused("invalid_request")
            return _error_bytes(INVALID_REQUEST, "invalid request: expected a JSON object")
        return await self._handle_one(request, observer)

    async def _handle_one(
        self, request: dict[str, Raw], observer: CallObserver | None
    ) -> bytes | None:
        try:
            envelope = self._check_envelope(request)
        except _RequestRejected as exc:
            if observer is not None:
                observer.refused("invalid_request")
            return _error_bytes(exc.code, exc.message, exc.request_id)
        call = _Call(request.get("params"), observer)
        response = dispatch_to_response(
            cast(str, envelope),  # parsed already; the deserializer hook passes it through
            self._methods,
            context=call,
            deserializer=_identity,
            validator=_identity,
            post_process=_unwrap,
        )
        outcome = None if call.pending is None else await call.pending
        if response is None:
            return None
        if isinstance(response, SuccessResponse):
            if isinstance(outcome, _ErrorObject):
                return _ENCODER.encode(_ErrorEnvelope(error=outcome, id=response.id))
            return _ENCODER.encode(_SuccessEnvelope(result=outcome, id=response.id))
        if isinstance(response, ErrorResponse):
            if observer is not None:
                observer.count_call(envelope["method"], call.type_name, response.code)
            error = _error_object(response.code, response.message, response.data)
            return _ENCODER.encode(_ErrorEnvelope(error=error, id=response.id))
        # jsonrpcserver wraps its own failures in Left(...); never expected, never fatal.
        logger.error("unexpected dispatcher answer: %r", response)
        return _error_bytes(INTERNAL_ERROR, "internal error")

    @staticmethod
    def _check_envelope(request: dict[str, Raw]) -> dict[str, Any]:
        """Validate the members jsonrpcserver relies on; params stay raw for the method."""
        raw_id = request.get("id")
        if raw_id is not None:
            try:
                _ID_DECODER.decode(raw_id)
            except msgspec.ValidationError:
                raise _RequestRejected(
                    INVALID_REQUEST, "invalid request: id must be a string, number or null"
                ) from None
        answer_id = _NULL if raw_id is None else raw_id
        if _decoded_str(request.get("jsonrpc")) != "2.0":
            raise _RequestRejected(
                INVALID_REQUEST, 'invalid request: jsonrpc must be "2.0"', answer_id
            )
        method = _decoded_str(request.get("method"))
        if method is None:
            raise _RequestRejected(
                INVALID_REQUEST, "invalid request: method must be a string", answer_id
            )
        params = request.get("params")
        if params is not None:
            first = memoryview(params)[:1].tobytes()
            if first == b"[":
                raise _RequestRejected(
                    INVALID_PARAMS,
                    "invalid params: params must be an object of named members, got array",
                    answer_id,
                )
            if first != b"{":
                raise _RequestRejected(
                    INVALID_REQUEST, "invalid request: params must be an object or array", answer_id
                )
        envelope: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if raw_id is not None:
            envelope["id"] = raw_id
        return envelope

    def _wrap(self, name: str, body: MethodBody) -> Callable[[_Call], Any]:
        """The method jsonrpcserver dispatches to: it starts :meth:`_run` and returns."""

        def method(call: _Call) -> Any:
            call.pending = self._run(name, body, call)
            return Success(None)

        method.__name__ = name
        # jsonrpcserver checks the arguments against inspect.signature() on every call.
        method.__signature__ = inspect.signature(method)  # type: ignore[attr-defined]
        return method

    @staticmethod
    async def _run(name: str, body: MethodBody, call: _Call) -> Any:
        """The result of ``body``, or every failure as an error object; log and count the call."""
        observer = call.observer
        if observer is not None:
            observer.call_started(name)
        started = time.perf_counter()
        code: int | None = None
        error = ""
        try:
            return await body(call.params, call)
        except RPCError as exc:
            code, error = exc.code, exc.message
            return _ErrorObject(exc.code, exc.message, exc.data)
        except Exception as exc:
            logger.exception("%s failed in the backend", name)
            code, error = SERVER_ERROR, str(exc) or type(exc).__name__
            return _ErrorObject(SERVER_ERROR, error)
        finally:
            elapsed = time.perf_counter() - started
            if observer is not None:
                observer.call_finished(name, call.type_name, code, elapsed)
            if logger.isEnabledFor(logging.INFO):
                type_name = call.type_name or handshake.DEFAULT_TYPE_NAME
                log_call(logger, name, type_name, code, error, elapsed, call.details)

    # --- methods -------------------------------------------------------------------------------

    @staticmethod
    def _decode(struct: type[_P], params: Raw | None, call: _Call) -> _P:
        try:
            decoded = _decoder(struct).decode(params if params is not None else b"{}")
        except msgspec.ValidationError as exc:
            message = name_map_keys(str(exc), params)
            raise RPCError(f"invalid params: {message}", code=INVALID_PARAMS) from None
        call.type_name = getattr(decoded, "Type", "")
        return decoded

    def _backend(self, type_name: str) -> Plugin:
        backend = self._backends.get(type_name)
        if backend is None:
            raise NoSuchType(type_name)
        return backend

    async def _validate(self, params: Raw | None, call: _Call) -> Result:
        p = self._decode(ValidateParams, params, call)
        await self._backend(p.Type).validate(raw_or_none(p.Properties))
        return OKResult(Type=p.Type, OK=True)

    async def _provision(self, params: Raw | None, call: _Call) -> Result:
        p = self._decode(ProvisionParams, params, call)
        if p.Spec.LogicalID is not None:
            call.details = {"logical_id": p.Spec.LogicalID}
        backend = self._backend(p.Type)
        instance_id = await backend.provision(p.Spec.to_spec())
        if instance_id is not None and not isinstance(instance_id, str):
            raise TypeError(f"the backend returned a non-string ID: {instance_id!r}")
        return ProvisionResult(Type=p.Type, ID=instance_id)

    async def _label(self, params: Raw | None, call: _Call) -> Result:
        p = self._decode(LabelParams, params, call)
        await self._backend(p.Type).label(p.Instance, p.Labels or {})
        return OKResult(Type=p.Type, OK=True)

    async def _destroy(self, params: Raw | None, call: _Call) -> Result:
        p = self._decode(DestroyParams, params, call)
        call.details = {"instance": p.Instance, "reason": p.Context.Reason}
        await self._backend(p.Type).destroy(p.Instance, context_of(p))
        return OKResult(Type=p.Type, OK=True)

    async def _describe(self, params: Raw | None, call: _Call) -> Result:
        p = self._decode(DescribeParams, params, call)
        backend = self._backend(p.Type)
        # The backend's descriptions must be gone before the collector resumes: resuming with
        # 100,000 of them alive costs one long collection over all of them.
        with collector.paused():
            found = await backend.describe_instances(p.Tags, properties=p.Properties)
            descriptions = WireDescription.from_descriptions(found, p.Properties)
            del found
        return DescribeResult(Type=p.Type, Descriptions=descriptions)

    async def _implements(self, params: Raw | None, call: _Call) -> Result:
        return handshake.implements_result()

    async def _types(self, params: Raw | None, call: _Call) -> Result:
        return handshake.types_result(self.type_names)

    async def _hello(self, params: Raw | None, call: _Call) -> Result:
        return handshake.hello_result(self.type_names)

    # --- the spec endpoint ---------------------------------------------------------------------

    def _build_info(self) -> PluginInfo:
        example_properties = Raw(b'{"instanceType":"small","disk":{"sizeGb":10}}')
        examples: list[tuple[str, msgspec.Struct, msgspec.Struct]] = [
            ("Instance.DescribeInstances", DescribeParams(), DescribeResult()),
            ("Instance.Destroy", DestroyParams(Instance="", Context=WireContext()), OKResult()),
            ("Instance.Label", LabelParams(Instance=""), OKResult()),
            (
                "Instance.Provision",
                ProvisionParams(Spec=WireSpec(Properties=example_properties)),
                ProvisionResult(),
            ),
            ("Instance.Validate", ValidateParams(Properties=example_properties), OKResult()),
        ]
        methods = [
            MethodExample(
                Request={"jsonrpc": "2.0", "method": name, "params": params, "id": "1"},
                Response={"result": result, "id": "1"},
            )
            for name, params, result in examples
        ]
        implemented = [WireInterfaceSpec.from_spec(spec) for spec in handshake.ALL_INTERFACES]
        interfaces = [
            WireInterface(Name=spec.Name, Version=spec.Version, Sub=spec.Sub, Methods=methods)
            for spec in implemented
        ]
        return PluginInfo(
            Vendor=WireVendor.from_vendor(self._vendor),
            Implements=implemented,
            Interfaces=interfaces,
        )


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
