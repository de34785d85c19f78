"""Reading a JSON-RPC response the way Go clients do.

The rule is that of gorilla/rpc ``v2/json2`` ``DecodeClientResponse``, which InfraKit's Go client
uses (InfraKit pkg/rpc/client):

- an ``error`` member that is not ``null`` is the answer, whatever ``result`` holds; an error
  that is not an error object (a string, a number, a ``code`` that is not an integer) becomes a
  ``-32000`` error whose message is the member's JSON text;
- otherwise (``error`` absent or ``null``) ``result`` is the answer; a ``result`` that is absent or
  ``null`` is a :class:`~instance_rpc.errors.BadResponse` (gorilla's ``ErrNullResult``);
- ``jsonrpc`` and ``id`` are not checked (``jsonrpc`` may be absent), unknown members are ignored.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec
from msgspec import UNSET, Raw, UnsetType

from ..errors import SERVER_ERROR, BadResponse, error_for_code
from ..wire import (
    DescribeResult,
    HelloResult,
    ImplementsResult,
    OKResult,
    ProvisionResult,
    TypesResult,
)

__all__ = ["decode_response"]

_R = TypeVar("_R", bound=msgspec.Struct)


class _ErrorObject(msgspec.Struct):
    """Go's ``json2.Error``: a missing or ``null`` member keeps Go's zero value."""

    code: int | None = 0
    message: str | None = ""
    data: Any = None


class _Envelope(msgspec.Struct):
    jsonrpc: str | UnsetType | None = UNSET
    result: Raw | UnsetType = UNSET
    error: Raw | UnsetType = UNSET
    id: Any = None


class _TypedEnvelope(msgspec.Struct, Generic[_R]):
    """A response decoded in one pass, its result straight into the result struct."""

    jsonrpc: str | UnsetType | None = UNSET
    result: _R | UnsetType | None = UNSET
    error: Any = UNSET
    id: Any = None


_NULL = b"null"
_ENVELOPE_DECODER = msgspec.json.Decoder(_Envelope)
_ERROR_DECODER = msgspec.json.Decoder(_ErrorObject)
# The results of the Instance and handshake methods; other result types take the general path.
_TYPED_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {
    result: msgspec.json.Decoder(_TypedEnvelope[result])  # type: ignore[valid-type]
    for result in (
        OKResult,
        ProvisionResult,
        DescribeResult,
        HelloResult,
        ImplementsResult,
        TypesResult,
    )
}


def decode_response(method: str, answer: bytes, result_type: type[_R]) -> _R:
    """The result of ``method`` in ``answer`` (a JSON-RPC response body) as ``result_type``.

    Raises the :class:`~instance_rpc.errors.RPCError` for the code of an error answer, and
    :class:`~instance_rpc.errors.BadResponse` (naming ``method``) for a body that is not a
    response or a result of another shape.
    """
    typed = _decode_success(answer, result_type)
    if typed is not None:
        return typed
    try:
        envelope = _ENVELOPE_DECODER.decode(answer)
    except msgspec.DecodeError as exc:
        raise BadResponse(f"{method}: not a JSON-RPC response: {exc}") from None
    if isinstance(envelope.error, Raw) and bytes(envelope.error) != _NULL:
        raise _error(envelope.error)
    if not isinstance(envelope.result, Raw) or bytes(envelope.result) == _NULL:
        raise BadResponse(f"{method}: response has no error and a null or missing result")
    try:
        return msgspec.json.decode(envelope.result, type=result_type)
    except msgspec.DecodeError as exc:
        raise BadResponse(f"{method}: unexpected result: {exc}") from None


def _decode_success(answer: bytes, result_type: type[_R]) -> _R | None:
    """A success response decoded in one pass; ``None`` for anything else (errors, surprises),
    which the general path then reads and explains."""
    decoder = _TYPED_DECODERS.get(result_type)
    if decoder is None:
        return None
    try:
        envelope = decoder.decode(answer)
    except msgspec.DecodeError:
        return None
    has_error = envelope.error is not UNSET and envelope.error is not None
    if has_error or not isinstance(envelope.result, result_type):
        return None
    return envelope.result


def _error(member: Raw) -> Exception:
    try:
        error = _ERROR_DECODER.decode(member)
    except msgspec.DecodeError:
        return error_for_code(SERVER_ERROR, bytes(member).decode(errors="replace"))
    return error_for_code(error.code or 0, error.message or "", error.data)
