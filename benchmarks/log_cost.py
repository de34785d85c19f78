"""What the per-call log line costs, in one process: the line as ``serve`` writes it now, and as
logging's generic path wrote it before (``logging.Formatter(TEXT_FORMAT)`` with its ``strftime``
per record, the redacting filter merging every message and searching it with a case-insensitive
regex, one write and flush per line).

Both write to a file, as the benchmark's daemons write their stderr, from inside a running event
loop: ``per_iteration`` lines, then one loop iteration (the daemon at c=64 answers many calls per
iteration, at c=1 about one). The line as ``serve`` writes it now is written with the lines of up
to 50 ms (:data:`~instance_rpc.log_output.FLUSH_INTERVAL`), so for it the iterations matter
little; the line as before was written once per line. Each side keeps its best of alternating
rounds.
"""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from instance_rpc.cli import eventloop
from instance_rpc.observability.log_format import CALL_FIELDS, TEXT_FORMAT, log_call
from instance_rpc.observability.log_output import BufferedStreamHandler, TextFormatter
from instance_rpc.observability.logs import _SECRET_WORD, RedactingFilter, redact

__all__ = ["log_line_us_per_call"]

_DETAILS = {"instance": "inst-3", "reason": "terminate"}
LogCall = Callable[..., None]


def generic_log_call(
    logger: logging.Logger,
    method: str,
    type_name: str,
    code: int | None,
    error: str,
    seconds: float,
    details: Mapping[str, str] | None = None,
) -> None:
    """The per-call line as it was logged before: a ``%`` template merged by the handler."""
    elapsed_ms = seconds * 1000
    shown = "".join(f" {k}={v}" for k, v in details.items()) if details else ""
    outcome = "ok" if code is None else f"error {code}: {error}"
    fields: dict[str, Any] = {"method": method, "type": type_name, "outcome": "ok"}
    fields["duration_ms"] = round(elapsed_ms, 3)
    if details:
        fields.update(details)
    logger.info(
        "%s type=%s%s %s (%.1f ms)",
        method,
        type_name,
        shown,
        outcome,
        elapsed_ms,
        extra={CALL_FIELDS: fields},
    )


class RegexRedactingFilter(logging.Filter):
    """The redacting filter as it was: every merged message searched with the regex first."""

    _any_secret_word = re.compile(_SECRET_WORD, re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._any_secret_word.search(message) is not None:
            message = redact(message)
        record.msg, record.args = message, None
        return True


def _logger(name: str, handler: logging.Handler, redacting: logging.Filter) -> logging.Logger:
    handler.addFilter(redacting)
    logger = logging.getLogger(f"benchmarks.log_cost.{name}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers = [handler]
    return logger


async def _us_per_line(
    logger: logging.Logger, call: LogCall, lines: int, per_iteration: int
) -> float:
    started = time.perf_counter()
    for _ in range(lines // per_iteration):
        for _ in range(per_iteration):
            call(logger, "Instance.Destroy", ".", None, "", 0.000_3, _DETAILS)
        await asyncio.sleep(0)  # one loop iteration: the buffered lines are written
    for handler in logger.handlers:
        handler.flush()
    return (time.perf_counter() - started) * 1e6 / (lines // per_iteration * per_iteration)


def _as_serve_logs() -> dict[str, Any]:
    """Skip gathering what neither format shows, as ``configure_logging`` does; the old values."""
    switches = ("logThreads", "logProcesses", "logMultiprocessing", "_srcfile")
    old = {name: getattr(logging, name) for name in switches}
    for name in switches:
        setattr(logging, name, None if name == "_srcfile" else False)
    return old


async def _best_rounds(
    sides: list[tuple[str, logging.Logger, LogCall]],
    lines: int,
    rounds: int,
    per_iteration: tuple[int, ...],
) -> dict[str, float]:
    best: dict[str, float] = {}
    for _ in range(rounds):
        for count in per_iteration:
            for side, logger, call in sides:
                took = await _us_per_line(logger, call, lines, count)
                key = f"{side}, {count} per iteration"
                best[key] = min(best.get(key, float("inf")), round(took, 2))
    return best


def log_line_us_per_call(
    lines: int = 20_000, rounds: int = 5, per_iteration: tuple[int, ...] = (1, 64)
) -> dict[str, float]:
    """Microseconds per line, ``"now, N per iteration"`` and ``"before, N per iteration"`` for
    each N of ``per_iteration``: each side's best of ``rounds`` alternating rounds."""
    switches = _as_serve_logs()
    with (
        tempfile.TemporaryDirectory(prefix="instance-rpc-bench-") as scratch,
        open(Path(scratch, "now.log"), "w", encoding="utf-8") as now_file,
        open(Path(scratch, "before.log"), "w", encoding="utf-8") as before_file,
    ):
        now = BufferedStreamHandler(now_file)
        now.setFormatter(TextFormatter())
        before = logging.StreamHandler(before_file)
        before.setFormatter(logging.Formatter(TEXT_FORMAT))
        sides: list[tuple[str, logging.Logger, LogCall]] = [
            ("now", _logger("now", now, RedactingFilter()), log_call),
            ("before", _logger("before", before, RegexRedactingFilter()), generic_log_call),
        ]
        try:
            return eventloop.run(_best_rounds(sides, lines, rounds, per_iteration))
        finally:
            for _, logger, _ in sides:
                for handler in logger.handlers:
                    handler.close()
                logger.handlers = []
            for name, value in switches.items():
                setattr(logging, name, value)
