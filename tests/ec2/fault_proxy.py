"""A fault-injecting HTTP proxy between the ec2 backend and moto's server, on its own thread
and event loop (so that tests blocked in a subprocess call do not stall it).

It keeps EC2's ClientToken contract, which moto does not (a repeated token makes a second
instance there): a RunInstances whose token was seen with the same parameters gets the first
answer again, with other parameters ``IdempotentParameterMismatch``. And on demand it:

- drops the connection instead of answering a successful (or replayed) RunInstances
  (``drop_runs`` times);
- hides new instances from every describe for ``hide_for`` seconds after their creation
  (eventual consistency: ``InvalidInstanceID.NotFound`` by ID, missing from listings);
- answers the next requests with an error (``fail``: ``RequestLimitExceeded`` or a 500);
- replays answers as if their instances were launched ``replay_age`` seconds ago (the token of
  an instance that ended long ago).

``calls`` records each request's (monotonic time, action), faults included.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from urllib.parse import parse_qsl

from aiohttp import ClientSession, web

from tests.ec2.api_server import free_port

__all__ = ["FaultProxy", "fault_proxy"]

_LAUNCH_TIME = re.compile(rb"<launchTime>[^<]*</launchTime>")
_INSTANCE_ID = re.compile(rb"<instanceId>(i-[0-9a-f]+)</instanceId>")


def _error(code: str, message: str, status: int) -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        f"<Code>{code}</Code><Message>{message}</Message></Error></Errors>"
        "<RequestID>proxy</RequestID></Response>"
    )
    return web.Response(status=status, body=body.encode(), content_type="text/xml")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _strip_hidden(body: bytes, hidden: set[str]) -> bytes:
    """A DescribeInstances answer less the hidden instances (and reservations left empty)."""
    root = ET.fromstring(body)
    for reservation_set in (e for e in root.iter() if _local(e.tag) == "reservationSet"):
        for reservation in list(reservation_set):
            for instances in (e for e in reservation if _local(e.tag) == "instancesSet"):
                for item in list(instances):
                    ids = [e.text for e in item if _local(e.tag) == "instanceId"]
                    if ids and ids[0] in hidden:
                        instances.remove(item)
                if len(instances) == 0:
                    reservation_set.remove(reservation)
    return ET.tostring(root)


class FaultProxy:
    """The proxy's faults and records; ``url`` is what the backend's endpoint is set to."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.url = ""
        self.drop_runs = 0
        self.hide_for = 0.0
        self.replay_age = 0.0
        self.forgotten: set[str] = set()
        """Instances never shown (ended long ago: the API lists them no more)."""
        self.calls: list[tuple[float, str]] = []
        self.dropped = 0
        self.replayed = 0
        self._failures: list[tuple[str | None, str, int]] = []
        self._created: dict[str, float] = {}
        self._tokens: dict[str, tuple[str, int, bytes]] = {}
        self._token_locks: dict[str, asyncio.Lock] = {}
        self._guard = threading.Lock()

    def fail(self, count: int, code: str = "RequestLimitExceeded", *, status: int = 503,
             action: str | None = None) -> None:  # fmt: skip
        """Answer the next ``count`` requests (of ``action``, or any) with ``code``."""
        with self._guard:
            self._failures.extend([(action, code, status)] * count)

    def counts(self) -> Counter[str]:
        return Counter(action for _, action in self.calls)

    def reset_calls(self) -> None:
        self.calls.clear()

    def _failure(self, action: str) -> tuple[str, int] | None:
        with self._guard:
            for index, (wanted, code, status) in enumerate(self._failures):
                if wanted is None or wanted == action:
                    del self._failures[index]
                    return code, status
        return None

    def _hidden(self) -> set[str]:
        now = time.monotonic()
        new = {i for i, t in self._created.items() if now - t < self.hide_for}
        return new | self.forgotten

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        action = params.get("Action", "")
        self.calls.append((time.monotonic(), action))
        failure = self._failure(action)
        if failure is not None:
            return _error(failure[0], "injected by the test proxy", failure[1])
        if action == "RunInstances" and params.get("ClientToken"):
            return await self._run_with_token(request, params, body)
        if action == "DescribeInstances":
            hidden = self._hidden()
            asked = {v for k, v in params.items() if k.startswith("InstanceId.")}
            if asked & hidden:
                return _error(
                    "InvalidInstanceID.NotFound",
                    f"The instance IDs '{', '.join(sorted(asked & hidden))}' do not exist",
                    400,
                )
            status, answer = await self._forward(request, body)
            if hidden and status == 200:
                answer = _strip_hidden(answer, hidden)
            return web.Response(status=status, body=answer, content_type="text/xml")
        status, answer = await self._forward(request, body)
        return web.Response(status=status, body=answer, content_type="text/xml")

    async def _run_with_token(
        self, request: web.Request, params: dict[str, str], body: bytes
    ) -> web.StreamResponse:
        token = params["ClientToken"]
        fingerprint = hashlib.sha256(
            repr(sorted((k, v) for k, v in params.items() if k != "ClientToken")).encode()
        ).hexdigest()
        lock = self._token_locks.setdefault(token, asyncio.Lock())
        async with lock:
            seen = self._tokens.get(token)
            if seen is not None:
                if seen[0] != fingerprint:
                    return _error(
                        "IdempotentParameterMismatch",
                        "client token reused with different parameters",
                        400,
                    )
                self.replayed += 1
                answer = seen[2]
                if self.replay_age:
                    then = datetime.datetime.now(datetime.UTC) - datetime.timedelta(
                        seconds=self.replay_age
                    )
                    stamp = then.strftime("%Y-%m-%dT%H:%M:%S.000Z").encode()
                    answer = _LAUNCH_TIME.sub(b"<launchTime>" + stamp + b"</launchTime>", answer)
                return self._dropped(request) or web.Response(
                    status=seen[1], body=answer, content_type="text/xml"
                )
            status, answer = await self._forward(request, body)
            if status == 200:
                self._tokens[token] = (fingerprint, status, answer)
                now = time.monotonic()
                for found in _INSTANCE_ID.findall(answer):
                    self._created[found.decode()] = now
                dropped = self._dropped(request)
                if dropped is not None:
                    return dropped
        return web.Response(status=status, body=answer, content_type="text/xml")

    def _dropped(self, request: web.Request) -> web.Response | None:
        """Drop the connection instead of a successful RunInstances answer, if asked."""
        if self.drop_runs <= 0:
            return None
        self.drop_runs -= 1
        self.dropped += 1
        assert request.transport is not None
        request.transport.abort()  # the instance exists; its answer is lost
        return web.Response(status=200)

    async def _forward(self, request: web.Request, body: bytes) -> tuple[int, bytes]:
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
        }
        async with self._session.post(self.upstream + request.path_qs, data=body,
                                      headers=headers) as answer:  # fmt: skip
            return answer.status, await answer.read()

    async def serve(self, ready: threading.Event, stop: asyncio.Event, host: str) -> None:
        self._session = ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port(host)
        await web.TCPSite(runner, host, port).start()
        self.url = f"http://{host}:{port}"
        ready.set()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()
            await self._session.close()


@contextlib.contextmanager
def fault_proxy(upstream: str, host: str = "127.0.0.1") -> Iterator[FaultProxy]:
    """A :class:`FaultProxy` in front of ``upstream``, on a thread of its own until exit."""
    proxy = FaultProxy(upstream)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(proxy.serve(ready, stop, host),), daemon=True
    )
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the fault proxy did not start")
    try:
        yield proxy
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
