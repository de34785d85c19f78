"""The JSON-RPC 2.0 envelope: a body parsed into requests, a request's members checked, responses
and error objects encoded (JSON-RPC 2.0 sections 4, 5 and 6). Params stay raw JSON (msgspec
``Raw``) for the method to decode.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import msgspec
from msgspec import UNSET, Raw, UnsetType

from ..errors import INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR, RPCError

__all__ = [
    "ENCODER",
    "CheckedRequest",
    "ErrorEnvelope",
    "ErrorObject",
    "RequestRejected",
    "SuccessEnvelope",
    "check_request",
    "decode_request",
    "error_bytes",
    "error_object",
    "parse_body",
]


class ErrorObject(msgspec.Struct):
    code: int
    message: str
    data: Any = None


class ErrorEnvelope(msgspec.Struct):
    error: ErrorObject
    id: Any = None
    jsonrpc: str = "2.0"


class SuccessEnvelope(msgspec.Struct):
    result: Any
    id: Any = None
    jsonrpc: str = "2.0"


ENCODER = msgspec.json.Encoder()
_BODY_DECODER = msgspec.json.Decoder(dict[str, Raw] | list[Raw])
_OBJECT_DECODER = msgspec.json.Decoder(dict[str, Raw])
_STR_DECODER = msgspec.json.Decoder(str)
_NULL = Raw(b"null")


def _decoded_str(raw: Raw | None) -> str | None:
    """The string a raw member holds, or ``None`` when it is missing or not a string."""
    if raw is None:
        return None
    try:
        return _STR_DECODER.decode(raw)
    except msgspec.ValidationError:
        return None


def error_object(code: int, message: str, data: Any = None) -> ErrorObject:
    """The error object for ``code``, ``message`` and the raiser's ``data``: its ``data`` member
    names the error's kind (``{"kind": "MethodNotFound", ...}``, see :mod:`instance_rpc.errors`)."""
    return ErrorObject(code, message, RPCError(message, data=data, code=code).wire_data())


def error_bytes(code: int, message: str, request_id: Any = _NULL) -> bytes:
    return ENCODER.encode(ErrorEnvelope(error=error_object(code, message), id=request_id))


class RequestRejected(Exception):
    """A request that cannot be dispatched; answered with ``code`` and ``message``."""

    def __init__(self, code: int, message: str, request_id: Raw = _NULL) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


def decode_request(item: Raw) -> dict[str, Raw]:
    """One member of a batch as a request object; raises :class:`RequestRejected`."""
    try:
        return _OBJECT_DECODER.decode(item)
    except (msgspec.DecodeError, RecursionError):
        raise RequestRejected(INVALID_REQUEST, "invalid request: expected a JSON object") from None


class CheckedRequest(NamedTuple):
    """A request whose envelope is valid: its method, the id to answer with (``None`` for a
    notification, JSON-RPC 2.0 section 4.1) and its params, raw (``None`` when absent)."""

    method: str
    request_id: Raw | None
    params: Raw | None


class _WellFormed(msgspec.Struct):
    """A single request as well-behaved clients send it, decoded in one pass."""

    jsonrpc: Literal["2.0"]
    method: str
    params: Raw | UnsetType = UNSET
    id: Raw | UnsetType = UNSET


_WELL_FORMED_DECODER = msgspec.json.Decoder(_WellFormed)


def _well_formed(body: bytes) -> CheckedRequest | None:
    """The checked request of ``body`` when it is one plainly valid request; ``None`` for anything
    else (a batch, a fault), which the general path then parses and names precisely."""
    try:
        request = _WELL_FORMED_DECODER.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None
    raw_id = None if request.id is UNSET else request.id
    params = None if request.params is UNSET else request.params
    if not _valid_id(raw_id) or (params is not None and _opening(params) != b"{"):
        return None
    return CheckedRequest(request.method, raw_id, params)


_ID_OPENINGS = frozenset(bytes([byte]) for byte in b'"-0123456789n')
"""How the JSON of a string, a number or null starts."""


def _valid_id(raw_id: Raw | None) -> bool:
    """Whether a request's id (``None``: absent) is a string, a number or null: told by its
    first byte, as the member comes from msgspec's parse and so is valid JSON."""
    return raw_id is None or _opening(raw_id) in _ID_OPENINGS


def _opening(raw: Raw) -> bytes:
    """The first byte of a raw member (a decoded member starts with its value)."""
    return memoryview(raw)[:1].tobytes()


def parse_body(body: bytes, max_batch: int) -> CheckedRequest | dict[str, Raw] | list[Raw]:
    """The request or the batch of ``body`` (JSON-RPC 2.0 section 6): a single valid request
    already checked (:func:`check_request`), else the request object or the batch to check.

    Raises :class:`RequestRejected` for a body that is not one.
    """
    try:
        body.decode("utf-8")  # msgspec leaves raw members unchecked
    except UnicodeDecodeError as exc:
        message = f"parse error: invalid UTF-8 at byte {exc.start}"
        raise RequestRejected(PARSE_ERROR, message) from None
    checked = _well_formed(body)
    if checked is not None:
        return checked
    try:
        parsed = _BODY_DECODER.decode(body)
    except msgspec.ValidationError:
        message = "invalid request: expected a JSON object or array"
        raise RequestRejected(INVALID_REQUEST, message) from None
    except msgspec.DecodeError as exc:
        raise RequestRejected(PARSE_ERROR, f"parse error: {exc}") from None
    except RecursionError:
        message = "invalid request: JSON nested too deeply"
        raise RequestRejected(INVALID_REQUEST, message) from None
    if isinstance(parsed, list) and not parsed:
        raise RequestRejected(INVALID_REQUEST, "invalid request: empty batch")
    if isinstance(parsed, list) and len(parsed) > max_batch:
        message = f"invalid request: batch of {len(parsed)} exceeds the limit of {max_batch}"
        raise RequestRejected(INVALID_REQUEST, message)
    return parsed


def check_request(request: dict[str, Raw]) -> CheckedRequest:
    """The request's members checked (JSON-RPC 2.0 section 4); params stay raw for the method.

    Raises :class:`RequestRejected` (-32600, or -32602 for params given by position).
    """
    raw_id = request.get("id")
    if not _valid_id(raw_id):
        raise RequestRejected(
            INVALID_REQUEST, "invalid request: id must be a string, number or null"
        )
    answer_id = _NULL if raw_id is None else raw_id
    if _decoded_str(request.get("jsonrpc")) != "2.0":
        raise RequestRejected(INVALID_REQUEST, 'invalid request: jsonrpc must be "2.0"', answer_id)
    method = _decoded_str(request.get("method"))
    if method is None:
        raise RequestRejected(
            INVALID_REQUEST, "invalid request: method must be a string", answer_id
        )
    params = request.get("params")
    if params is not None:
        first = _opening(params)
        if first == b"[":
            raise RequestRejected(
                INVALID_PARAMS,
                "invalid params: params must be an object of named members, got array",
                answer_id,
            )
        if first != b"{":
            raise RequestRejected(
                INVALID_REQUEST, "invalid request: params must be an object or array", answer_id
            )
    return CheckedRequest(method, raw_id, params)
