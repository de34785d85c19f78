"""A single well-formed request is checked in one decoding pass; whatever that pass takes must be
what the general path (the request object, then each member) makes of it, and whatever it does
not take must still get the general path's precise answer."""

from __future__ import annotations

import itertools

import msgspec
import pytest

from instance_rpc.rpc.envelope import (
    CheckedRequest,
    RequestRejected,
    check_request,
    decode_request,
    parse_body,
)

IDS = [None, b"null", b"1", b"-7", b"1.50", b'"a-1"', b'"\\u00e9"', b"{}", b"[1]", b"true"]
PARAMS = [None, b"{}", b'{"Type":"x","Properties":{"a":[1,2]}}', b"null", b"[1]", b'"s"', b"3"]
VERSIONS = [b'"2.0"', b'"1.0"', b"2.0", None]
METHODS = [b'"Instance.Validate"', b'""', b"7", None]


def _body(
    version: bytes | None, method: bytes | None, params: bytes | None, id_: bytes | None
) -> bytes:
    members = [
        (b'"jsonrpc"', version),
        (b'"method"', method),
        (b'"params"', params),
        (b'"id"', id_),
    ]
    return b"{" + b",".join(k + b":" + v for k, v in members if v is not None) + b"}"


def _general(body: bytes) -> CheckedRequest | tuple[int, str, bytes]:
    try:
        return check_request(decode_request(msgspec.Raw(body)))
    except RequestRejected as exc:
        return exc.code, exc.message, bytes(exc.request_id)


def _fast(body: bytes) -> CheckedRequest | tuple[int, str, bytes]:
    try:
        parsed = parse_body(body, max_batch=10)
    except RequestRejected as exc:
        return exc.code, exc.message, bytes(exc.request_id)
    if isinstance(parsed, CheckedRequest):
        return parsed
    assert isinstance(parsed, dict)
    return _general(body)


def _comparable(outcome: CheckedRequest | tuple[int, str, bytes]) -> object:
    if isinstance(outcome, CheckedRequest):
        return tuple(bytes(m) if isinstance(m, msgspec.Raw) else m for m in outcome)
    return outcome


@pytest.mark.parametrize(
    ("version", "method", "params", "id_"),
    list(itertools.product(VERSIONS, METHODS, PARAMS, IDS)),
)
def test_the_one_pass_check_agrees_with_the_general_path(
    version: bytes | None, method: bytes | None, params: bytes | None, id_: bytes | None
) -> None:
    body = _body(version, method, params, id_)
    assert _comparable(_fast(body)) == _comparable(_general(body))


def test_a_plain_request_takes_the_one_pass_path() -> None:
    body = b'{"jsonrpc":"2.0","method":"Instance.Validate","params":{},"id":3,"extra":[1]}'
    assert parse_body(body, max_batch=10) == CheckedRequest(
        "Instance.Validate", msgspec.Raw(b"3"), msgspec.Raw(b"{}")
    )


def test_a_repeated_member_counts_once_its_last_value_on_both_paths() -> None:
    body = b'{"jsonrpc":"1.0","method":"A","id":1,"jsonrpc":"2.0","method":"B"}'
    assert _comparable(_fast(body)) == _comparable(_general(body))
