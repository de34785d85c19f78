"""The daemon's log lines: the per-call line, and the text or JSON format of every line.

The per-call line (INFO, logger ``instance_rpc.service``) reads, in text::

    Instance.Destroy type=. instance=inst-3 reason=terminate ok (0.3 ms)
    Instance.Provision type=. logical_id=web-1 error -32000: quota exceeded (1.2 ms)

A Destroy names its instance and its reason (``rolling_update``, ``terminate``), a Provision its
``LogicalID`` when it has one. Values a client chose are quoted as JSON strings unless they are
plain words, and control characters in an error message are escaped, so no value can forge a
second line or a field.

With ``--log-format json`` every line is one JSON object: ``time`` (ISO 8601, UTC), ``level``,
``logger``, ``message``, ``exception`` (a traceback, when there is one) and, on the per-call
line, ``method``, ``type``, ``outcome`` (``ok``, ``error``, or ``cancelled``: a WARNING line
for a call cut off before its answer, the daemon stopping), ``code`` and ``error`` (for an
error), ``duration_ms``, and ``instance`` / ``reason`` / ``logical_id`` as above. Every string
field is redacted (:func:`~instance_rpc.logs.redact`), as text lines are.
"""

from __future__ import annotations

import datetime
import functools
import logging
import re
import time
from collections.abc import Mapping
from typing import Any

import msgspec

from .log_output import TEXT_FORMAT, BufferedStreamHandler, TextFormatter, escape_controls
from .logs import REDACTED_MESSAGE, RedactingFilter, install_redaction, redact

__all__ = [
    "CALL_FIELDS",
    "LOG_FORMATS",
    "TEXT_FORMAT",
    "JsonFormatter",
    "configure_logging",
    "log_call",
]

LOG_FORMATS = ("text", "json")
CALL_FIELDS = "rpc_call"
"""The attribute of a per-call record holding its fields (``extra={CALL_FIELDS: {...}}``)."""

_PLAIN = re.compile(r"[\w.:/@+-]+")
_ENCODER = msgspec.json.Encoder()


_KEPT = 256
"""Shown values (type names, mostly) and redacted heads kept, so the common ones cost a lookup."""


@functools.lru_cache(maxsize=_KEPT)
def _shown(value: str) -> str:
    """``value`` as it appears in a text line: bare if a plain word, else a JSON string."""
    if _PLAIN.fullmatch(value):
        return value
    return escape_controls(_ENCODER.encode(value).decode())


@functools.lru_cache(maxsize=_KEPT)
def _redacted_head(head: str) -> str:
    """``redact(head)``, kept for the lines of successful calls, most of which repeat one head.

    Redacting a head alone gives what redacting the whole line gives: the duration after it,
    `` (0.3 ms)``, holds no secret word and no quote, and its space and parenthesis end or
    refuse every value a redaction pattern takes; the head's quotes and brackets are all inside
    whole JSON strings (:func:`_shown`), so no value in it runs on to the line's end."""
    return redact(head)


