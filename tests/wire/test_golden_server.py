"""Each recorded Go request, sent to our server, gets the recorded answer."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from instance_rpc.server.listeners import ListenAddress
from instance_rpc.server.remote_access import RemoteAccess
from instance_rpc.testing import running_server
from tests.http import post
from tests.wire.golden import VERSIONS, WIRE_ROOT, as_go_reads_it, exchanges, literal
from tests.wire.reference_backend import ReferenceBackend


@pytest.mark.parametrize("version", VERSIONS)
async def test_recorded_requests_get_recorded_answers(version: str, sock_dir: Path) -> None:
    recorded = [e for e in exchanges(version) if e.request is not None]
    assert len(recorded) >= 19
    async with running_server(ReferenceBackend(), sock_dir / "golden") as path:
        for exchange in recorded:
            assert exchange.request is not None
            status, answer = await post(path, exchange.request)
            assert status == 200
            assert as_go_reads_it(literal(answer)) == literal(exchange.response), (
                f"{version} {exchange.number} {exchange.label}"
            )


def shape(document: Any) -> Any:
    """Keys and value kinds, recursively; lists by the shape of their first item."""
    if isinstance(document, dict):
        return {key: shape(value) for key, value in document.items()}
    if isinstance(document, list):
        return [shape(document[0])] if document else []
    return type(document).__name__


@pytest.mark.parametrize("version", VERSIONS)
async def test_spec_endpoint_has_the_go_shape(version: str, sock_dir: Path) -> None:
    go_info = json.loads((WIRE_ROOT / version / "info-api.json").read_bytes())
    async with running_server(ReferenceBackend(), sock_dir / "golden") as path:
        status, answer = await post(path, b"", path="/info/api.json", method="GET")
    assert status == 200
    ours = json.loads(answer)
    # Our extra members (Go clients ignore them): each type's declared Properties.
    assert set(ours) - set(go_info) == {"Types"}
    assert shape({key: ours[key] for key in go_info}) == shape(go_info)
    go_methods = [m["Request"]["method"] for m in go_info["Interfaces"][0]["Methods"]]
    our_methods = [m["Request"]["method"] for m in ours["Interfaces"][0]["Methods"]]
    assert our_methods == go_methods
    for go_method, our_method in zip(
        go_info["Interfaces"][0]["Methods"], ours["Interfaces"][0]["Methods"], strict=True
    ):
        assert shape(our_method) == shape(go_method)
    assert go_info["Implements"][0] in ours["Implements"]


@pytest.mark.parametrize("version", VERSIONS)
async def test_recorded_requests_with_go_headers_over_plain_tcp(
    version: str, sock_dir: Path
) -> None:
    """Go's net/http, as InfraKit's client uses it on a tcp:// plugin: the recorded headers,
    ``Host`` being the address it dialled (the listener's rules let it through)."""
    recorded = [e for e in exchanges(version) if e.request is not None]
    remote = RemoteAccess([ListenAddress.parse("tcp://127.0.0.1:0")])
    async with running_server(ReferenceBackend(), sock_dir / "golden", remote=remote):
        port = remote.bound[0].port
        for exchange in recorded:
            assert exchange.request is not None
            head = (
                f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "User-Agent: Go-http-client/1.1\r\n"
                f"Content-Length: {len(exchange.request)}\r\n"
                "Content-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n"
            )
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(head.encode() + exchange.request)
            await writer.drain()
            status_line = await reader.readline()
            headers = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"Content-Length: (\d+)", headers)
            assert length is not None, headers
            answer = await reader.readexactly(int(length.group(1)))
            writer.close()
            await writer.wait_closed()
            assert status_line.split()[1] == b"200", (exchange.label, answer)
            assert as_go_reads_it(literal(answer)) == literal(exchange.response), (
                f"{version} {exchange.number} {exchange.label}"
            )
