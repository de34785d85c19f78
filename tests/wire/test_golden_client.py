"""Our client, talking to a stand-in for the Go server that answers with the recorded bodies.

Each request the client sends must equal the Go client's recorded request (the ``id`` aside), and
the client must read the Go server's answers (``text/plain`` content type included).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import web

from instance_rpc import (
    ROLLING_UPDATE,
    TERMINATION,
    Attachment,
    InterfaceSpec,
    PluginClient,
    PluginError,
    Spec,
    load_properties,
)
from instance_rpc.wire import EmptyParams, TypesResult
from tests.wire.golden import VERSIONS, Exchange, exchanges, literal, without_id

RECORDED_ID = re.compile(r'"id":-?\d+\}\s*$')


class GoStandIn:
    """Answers each request with the next recorded response, as the Go server would.

    A ``Handshake.Hello`` that the recording does not expect next is answered as a 0.6.0-era Go
    server answers an unknown method: -32000.
    """

    def __init__(self, recorded: list[Exchange]) -> None:
        self.pending = [e for e in recorded if e.request is not None]
        self.seen: list[tuple[Exchange, bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        sent = json.loads(body)
        expected = self.pending[0] if self.pending else None
        if expected is None or expected.method != sent["method"]:
            assert sent["method"] == "Handshake.Hello", f"unexpected {sent['method']}"
            error = {"code": -32000, "message": "rpc: can't find method", "data": None}
            answer = {"jsonrpc": "2.0", "error": error, "id": sent["id"]}
            return web.Response(text=json.dumps(answer), content_type="text/plain")
        self.pending.pop(0)
        self.seen.append((expected, body))
        # The recorded bytes as they are (raw Properties included); only the id is the client's.
        text, replaced = RECORDED_ID.subn(
            f'"id":{json.dumps(sent["id"])}}}', expected.response.decode()
        )
        assert replaced == 1
        return web.Response(text=text, content_type="text/plain")


async def serve_stand_in(stand_in: GoStandIn, path: Path) -> AsyncIterator[None]:
    app = web.Application()
    app.router.add_post("/{tail:.*}", stand_in.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.UnixSite(runner, str(path)).start()
    try:
        yield
    finally:
        await runner.cleanup()


FULL_PROPERTIES = msgspec.Raw(
    b'{"instanceType":"m1.small","disk":{"sizeGb":10},"zones":["a","b"],'
    b'"html":"\\u003cb\\u003e\\u0026\\u003c/b\\u003e","n":1.50,"big":12345678901234567890}'
)
FULL_SPEC = Spec(
    properties=FULL_PROPERTIES,
    tags={"env": "test", "group": "workers", "unicode": "héllo ✓"},
    init='#!/bin/sh\necho "héllo wörld ✓ 日本語 <&>"\n\texit 0\n',
    logical_id="logical-1",
    attachments=[Attachment(id="vol-1", type="ebs"), Attachment(id="eni-2", type="nic")],
)

Step = Callable[[PluginClient], Awaitable[None]]


async def _expect_error(call: Awaitable[Any], message: str) -> None:
    with pytest.raises(PluginError) as caught:
        await call
    assert caught.value.message == message
    assert caught.value.code == -32000


async def the_go_clients_session(client: PluginClient, typed: PluginClient) -> None:
    """The calls the Go client made when the traffic was recorded, in the same order."""
    await client.validate({"instanceType": "m1.small", "disk": {"sizeGb": 10}})
    await _expect_error(
        client.validate(["not", "an", "object"]),
        "invalid Properties: must be a JSON object, got array",
    )
    await _expect_error(
        client.validate(None), "invalid Properties: must be a JSON object, got null"
    )
    assert await client.provision(FULL_SPEC) == "inst-1"
    assert await client.provision(Spec(tags={"kind": "minimal"})) == "inst-2"

    (first,) = await client.describe_instances({"group": "workers"})
    assert (first.id, first.logical_id, first.properties) == ("inst-1", "logical-1", None)
    assert first.tags == {"env": "test", "group": "workers", "unicode": "héllo ✓"}
    (with_props,) = await client.describe_instances({"group": "workers"}, properties=True)
    assert bytes(with_props.properties) == bytes(FULL_PROPERTIES)
    assert load_properties(with_props.properties)["big"] == 12345678901234567890
    assert await client.describe_instances({"group": "nope"}) == []
    everything = await client.describe_instances(None, properties=True)
    assert [(d.id, d.logical_id) for d in everything] == [("inst-1", "logical-1"), ("inst-2", None)]
    assert everything[1].properties is None

    await client.label("inst-1", {"env": "prod", "label1": "value1"})
    (labelled,) = await client.describe_instances({"label1": "value1"})
    assert labelled.tags["env"] == "prod"
    await client.destroy("inst-1", TERMINATION)
    await client.destroy("inst-2", ROLLING_UPDATE)
    await _expect_error(
        client.destroy("no-such-instance", TERMINATION), "instance not found: no-such-instance"
    )
    await _expect_error(
        client.label("no-such-instance", {"a": "b"}), "instance not found: no-such-instance"
    )
    assert await client.describe_instances(None) == []
    await _expect_error(typed.validate({}), "no-plugin:typed")


@pytest.mark.parametrize("version", VERSIONS)
async def test_client_sends_what_the_go_client_sends(version: str, sock_dir: Path) -> None:
    recorded = exchanges(version)
    stand_in = GoStandIn(recorded)
    path = sock_dir / "go"
    async for _ in serve_stand_in(stand_in, path):
        async with PluginClient(path) as client, PluginClient(path, type_name="typed") as typed:
            offered = await client.handshake()
            assert offered == InterfaceSpec("Instance", version.removeprefix("infrakit-"))
            if stand_in.pending[0].method == "Handshake.Types":
                types = await client.call("Handshake.Types", EmptyParams(), TypesResult)
                assert types.Types == {"Instance/0.6.0": ["."]}
            await the_go_clients_session(client, typed)

    assert stand_in.pending == []
    assert len(stand_in.seen) == len([e for e in recorded if e.request is not None])
    for exchange, sent in stand_in.seen:
        assert exchange.request is not None
        assert without_id(literal(sent)) == without_id(literal(exchange.request)), (
            f"{version} {exchange.number} {exchange.label}"
        )
