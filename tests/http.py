"""Raw HTTP over a Unix socket, for tests that send exactly the bytes they mean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp


async def post(
    socket_path: Path,
    body: bytes | str,
    *,
    path: str = "/",
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """Send ``body`` and return the status and the raw answer."""
    status, _, answer = await exchange(socket_path, body, path=path, method=method, headers=headers)
    return status, answer


async def exchange(
    socket_path: Path,
    body: bytes | str,
    *,
    path: str = "/",
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Send ``body`` and return the status, the response headers and the raw answer."""
    data = body.encode() if isinstance(body, str) else body
    sent_headers = {"Content-Type": "application/json"} if headers is None else headers
    connector = aiohttp.UnixConnector(path=str(socket_path))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.request(method, f"http://h{path}", data=data, headers=sent_headers) as response,
    ):
        return response.status, dict(response.headers), await response.read()


async def call(socket_path: Path, method: str, params: Any, request_id: Any = 1) -> Any:
    """A JSON-RPC call whose answer is returned parsed (result or error object)."""
    import json

    request = {"jsonrpc": "2.0", "method": method, "params": params, "id": request_id}
    status, answer = await post(socket_path, json.dumps(request))
    assert status == 200, answer
    return json.loads(answer)
