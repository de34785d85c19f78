"""``GET /info/functions.json``: what InfraKit's CLI (``info template``) reads from a plugin.

InfraKit's CLI decodes the document into ``map[string][]template.Function``; a Function is
``{Name, Description, Func, Usage}``, its Description a string (0.6.0 era) or a list of strings
(0.6.1 era). The decoders below have that shape and are strict: anything but a JSON object of
such lists (a JSON-RPC error object, say) fails them, as it fails the Go CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from instance_rpc import InstanceService, PluginServer
from instance_rpc_plugins.memory import MemoryPlugin
from tests.http import exchange


class FunctionV060(msgspec.Struct, forbid_unknown_fields=True):
    Name: str
    Description: str = ""
    Func: Any = None
    Usage: str = ""


class FunctionV061(msgspec.Struct, forbid_unknown_fields=True):
    Name: str
    Description: list[str] | None = None
    Func: Any = None
    Usage: str = ""


DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    "0.6.0": msgspec.json.Decoder(dict[str, list[FunctionV060]]),
    "0.6.1": msgspec.json.Decoder(dict[str, list[FunctionV061]]),
}


@pytest.mark.parametrize("era", sorted(DECODERS))
async def test_both_generations_decode_the_functions_document(era: str, sock_dir: Path) -> None:
    server = PluginServer(InstanceService({"": MemoryPlugin()}), sock_dir / "f.sock")
    async with server:
        status, headers, body = await exchange(
            server.socket_path, b"", path="/info/functions.json", method="GET", headers={}
        )
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert DECODERS[era].decode(body) == {}


def test_the_decoders_refuse_what_was_served_before() -> None:
    """The 405 answer's JSON-RPC error object: a decoder that took it would prove nothing."""
    error = b'{"jsonrpc":"2.0","error":{"code":-32600,"message":"no such document"},"id":null}'
    for decoder in DECODERS.values():
        with pytest.raises(msgspec.ValidationError):
            decoder.decode(error)
    full = b'{"x":[{"Name":"greater","Description":["a > b"],"Func":null,"Usage":"{{ greater }}"}]}'
    assert DECODERS["0.6.1"].decode(full)["x"][0].Name == "greater"


async def test_head_of_the_functions_document(sock_dir: Path) -> None:
    server = PluginServer(InstanceService({"": MemoryPlugin()}), sock_dir / "h.sock")
    async with server:
        status, _, body = await exchange(
            server.socket_path, b"", path="/info/functions.json", method="HEAD", headers={}
        )
    assert (status, body) == (200, b"")
