"""Bad input gets the right code and a message naming the problem, and changes nothing.

Every case runs against a daemon holding one instance; afterwards the daemon must still answer
and hold exactly that instance.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from instance_rpc import PluginClient, Spec
from instance_rpc.testing import running_server
from instance_rpc_plugins.memory import MemoryPlugin
from tests.http import exchange, post

PARSE, INVALID_REQUEST, NO_METHOD, BAD_PARAMS, SERVER = -32700, -32600, -32601, -32602, -32000


def rpc(method: str, params: Any, request_id: Any = 1) -> str:
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": request_id})


@pytest.fixture
async def daemon(sock_dir: Path) -> AsyncIterator[tuple[Path, MemoryPlugin]]:
    backend = MemoryPlugin()
    await backend.provision(Spec(tags={"keep": "me"}, properties={"a": 1}))
    async with running_server(backend, sock_dir / "bad", max_body=256 * 1024) as path:
        yield path, backend
        # the daemon still serves, and the inventory is what it was
        async with PluginClient(path) as client:
            described = await client.describe_instances(None, properties=True)
        assert [(d.id, d.tags) for d in described] == [("inst-1", {"keep": "me"})]


async def expect_error(
    socket: Path, body: bytes | str, code: int, message: str, *, status: int = 200, **kw: Any
) -> dict[str, Any]:
    got_status, answer = await post(socket, body, **kw)
    assert got_status == status, answer
    parsed = json.loads(answer)
    assert parsed["jsonrpc"] == "2.0"
    assert parsed["error"]["code"] == code, parsed
    assert message in parsed["error"]["message"], parsed
    assert "Traceback" not in answer.decode()
    return dict(parsed)


ENVELOPE_CASES = [
    ("not json", b"hello", PARSE, "parse error"),
    ("truncated", b'{"jsonrpc":"2.0","method":"Instance.Validate"', PARSE, "parse error"),
    ("empty body", b"", PARSE, "parse error"),
    ("invalid utf-8", b'{"jsonrpc":"2.0","method":"\xff\xfe","id":1}', PARSE, "parse error"),
    ("a number", b"42", INVALID_REQUEST, "expected a JSON object or array"),
    ("a string", b'"x"', INVALID_REQUEST, "expected a JSON object or array"),
    ("null", b"null", INVALID_REQUEST, "expected a JSON object or array"),
    ("empty batch", b"[]", INVALID_REQUEST, "empty batch"),
    ("no jsonrpc", b'{"method":"Handshake.Hello","id":1}', INVALID_REQUEST, "jsonrpc"),
    ("jsonrpc 1.0", b'{"jsonrpc":"1.0","method":"Handshake.Hello","id":1}', INVALID_REQUEST, "2.0"),
    (
        "jsonrpc number",
        b'{"jsonrpc":2.0,"method":"Handshake.Hello","id":1}',
        INVALID_REQUEST,
        "2.0",
    ),
    ("no method", b'{"jsonrpc":"2.0","id":1}', INVALID_REQUEST, "method must be a string"),
    ("method number", b'{"jsonrpc":"2.0","method":5,"id":1}', INVALID_REQUEST, "method must be"),
    ("id object", b'{"jsonrpc":"2.0","method":"x","id":{}}', INVALID_REQUEST, "id must be"),
    ("id list", b'{"jsonrpc":"2.0","method":"x","id":[1]}', INVALID_REQUEST, "id must be"),
    ("id bool", b'{"jsonrpc":"2.0","method":"x","id":true}', INVALID_REQUEST, "id must be"),
    ("params string", rpc("Instance.Validate", "x"), INVALID_REQUEST, "params must be"),
    ("params number", rpc("Instance.Validate", 3), INVALID_REQUEST, "params must be"),
    ("params array", rpc("Instance.Validate", [1]), BAD_PARAMS, "got array"),
    ("unknown method", rpc("Instance.Explode", {}), NO_METHOD, "Instance.Explode"),
    (
        "deep nesting",
        b'{"jsonrpc":"2.0","method":"x","params":' + b"[" * 100_000,
        INVALID_REQUEST,
        "nested too deeply",
    ),
    (
        "deep nesting closed",
        b'{"jsonrpc":"2.0","method":"x","params":{"a":'
        + b"[" * 60_000
        + b"]" * 60_000
        + b'},"id":1}',
        INVALID_REQUEST,
        "nested too deeply",
    ),
]


@pytest.mark.parametrize(
    ("body", "code", "message"), [c[1:] for c in ENVELOPE_CASES], ids=[c[0] for c in ENVELOPE_CASES]
)
async def test_malformed_requests(
    daemon: tuple[Path, MemoryPlugin], body: bytes | str, code: int, message: str
) -> None:
    await expect_error(daemon[0], body, code, message)


PARAMS_CASES = [
    ("Instance.Validate", {"Type": 5, "Properties": {}}, "Expected `str`, got `int` - at `$.Type`"),
    ("Instance.Provision", {}, "missing required field `Spec`"),
    ("Instance.Provision", {"Spec": []}, "Expected `object`, got `array` - at `$.Spec`"),
    ("Instance.Provision", {"Spec": {"Tags": []}}, "Expected `object | null`, got `array` - at `$.Spec.Tags`"),
    ("Instance.Provision", {"Spec": {"Tags": {"a": 1}}}, "Expected `str`, got `int` - at `$.Spec.Tags.a`"),
    ("Instance.Provision", {"Spec": {"Init": 7}}, "Expected `str`, got `int` - at `$.Spec.Init`"),
    ("Instance.Provision", {"Spec": {"LogicalID": 7}}, "Expected `str | null`, got `int` - at `$.Spec.LogicalID`"),
    ("Instance.Provision", {"Spec": {"Attachments": {}}}, "Expected `array | null`, got `object` - at `$.Spec.Attachments`"),
    ("Instance.Provision", {"Spec": {"Attachments": [{"Type": "x"}]}}, "missing required field `ID` - at `$.Spec.Attachments[0]`"),
    ("Instance.Provision", {"Spec": {"Attachments": [{"ID": 1}]}}, "Expected `str`, got `int` - at `$.Spec.Attachments[0].ID`"),
    ("Instance.Label", {"Labels": {}}, "missing required field `Instance`"),
    ("Instance.Label", {"Instance": 3}, "Expected `str`, got `int` - at `$.Instance`"),
    ("Instance.Label", {"Instance": "inst-1", "Labels": []}, "Expected `object | null`, got `array` - at `$.Labels`"),
    ("Instance.Label", {"Instance": "inst-1", "Labels": {"x y": False}}, 'Expected `str`, got `bool` - at `$.Labels["x y"]`'),
    ("Instance.Destroy", {"Instance": None}, "Expected `str`, got `null` - at `$.Instance`"),
    ("Instance.Destroy", {"Instance": "inst-1", "Context": "terminate"}, "Expected `object`, got `str` - at `$.Context`"),
    ("Instance.Destroy", {"Instance": "inst-1", "Context": {"Reason": 1}}, "Expected `str`, got `int` - at `$.Context.Reason`"),
    ("Instance.DescribeInstances", {"Tags": []}, "Expected `object | null`, got `array` - at `$.Tags`"),
    ("Instance.DescribeInstances", {"Tags": {"a": 1}}, "Expected `str`, got `int` - at `$.Tags.a`"),
    ("Instance.DescribeInstances", {"Properties": "yes"}, "Expected `bool`, got `str` - at `$.Properties`"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "params", "message"), PARAMS_CASES)
async def test_params_of_the_wrong_type_name_the_field(
    daemon: tuple[Path, MemoryPlugin], method: str, params: Any, message: str
) -> None:
    answer = await expect_error(daemon[0], rpc(method, params), BAD_PARAMS, message)
    assert answer["error"]["message"].startswith("invalid params: ")


async def test_unknown_type_is_the_go_no_plugin_error(daemon: tuple[Path, MemoryPlugin]) -> None:
    await expect_error(daemon[0], rpc("Instance.Validate", {"Type": "x"}), SERVER, "no-plugin:x")


async def test_unknown_members_are_ignored_like_go_does(daemon: tuple[Path, MemoryPlugin]) -> None:
    request = {"jsonrpc": "2.0", "method": "Instance.DescribeInstances", "id": 9, "extra": 1,
               "params": {"Tags": {"keep": "me"}, "Future": [1, 2]}}  # fmt: skip
    status, answer = await post(daemon[0], json.dumps(request))
    assert status == 200
    assert [d["ID"] for d in json.loads(answer)["result"]["Descriptions"]] == ["inst-1"]


@pytest.mark.parametrize("request_id", ["abc", 0, -5, 12345678901234567890123, 1.5, None])
async def test_every_id_type_comes_back_as_sent(
    daemon: tuple[Path, MemoryPlugin], request_id: Any
) -> None:
    status, answer = await post(daemon[0], rpc("Handshake.Implements", {}, request_id))
    assert status == 200
    assert json.loads(answer)["id"] == request_id


async def test_a_notification_gets_no_answer(daemon: tuple[Path, MemoryPlugin]) -> None:
    notification = {"jsonrpc": "2.0", "method": "Instance.DescribeInstances", "params": {}}
    status, answer = await post(daemon[0], json.dumps(notification))
    assert (status, answer) == (204, b"")


async def test_a_mixed_batch_answers_each_request(daemon: tuple[Path, MemoryPlugin]) -> None:
    batch = [
        {"jsonrpc": "2.0", "method": "Instance.DescribeInstances", "params": {}, "id": "ok"},
        {"jsonrpc": "2.0", "method": "Instance.Nope", "id": "missing"},
        7,
        {"jsonrpc": "2.0", "method": "Instance.Label", "params": {"Instance": 1}, "id": "bad"},
        {"jsonrpc": "2.0", "method": "Instance.DescribeInstances", "params": {}},
    ]
    status, answer = await post(daemon[0], json.dumps(batch))
    assert status == 200
    answers = json.loads(answer)
    assert len(answers) == 4  # the notification gets none
    by_id = {a["id"]: a for a in answers}
    assert [d["ID"] for d in by_id["ok"]["result"]["Descriptions"]] == ["inst-1"]
    assert by_id["missing"]["error"]["code"] == NO_METHOD
    assert by_id["bad"]["error"]["code"] == BAD_PARAMS
    assert by_id[None]["error"]["code"] == INVALID_REQUEST


async def test_a_batch_of_notifications_gets_no_answer(daemon: tuple[Path, MemoryPlugin]) -> None:
    batch = [{"jsonrpc": "2.0", "method": "Handshake.Hello"}] * 3
    assert await post(daemon[0], json.dumps(batch)) == (204, b"")


async def test_a_huge_body_is_refused_with_a_clear_error(
    daemon: tuple[Path, MemoryPlugin],
) -> None:
    body = rpc("Instance.Validate", {"Properties": {"blob": "x" * 300_000}})
    await expect_error(daemon[0], body, INVALID_REQUEST, "larger than the limit", status=413)


@pytest.mark.parametrize("size", [1025, 1024])
async def test_a_body_that_comes_whole_with_its_head_is_held_to_the_limit(
    sock_dir: Path, size: int
) -> None:
    # One small write of head and body: the daemon finds the body complete when the request
    # starts and takes it from the buffer, where read()'s own size check does not apply.
    padding = size - len(rpc("Instance.Validate", {"Properties": {"blob": ""}}))
    body = rpc("Instance.Validate", {"Properties": {"blob": "x" * padding}}).encode()
    assert len(body) == size
    head = (
        f"POST / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: {size}\r\n\r\n"
    ).encode()
    async with running_server(MemoryPlugin(), sock_dir / "small", max_body=1024) as path:
        reader, writer = await asyncio.open_unix_connection(str(path))
        try:
            writer.write(head + body)
            answer = await reader.read()  # to the end: the daemon closes after its answer
        finally:
            writer.close()
    if size > 1024:
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
        assert b"larger than the limit of 1024 bytes" in answer
    else:
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
        assert answer.endswith(b'{"result":{"Type":"","OK":true},"id":1,"jsonrpc":"2.0"}')


async def test_an_oversized_batch_is_refused(sock_dir: Path) -> None:
    from instance_rpc import InstanceService, PluginServer

    server = PluginServer(InstanceService({"": MemoryPlugin()}, max_batch=3), sock_dir / "b")
    async with server:
        batch = json.dumps([{"jsonrpc": "2.0", "method": "Handshake.Hello", "id": 1}] * 4)
        await expect_error(server.socket_path, batch, INVALID_REQUEST, "limit of 3")


@pytest.mark.parametrize(
    ("method", "path", "allow", "message"),
    [
        (
            "GET",
            "/",
            "POST",
            "GET /: no such document (documents: /info/api.json, /info/functions.json, /metrics)",
        ),
        ("GET", "/info/nothing", "POST", "GET /info/nothing: no such document"),
        ("GET", "/info/api.json/", "POST", "no such document"),
        ("PUT", "/", "POST", "method PUT not allowed on /; allowed: POST"),
        ("DELETE", "/info/api.json", "GET, HEAD, POST", "allowed: GET, HEAD, POST"),
        ("PATCH", "/rpc", "POST", "method PATCH not allowed on /rpc"),
        ("OPTIONS", "/info/api.json", "GET, HEAD, POST", "method OPTIONS not allowed"),
    ],
)
async def test_a_method_a_path_does_not_take_is_405_with_allow(
    daemon: tuple[Path, MemoryPlugin], method: str, path: str, allow: str, message: str
) -> None:
    status, headers, answer = await exchange(daemon[0], b"", method=method, path=path)
    assert (status, headers["Allow"]) == (405, allow)
    error = json.loads(answer)["error"]
    assert error["code"] == INVALID_REQUEST
    assert message in error["message"]


@pytest.mark.parametrize("path", ["/", "/info", "/metrics/x"])
async def test_head_of_a_path_that_is_no_document_is_405(
    daemon: tuple[Path, MemoryPlugin], path: str
) -> None:
    status, headers, answer = await exchange(daemon[0], b"", method="HEAD", path=path)
    assert (status, headers["Allow"], answer) == (405, "POST", b"")
    assert headers["Content-Type"].startswith("application/json")


async def test_documents_take_get_and_head(daemon: tuple[Path, MemoryPlugin]) -> None:
    status, headers, body = await exchange(daemon[0], b"", method="GET", path="/info/api.json")
    assert status == 200
    assert {"Name": "Instance", "Version": "0.6.0", "Sub": ""} in json.loads(body)["Implements"]
    status, head_headers, empty = await exchange(
        daemon[0], b"", method="HEAD", path="/info/api.json"
    )
    assert (status, empty) == (200, b"")
    assert head_headers["Content-Length"] == headers["Content-Length"] == str(len(body))


async def test_wrong_content_type_is_refused(daemon: tuple[Path, MemoryPlugin]) -> None:
    await expect_error(
        daemon[0],
        rpc("Handshake.Hello", {}),
        INVALID_REQUEST,
        "unsupported Content-Type 'application/x-www-form-urlencoded'",
        status=415,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


async def test_any_post_path_and_charset_are_accepted(daemon: tuple[Path, MemoryPlugin]) -> None:
    status, answer = await post(
        daemon[0],
        rpc("Handshake.Hello", {}),
        path="/rpc",
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert status == 200
    assert "Instance/0.6.1" in json.loads(answer)["result"]["Objects"]
