"""The cheap log line: the same text as logging's Formatter, lines written once per loop
iteration, none lost at exit, none split or reordered across threads."""

from __future__ import annotations

import asyncio
import io
import logging
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from instance_rpc.log_format import JsonFormatter, _direct_handler, log_call
from instance_rpc.log_output import (
    FLUSH_INTERVAL,
    TEXT_FORMAT,
    BufferedStreamHandler,
    TextFormatter,
    escape_controls,
)
from instance_rpc.logs import RedactingFilter, redact

ROOT = Path(__file__).resolve().parents[2]


def _records() -> Iterator[logging.LogRecord]:
    """Records across second and millisecond boundaries, levels, arguments, tracebacks."""
    base = 1_795_000_000.0
    offsets = [0.0, 0.0004, 0.0009, 0.001, 0.2225, 0.9999, 1.0, 1.5, 59.999, 60.0, 3600.123]
    levels = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL]
    for index, offset in enumerate(offsets * 3):
        level = levels[index % len(levels)]
        record = logging.LogRecord(f"l.{index}", level, __file__, 1, "n=%d %s", (index, "x"), None)
        record.created = base + offset + index * 86_400 * 37  # other days, other DST offsets
        record.msecs = int((record.created - int(record.created)) * 1000) + 0.0
        if index % 4 == 1:
            try:
                raise ValueError(f"failure {index}")
            except ValueError:
                record.exc_info = sys.exc_info()
        if index % 7 == 3:
            record.stack_info = "Stack (most recent call last):\n  here"
        if index % 5 == 2:
            record.msg = "ends with a newline\n"
            record.args = ()
        yield record


def _copy(record: logging.LogRecord) -> logging.LogRecord:
    copied = logging.makeLogRecord(dict(record.__dict__))
    copied.exc_text = None
    return copied


def test_text_formatter_writes_what_logging_formatter_writes() -> None:
    """The same text, but for the control characters of the message, escaped."""
    ours, theirs = TextFormatter(), logging.Formatter(TEXT_FORMAT)
    compared = 0
    for record in _records():
        escaped = _copy(record)
        escaped.msg = escape_controls(escaped.getMessage())
        escaped.args = ()
        assert ours.format(_copy(record)) == theirs.format(escaped)
        compared += 1
    assert compared == 33


