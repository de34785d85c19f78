"""--log-format text|json, read off a real daemon's stderr; the per-call line's details."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from instance_rpc import PluginClient, Spec
from instance_rpc.errors import PluginError
from instance_rpc.observability.log_format import JsonFormatter
from instance_rpc.types import ROLLING_UPDATE, TERMINATION
from tests.daemon import running_daemon


async def exercise(path: Path) -> str:
    """Provision (one with a LogicalID that looks secret), destroy twice, fail once."""
    async with PluginClient(path) as client:
        first = await client.provision(Spec(logical_id="web-1"))
        second = await client.provision(Spec(logical_id="apiToken=s3cret"))
        forged = await client.provision(Spec(logical_id="x\n2026 ERROR forged line"))
        assert first is not None
        assert second is not None
        assert forged is not None
        await client.destroy(first, ROLLING_UPDATE)
        await client.destroy(second, TERMINATION)
        with pytest.raises(PluginError):
            await client.destroy("gone", TERMINATION)
        with pytest.raises(PluginError):
            await client.destroy("x\n2026 ERROR forged by an ID", TERMINATION)
        return first


def daemon_log(sock_dir: Path, log_format: str) -> tuple[str, str]:
    path = sock_dir / f"{log_format}.sock"
    args = ("--socket", str(path), "--plugin", "memory", "--log-format", log_format)
    with running_daemon(*args) as daemon:
        first = asyncio.run(exercise(path))
        return first, daemon.stop()


def test_json_lines_carry_the_call_fields_redacted(sock_dir: Path) -> None:
    first, log = daemon_log(sock_dir, "json")
    records: list[dict[str, Any]] = [json.loads(line) for line in log.splitlines()]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    by_method: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        if "method" in record:
            by_method[record["method"]].append(record)

    provisions = by_method["Instance.Provision"]
    assert [p.get("logical_id") for p in provisions] == [
        "web-1",
        "apiToken=***",
        "x\n2026 ERROR forged line",
    ]
    assert all(p["outcome"] == "ok" and p["type"] == "." for p in provisions)
    assert all(isinstance(p["duration_ms"], float) for p in provisions)
    assert all(p["level"] == "INFO" and p["logger"] == "instance_rpc.service" for p in provisions)
    assert "s3cret" not in log

    destroys = by_method["Instance.Destroy"]
    assert [(d["instance"], d["reason"], d["outcome"]) for d in destroys] == [
        (first, "rolling_update", "ok"),
        ("inst-2", "terminate", "ok"),
        ("gone", "terminate", "error"),
        ("x\n2026 ERROR forged by an ID", "terminate", "error"),
    ]
    assert destroys[2]["code"] == -32000
    assert destroys[2]["error"] == "instance not found: gone"
    assert records[-1]["message"] == "stopping"


def test_text_lines_carry_reason_and_logical_id(sock_dir: Path) -> None:
    first, log = daemon_log(sock_dir, "text")
    assert f"Instance.Destroy type=. instance={first} reason=rolling_update ok (" in log
    assert "Instance.Destroy type=. instance=inst-2 reason=terminate ok (" in log
    assert (
        "Instance.Destroy type=. instance=gone reason=terminate "
        "error -32000: instance not found: gone (" in log
    )
    assert "Instance.Provision type=. logical_id=web-1 ok (" in log
    assert "s3cret" not in log
    # A client's value is quoted when it is not a plain word: it cannot start a line of its own.
    assert 'logical_id="x\\n2026 ERROR forged line" ok (' in log
    assert "error -32000: instance not found: x\\n2026 ERROR forged by an ID (" in log
    assert not any(line.startswith("2026 ERROR forged") for line in log.splitlines())


def test_json_formatter_redacts_every_field_and_the_traceback() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed: %s", ("ok",), None)
    try:
        raise ValueError("password=swordfish")
    except ValueError:
        record.exc_info = sys.exc_info()
    record.rpc_call = {"method": "m", "reason": "token=abc", "count": 3}
    document = json.loads(JsonFormatter().format(record))
    assert document["message"] == "failed: ok"
    assert document["reason"] == "token=***"
    assert document["count"] == 3
    assert "swordfish" not in document["exception"]
    assert "ValueError: password=***" in document["exception"]
    assert document["time"].endswith("+00:00")
