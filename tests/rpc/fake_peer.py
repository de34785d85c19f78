"""A plugin stand-in on a real Unix socket that hangs up at chosen points of a call.

It serves from a thread of its own with plain blocking sockets, so it reads exactly the bytes a
test asks for (a request left unread stays in the kernel's queue) and acts while the test's own
event loop is blocked, as a busy client's loop would be.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import msgspec

HELLO = {"Objects": {"Instance/0.6.1": [{"Name": ".", "ProxyFor": ""}]}}
RESULTS: dict[str, Any] = {
    "Handshake.Hello": HELLO,
    "Instance.Provision": {"ID": "inst-1"},
    "Instance.DescribeInstances": {"Descriptions": []},
}


def standard_answer(method: str, request_id: Any) -> bytes:
    """A JSON-RPC 2.0 success as our daemon writes it."""
    result = RESULTS.get(method, {"OK": True})
    return msgspec.json.encode({"jsonrpc": "2.0", "result": result, "id": request_id})


class Act(Enum):
    ANSWER = "answer the request; keep the connection"
    ANSWER_THEN_CLOSE = "answer, then close the idle connection (sets idle_closed)"
    CLOSE_UNREAD = "read one byte of the request, close with the rest unread"
    CLOSE_UNANSWERED = "read the whole request, close without answering"
    CLOSE_MID_ANSWER = "read the whole request, send half the answer, close"


class FakePeer:
    """Serves ``path``; the n-th request (over all connections) gets ``script[n]``, later ones
    :attr:`Act.ANSWER`. ``methods`` lists the requests read whole, in order."""

    def __init__(
        self,
        path: Path,
        script: list[Act] | None = None,
        answer: Callable[[str, Any], bytes] = standard_answer,
    ) -> None:
        self.path = path
        self.script = list(script or [])
        self.answer = answer
        self.methods: list[str] = []
        self.idle_closed = threading.Event()
        self._listener = socket.socket(socket.AF_UNIX)
        self._listener.bind(str(path))
        self._listener.listen()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FakePeer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=10)
        self.path.unlink(missing_ok=True)

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed by __exit__
            with connection:
                self._converse(connection)

    def _converse(self, connection: socket.socket) -> None:
        while True:
            act = self.script.pop(0) if self.script else Act.ANSWER
            if act is Act.CLOSE_UNREAD:
                connection.recv(1)
                return
            request = _read_request(connection)
            if request is None:
                return
            self.methods.append(request["method"])
            if act is Act.CLOSE_UNANSWERED:
                return
            response = _http_response(self.answer(request["method"], request.get("id")))
            if act is Act.CLOSE_MID_ANSWER:
                connection.sendall(response[: len(response) // 2])
                return
            connection.sendall(response)
            if act is Act.ANSWER_THEN_CLOSE:
                connection.close()
                self.idle_closed.set()
                return


def _read_request(connection: socket.socket) -> dict[str, Any] | None:
    """One HTTP request's JSON body, reading no byte beyond it; None at end of stream."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = connection.recv(1)
        if not byte:
            return None
        head += byte
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = b""
    while len(body) < length:
        chunk = connection.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    decoded: dict[str, Any] = msgspec.json.decode(body)
    return decoded


def _http_response(body: bytes) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


@contextlib.contextmanager
def fake_peer(
    path: Path, *script: Act, answer: Callable[[str, Any], bytes] = standard_answer
) -> Iterator[FakePeer]:
    with FakePeer(path, list(script), answer) as peer:
        yield peer
