"""Generated input thrown at a real daemon: it always answers JSON-RPC, never a 500, never dies."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.daemon import Daemon, running_daemon, short_tmp_dir

METHODS = [
    "Instance.Validate",
    "Instance.Provision",
    "Instance.Label",
    "Instance.Destroy",
    "Instance.DescribeInstances",
    "Handshake.Implements",
    "Handshake.Types",
    "Handshake.Hello",
]
FIELDS = ["Type", "Spec", "Properties", "Tags", "Instance", "Labels", "Context", "Reason", "Init",
          "LogicalID", "Attachments", "ID"]  # fmt: skip

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)
requests = st.fixed_dictionaries(
    {"jsonrpc": st.sampled_from(["2.0", "2.0", "1.0"]) | json_values},
    optional={
        "method": st.sampled_from(METHODS) | json_values,
        "params": json_values,
        "id": st.integers() | st.text(max_size=5) | json_values,
    },
)
bodies = (
    requests.map(json.dumps)
    | st.lists(requests, max_size=4).map(json.dumps)
    | json_values.map(json.dumps)
    | st.binary(max_size=64).map(lambda b: b.decode("latin-1"))
)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("h", timeout=10)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(str(self.socket_path))


@pytest.fixture(scope="module")
def fuzzed_daemon() -> Iterator[Daemon]:
    with (
        short_tmp_dir() as directory,
        running_daemon(
            "--plugin", "memory", "--socket", str(directory / "fuzz.sock"), "--log-level", "error"
        ) as running,
    ):
        yield running
        assert running.process.poll() is None, "the daemon died"
        running.stop()
        assert not running.socket_path.exists()


def is_response(answer: Any) -> bool:
    if not isinstance(answer, dict) or answer.get("jsonrpc") != "2.0" or "id" not in answer:
        return False
    if ("result" in answer) == ("error" in answer):
        return False
    if "error" in answer:
        error = answer["error"]
        return isinstance(error.get("code"), int) and isinstance(error.get("message"), str)
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies)
def test_any_body_gets_a_json_rpc_answer(fuzzed_daemon: Daemon, body: str) -> None:
    connection = UnixHTTPConnection(fuzzed_daemon.socket_path)
    try:
        connection.request(
            "POST", "/", body=body.encode("utf-8", "surrogatepass"),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    assert response.status in (200, 204, 413), raw
    if response.status == 204:
        assert raw == b""
        return
    answer = json.loads(raw)
    assert "Traceback" not in raw.decode()
    if isinstance(answer, list):
        assert answer
        assert all(is_response(item) for item in answer), answer
    else:
        assert is_response(answer), answer
