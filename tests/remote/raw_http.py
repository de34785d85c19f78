"""Exact HTTP requests over TCP, sent by this process or by another local user."""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass

OTHER_USER = 65534
"""A local user other than the daemon's (``nobody``); the tests run as root."""

SYSTEM_PYTHON = "/usr/bin/python3"
"""A Python every user may run (the tests' own may live in a directory only root may enter)."""

_SEND = """
import socket, sys
host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
request = sys.stdin.buffer.read()
with socket.create_connection((host, port), timeout=10) as conn:
    conn.sendall(request)
    if mode == "hang-up":
        print(conn.getsockname()[1])
        sys.exit(0)
    answer = b""
    while chunk := conn.recv(65536):
        answer += chunk
sys.stdout.buffer.write(answer)
"""


@dataclass(frozen=True)
class Answer:
    status: int
    head: str
    body: bytes


def request_bytes(
    method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""
) -> bytes:
    """``METHOD PATH HTTP/1.1`` with exactly ``headers`` (in order), ``Content-Length`` when
    there is a body, ``Connection: close``, and ``body``."""
    lines = [f"{method} {path} HTTP/1.1", *(f"{name}: {value}" for name, value in headers)]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def parse_answer(answer: bytes) -> Answer:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0]
    return Answer(int(status_line.split()[1]), head.decode("latin-1"), body)


def send(host: str, port: int, request: bytes) -> Answer:
    """``request`` sent from this process; the whole answer (the daemon closes after it)."""
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return parse_answer(answer)


def get_unix(socket_path: str, path: str) -> Answer:
    """``GET path`` over the daemon's Unix socket (as the daemon's own user)."""
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(10)
        conn.connect(socket_path)
        conn.sendall(request_bytes("GET", path, [("Host", "h")]))
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return parse_answer(answer)


def _run_as(uid: int, host: str, port: int, request: bytes, mode: str) -> bytes:
    assert os.geteuid() == 0, "sending as another user needs root"
    done = subprocess.run(
        [SYSTEM_PYTHON, "-c", _SEND, host, str(port), mode],
        input=request,
        capture_output=True,
        timeout=30,
        check=True,
        user=uid,
        group=uid,
        extra_groups=[],
        cwd="/",
    )
    return done.stdout


def send_as(uid: int, host: str, port: int, request: bytes) -> Answer:
    """``request`` sent by a process of user ``uid`` (this process must be root)."""
    return parse_answer(_run_as(uid, host, port, request, "read"))


def hang_up_as(uid: int, host: str, port: int, request: bytes) -> int:
    """``request`` sent by a process of user ``uid``, which then closes its socket at once and
    exits; the port its end of the connection had."""
    return int(_run_as(uid, host, port, request, "hang-up"))