def _handler(
    flush_interval: float = 0,
) -> tuple[BufferedStreamHandler, io.StringIO, logging.Logger]:
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream, flush_interval)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(f"tests.log_output.{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers = [handler]
    return handler, stream, logger


async def test_lines_logged_on_the_loop_are_written_after_the_iteration() -> None:
    handler, stream, logger = _handler()
    try:
        for index in range(50):
            logger.info("line %d", index)
        assert stream.getvalue() == ""  # held until the loop turns
        await asyncio.sleep(0)
        assert stream.getvalue() == "".join(f"INFO line {i}\n" for i in range(50))
    finally:
        handler.close()


async def test_a_warning_writes_what_is_pending_first_at_once() -> None:
    handler, stream, logger = _handler()
    try:
        logger.info("before")
        logger.warning("trouble")
        assert stream.getvalue() == "INFO before\nWARNING trouble\n"
        logger.info("after")
        await asyncio.sleep(0)
        assert stream.getvalue().splitlines() == ["INFO before", "WARNING trouble", "INFO after"]
    finally:
        handler.close()


async def test_by_default_lines_are_written_together_within_the_flush_interval() -> None:
    handler, stream, logger = _handler(FLUSH_INTERVAL)
    try:
        started = time.monotonic()
        logger.info("first")
        await asyncio.sleep(0)
        logger.info("second")
        await asyncio.sleep(0)
        if time.monotonic() - started < FLUSH_INTERVAL:
            assert stream.getvalue() == ""  # still held: the interval has not passed
        await asyncio.sleep(FLUSH_INTERVAL * 2)  # the write is due after one interval
        assert stream.getvalue() == "INFO first\nINFO second\n"
    finally:
        handler.close()


def test_without_a_loop_each_line_is_written_at_once() -> None:
    handler, stream, logger = _handler()
    try:
        logger.info("alone")
        assert stream.getvalue() == "INFO alone\n"
    finally:
        handler.close()


async def test_lines_from_threads_are_whole_and_in_each_threads_order() -> None:
    handler, stream, logger = _handler()
    per_thread, threads = 500, 4

    def log_from(name: str) -> None:
        for index in range(per_thread):
            logger.info("%s %d %s", name, index, "x" * 200)

    try:
        workers = [
            asyncio.to_thread(log_from, f"thread-{n}") for n in range(threads)
        ]  # the loop logs too, between its iterations
        running = asyncio.gather(*workers)
        for index in range(per_thread):
            logger.info("%s %d %s", "loop", index, "x" * 200)
            if index % 10 == 0:
                await asyncio.sleep(0)
        await running
        await asyncio.sleep(0)
        lines = stream.getvalue().splitlines()
        assert len(lines) == per_thread * (threads + 1)
        seen: dict[str, list[int]] = {}
        for line in lines:
            level, name, number, filler = line.split(" ")
            assert (level, filler) == ("INFO", "x" * 200)
            seen.setdefault(name, []).append(int(number))
        assert all(indexes == list(range(per_thread)) for indexes in seen.values())
        assert len(seen) == threads + 1
    finally:
        handler.close()


async def test_close_writes_what_is_pending() -> None:
    handler, stream, logger = _handler()
    logger.info("last words")
    handler.close()
    assert stream.getvalue() == "INFO last words\n"


def _run(script: str) -> subprocess.CompletedProcess[str]:
    prelude = """
        import asyncio, logging, os
        from instance_rpc.log_format import configure_logging
        from instance_rpc.log_output import flush_logs
        configure_logging("info")
        log = logging.getLogger("child")
    """
    code = textwrap.dedent(prelude) + textwrap.dedent(script)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def _numbered(stderr: str) -> list[int]:
    return [int(line.rsplit(" ", 1)[1]) for line in stderr.splitlines() if "child: n " in line]


@pytest.mark.parametrize(
    ("ending", "returncode"),
    [
        ("return", 0),
        ("raise RuntimeError('handler crashed')", 1),
    ],
)
def test_every_line_reaches_stderr_when_the_process_ends(ending: str, returncode: int) -> None:
    completed = _run(f"""
        async def main():
            for index in range(1000):
                log.info("n %d", index)
            {ending}
        asyncio.run(main())
    """)
    assert completed.returncode == returncode
    assert _numbered(completed.stderr) == list(range(1000))
    if returncode:
        assert "RuntimeError: handler crashed" in completed.stderr


def test_flush_logs_writes_pending_lines_before_os_exit() -> None:
    completed = _run("""
        async def main():
            for index in range(100):
                log.info("n %d", index)
            flush_logs()
            os._exit(3)
        asyncio.run(main())
    """)
    assert completed.returncode == 3
    assert _numbered(completed.stderr) == list(range(100))


def _call_line(**call: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger(f"tests.log_output.call.{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers = [handler]
    arguments: dict[str, object] = {"code": None, "error": "", "seconds": 0.001, "details": None}
    arguments.update(call)
    log_call(logger, "Instance.Destroy", **arguments)  # type: ignore[arg-type]
    return stream.getvalue()


def test_the_call_lines_chosen_parts_are_redacted() -> None:
    line = _call_line(
        type_name="apiKey=k3y",
        code=-32000,
        error='bad {"password": "hunter2"}',
        details={"instance": "token=abc", "reason": "secret=s3"},
    )
    for secret in ("k3y", "hunter2", "abc", "s3"):
        assert secret not in line
    assert line.count("\n") == 1


def test_a_type_name_cannot_start_a_line_of_its_own() -> None:
    line = _call_line(type_name="x\n2026 ERROR forged", code=-32001, error="no such type")
    assert line.count("\n") == 1
    assert 'type="x\\n2026 ERROR forged" error -32001' in line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PASSWORD=x y", "PASSWORD=*** y"),
        ("Pa\u017f\u017fword=x y", "Pa\u017f\u017fword=*** y"),  # long s folds to s
        ("\u212aey=1 a", "\u212aey=1 a".replace("=1", "=***")),  # Kelvin sign folds to k
        ("AuThOrIzAtIoN='Bearer x' next", "AuThOrIzAtIoN=*** next"),
        ("plain words only", "plain words only"),
    ],
)
def test_the_quick_check_misses_no_case_variant(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_threads_log_through_the_same_handler_without_a_loop() -> None:
    handler, stream, logger = _handler()

    def log_from(name: int) -> None:
        for index in range(200):
            logger.info("t%d %d", name, index)

    try:
        workers = [threading.Thread(target=log_from, args=(n,)) for n in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert len(stream.getvalue().splitlines()) == 800
    finally:
        handler.close()


class _Frozen(logging.Filter):
    """Pins every record's time, so two lines logged apart in time can be compared."""

    def __init__(self, created: float) -> None:
        super().__init__()
        self.created = created

    def filter(self, record: logging.LogRecord) -> bool:
        record.created = self.created
        record.msecs = int((self.created - int(self.created)) * 1000) + 0.0
        return True


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()], ids=["text", "json"])
@pytest.mark.parametrize(
    "call",
    [
        {"code": None, "error": "", "details": None},
        {"code": -32000, "error": 'quota {"token": "t0k"}', "details": {"logical_id": "web 1"}},
    ],
    ids=["ok", "error"],
)
def test_the_direct_call_line_is_the_line_logging_writes(
    formatter: logging.Formatter, call: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    created = 1_795_000_000.123
    monkeypatch.setattr("instance_rpc.log_format.time.time", lambda: created)
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger(f"tests.log_output.direct.{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers = [handler]
    arguments = {"type_name": "", "seconds": 0.0012, **call}
    assert _direct_handler(logger) is handler
    log_call(logger, "Instance.Provision", **arguments)  # type: ignore[arg-type]
    logger.addFilter(_Frozen(created))  # a filter on the way: the standard path
    assert _direct_handler(logger) is None
    log_call(logger, "Instance.Provision", **arguments)  # type: ignore[arg-type]
    handler.flush()
    direct, standard = stream.getvalue().splitlines()
    assert direct == standard
    assert "t0k" not in direct


def test_the_call_line_takes_the_standard_path_when_anything_else_could_see_it() -> None:
    handler = BufferedStreamHandler(io.StringIO())
    handler.setFormatter(TextFormatter())
    parent = logging.getLogger("tests.log_output.paths")
    child = logging.getLogger("tests.log_output.paths.child")
    parent.propagate = False
    parent.handlers = [handler]
    try:
        assert _direct_handler(child) is handler
        parent.handlers = [handler, logging.StreamHandler(io.StringIO())]
        assert _direct_handler(child) is None  # a second handler
        parent.handlers = [handler]
        handler.setLevel(logging.WARNING)
        assert _direct_handler(child) is None  # the handler would drop it
        handler.setLevel(logging.NOTSET)
        handler.setFormatter(logging.Formatter("%(message)s"))
        assert _direct_handler(child) is None  # a formatter of somebody else's
        handler.setFormatter(TextFormatter())
        factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(lambda *a, **k: factory(*a, **k))
        try:
            assert _direct_handler(child) is None  # a record factory of somebody else's
        finally:
            logging.setLogRecordFactory(factory)
        assert _direct_handler(child) is handler
    finally:
        parent.handlers = []
