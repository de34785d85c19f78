"""Responses read as Go clients read them (gorilla/rpc v2 json2 DecodeClientResponse), each shape
answered by a stand-in plugin on a real socket, for the handshake and the Instance calls."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from instance_rpc import BadResponse, PluginClient, PluginError, RPCError, Spec

from .fake_peer import RESULTS, fake_peer


def shaped(envelope: Callable[[Any, Any], dict[str, Any]]) -> Callable[[str, Any], bytes]:
    """Answers every call with ``envelope(result, id)``."""

    def answer(method: str, request_id: Any) -> bytes:
        return msgspec.json.encode(envelope(RESULTS.get(method, {"OK": True}), request_id))

    return answer


SUCCESS_SHAPES = {
    "error null beside the result (older gorilla json2)": lambda result, rid: {
        "result": result,
        "error": None,
        "id": rid,
    },
    "no jsonrpc member": lambda result, rid: {"result": result, "id": rid},
    "unknown members": lambda result, rid: {
        "jsonrpc": "2.0",
        "result": result,
        "id": rid,
        "trace": {"span": 1},
    },
    "jsonrpc null, id of another type": lambda result, rid: {
        "jsonrpc": None,
        "result": result,
        "id": str(rid),
    },
}


@pytest.mark.parametrize("shape", SUCCESS_SHAPES)
async def test_success_shapes_go_accepts(sock_dir: Path, shape: str) -> None:
    with fake_peer(sock_dir / "go.sock", answer=shaped(SUCCESS_SHAPES[shape])) as peer:
        async with PluginClient(peer.path) as client:
            await client.handshake()
            await client.validate({})
            assert await client.provision(Spec()) == "inst-1"
            await client.label("inst-1", {"owner": "me"})
            assert await client.describe_instances(None) == []
    assert peer.methods[0] == "Handshake.Hello"


ERROR_SHAPES: dict[str, tuple[dict[str, Any], type[RPCError], int, str]] = {
    "null result with the error": (
        {"result": None, "error": {"code": -32000, "message": "boom"}},
        PluginError,
        -32000,
        "boom",
    ),
    "the error wins over a result": (
        {"result": {"ID": "inst-1"}, "error": {"code": -32000, "message": "boom", "data": 7}},
        PluginError,
        -32000,
        "boom",
    ),
    "an error that is a string": ({"error": "boom"}, PluginError, -32000, '"boom"'),
    "an error object without a code": ({"error": {"message": "boom"}}, RPCError, 0, "boom"),
}


@pytest.mark.parametrize("shape", ERROR_SHAPES)
async def test_error_shapes_go_reads_as_errors(sock_dir: Path, shape: str) -> None:
    envelope, expected_class, code, message = ERROR_SHAPES[shape]

    def answer(method: str, request_id: Any) -> bytes:
        if method == "Handshake.Hello":
            return msgspec.json.encode({"result": RESULTS[method], "error": None, "id": request_id})
        return msgspec.json.encode({**envelope, "id": request_id})

    with fake_peer(sock_dir / "go.sock", answer=answer) as peer:
        async with PluginClient(peer.path) as client:
            with pytest.raises(expected_class) as caught:
                await client.provision(Spec())
    assert (type(caught.value), caught.value.code, caught.value.message) == (
        expected_class,
        code,
        message,
    )
    assert peer.methods == ["Handshake.Hello", "Instance.Provision"]


async def test_neither_result_nor_error_is_a_bad_response_naming_the_method(
    sock_dir: Path,
) -> None:
    answer = shaped(lambda result, rid: {"result": None, "error": None, "id": rid})
    with fake_peer(sock_dir / "go.sock", answer=answer) as peer:
        async with PluginClient(peer.path) as client:
            with pytest.raises(BadResponse, match=r"Handshake\.Hello: .*null or missing result"):
                await client.handshake()