def log_call(
    logger: logging.Logger,
    method: str,
    type_name: str,
    code: int | None,
    error: str,
    seconds: float,
    details: Mapping[str, str] | None = None,
    *,
    cancelled: bool = False,
) -> None:
    """Log the per-call line at INFO: ``code`` ``None`` for success, else the error answered
    with its ``error`` message; ``details`` (instance, reason, logical_id) in the given order.
    A call ``cancelled`` before its answer (the daemon stopping) is a WARNING, ``cancelled``.

    The line is made here, once, and redacted (:func:`~instance_rpc.logs.redact`, all but the
    duration, see :func:`_redacted_head`), so the handler's filter passes it as it is."""
    level, levelname, outcome = logging.INFO, "INFO", "ok"
    if cancelled:
        level, levelname, outcome = logging.WARNING, "WARNING", "cancelled"
    if logger.disabled or not logger.isEnabledFor(level):
        return  # what logger.log would do with it
    elapsed_ms = seconds * 1000
    shown = "".join(f" {k}={_shown(v)}" for k, v in details.items()) if details else ""
    head = f"{method} type={_shown(type_name)}{shown}"
    if cancelled:
        message = _redacted_head(f"{head} cancelled")
    elif code is None:
        message = _redacted_head(f"{head} ok")
    else:
        outcome = "error"
        message = redact(f"{head} error {code}: {escape_controls(error)}")
    message = f"{message} ({elapsed_ms:.1f} ms)"
    direct = _direct_handler(logger)
    if direct is not None and isinstance(direct.formatter, TextFormatter):
        line = direct.formatter.format_line(time.time(), levelname, logger.name, message)
        direct.emit_line(line, level)
        return
    fields: dict[str, Any] = {
        "method": method,
        "type": type_name,
        "outcome": outcome,
        "duration_ms": round(elapsed_ms, 3),
    }
    if code is not None:
        fields["code"] = code
        fields["error"] = error
    if details:
        fields.update(details)
    if direct is None:
        logger.log(level, message, extra={CALL_FIELDS: fields, REDACTED_MESSAGE: True})
        return
    formatter = direct.formatter
    assert isinstance(formatter, JsonFormatter)
    text = formatter.format_fields(time.time(), levelname, logger.name, message, fields, None)
    direct.emit_line(text, level)


def _direct_handler(logger: logging.Logger) -> BufferedStreamHandler | None:
    """The one handler that would see an INFO record of ``logger``, when nothing but it could
    observe the record: no filter on the way, no other handler, our own formatter, the standard
    record factory. The per-call line is then formatted and queued directly, as the handler
    would have written it, without building a record (``None``: log it the standard way)."""
    if logging.getLogRecordFactory() is not logging.LogRecord:
        return None
    found: BufferedStreamHandler | None = None
    node: logging.Logger | None = logger
    while node is not None:
        if node.filters:
            return None
        for handler in node.handlers:
            if (
                found is not None
                or type(handler) is not BufferedStreamHandler
                or handler.level > logging.INFO
                or type(handler.formatter) not in _DIRECT_FORMATTERS
                or not _ONLY_REDACTION.issuperset(map(type, handler.filters))
            ):
                return None
            found = handler
        node = node.parent if node.propagate else None
    return found


def _redacted(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring), every string field redacted."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, CALL_FIELDS, None)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        return self.format_fields(
            record.created,
            record.levelname,
            record.name,
            record.getMessage(),
            fields if isinstance(fields, dict) else None,
            record.exc_text,
        )

    def format_fields(
        self,
        created: float,
        levelname: str,
        name: str,
        message: str,
        fields: dict[str, Any] | None,
        exception: str | None,
    ) -> str:
        """The line :meth:`format` gives a record of these fields (``created``: ``time.time()``;
        ``fields``: the per-call fields; ``exception``: traceback text)."""
        document: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": levelname,
            "logger": name,
            "message": message,
        }
        if fields:
            document.update(fields)
        if exception:
            document["exception"] = exception
        redacted = {key: _redacted(value) for key, value in document.items()}
        # JSON escapes C0 controls; C1 controls and U+2028/U+2029 are escaped here.
        return escape_controls(_ENCODER.encode(redacted).decode())


_DIRECT_FORMATTERS = (TextFormatter, JsonFormatter)
_ONLY_REDACTION = frozenset({RedactingFilter})


def configure_logging(level: str, log_format: str = "text") -> None:
    """Log to stderr at ``level`` in ``log_format`` (``text`` or ``json``), secrets redacted.

    For the ``serve`` command: it sets up the root logger. Raises ``ValueError`` for an unknown
    format.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}: {log_format!r}")
    # Neither format shows thread, process or source line: skip gathering them for each record
    # (the switches the logging documentation gives for this).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    handler = BufferedStreamHandler()
    formatter = JsonFormatter() if log_format == "json" else TextFormatter()
    handler.setFormatter(formatter)
    logging.basicConfig(level=level.upper(), handlers=[handler])
    install_redaction()
