"""No log line can be forged: control characters are escaped by the formatters, whoever logged
them (the daemon, a backend, a traceback), in the text and the JSON format."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from pathlib import Path

import pytest

from instance_rpc import PluginClient, Spec
from instance_rpc.errors import PluginError
from instance_rpc.observability.log_format import JsonFormatter
from instance_rpc.observability.log_output import BufferedStreamHandler, TextFormatter
from instance_rpc.observability.logs import RedactingFilter
from instance_rpc.types import Context
from tests.daemon import running_daemon

FORGED = "2026-12-06 04:00:00,000 ERROR instance_rpc.server: forged"
HOSTILE = [f"x\n{FORGED}", f"x\r{FORGED}", f"x\x85{FORGED}", f"x\u2028{FORGED}", "x\x1b[2J"]
TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ")


async def _hostile_calls(path: Path) -> None:
    async with PluginClient(path) as client:
        instance = await client.provision(Spec(init="exec sleep 30"))
        assert instance is not None
        for value in HOSTILE:
            with pytest.raises(PluginError):  # no such instance: logged by the backend first
                await client.destroy(value, Context(reason="terminate"))
        await client.destroy(instance, Context(reason=HOSTILE[0]))


def _lines(log: str) -> list[str]:
    # str.splitlines splits at every character a viewer may take as a line's end.
    return log.splitlines()


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_backends_lines_cannot_be_forged(sock_dir: Path, log_format: str) -> None:
    path = sock_dir / "esc.sock"
    args = ("--socket", str(path), "--plugin", "process", "--dir", str(sock_dir / "state"))
    with running_daemon(*args, "--log-format", log_format) as daemon:
        asyncio.run(_hostile_calls(path))
        log = daemon.stop()
    # The hostile reason reached the log, its newline escaped (once by the backend's %r, and
    # once more by the JSON encoder in JSON lines).
    assert re.search(r"x\\+n2026-12-06", log), log
    assert "\x1b" not in log
    lines = _lines(log)
    assert lines
    for line in lines:
        if log_format == "text":
            assert TEXT_LINE.match(line), line
            assert not line.startswith(FORGED), line
        else:
            assert json.loads(line)["message"] != "forged"
    if log_format == "json":
        messages = [json.loads(line)["message"] for line in lines]
        # The value as the backend wrote it (its repr), no character lost.
        assert f"destroying {HOSTILE[2]!r}, reason: 'terminate'" in messages


def _formatted(formatter: logging.Formatter, log: logging.Logger) -> str:
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RedactingFilter())
    log.handlers = [handler]
    log.propagate = False
    try:
        log.warning("reason: %s", HOSTILE[0])
        try:
            raise ValueError(f"bad {HOSTILE[3]}")
        except ValueError as exc:
            try:
                raise RuntimeError(HOSTILE[1]) from exc
            except RuntimeError:
                log.exception("failed: %s", HOSTILE[2])
        handler.flush()
    finally:
        log.handlers = []
    return stream.getvalue()


def test_text_tracebacks_and_messages_keep_their_lines() -> None:
    text = _formatted(TextFormatter(), logging.getLogger("tests.escaping.text"))
    lines = _lines(text)
    assert lines[0].endswith("reason: x\\n" + FORGED)
    assert "RuntimeError: x\\r" + FORGED in text
    assert "ValueError: bad x\\u2028" + FORGED in text
    assert "failed: x\\u0085" + FORGED in text
    assert not [line for line in lines if line.startswith(FORGED)]


def test_json_lines_are_one_line_each_and_keep_the_values() -> None:
    text = _formatted(JsonFormatter(), logging.getLogger("tests.escaping.json"))
    lines = _lines(text)
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "reason: " + HOSTILE[0]
    assert second["message"] == "failed: " + HOSTILE[2]
    assert "\u2028" not in text
    assert "\x85" not in text
