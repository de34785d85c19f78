"""Writing log lines cheaply: a cached timestamp, a text formatter without ``%`` templates, and a
stream handler that writes the lines of up to 50 ms at once instead of once per line.

:class:`TextFormatter` gives what ``logging.Formatter(TEXT_FORMAT)`` gives
(``2026-11-30 17:02:41,222 INFO name: message``, then the traceback and stack, if any), with the
date part made by ``strftime`` once per second and the whole timestamp reused within a millisecond,
and with control characters in the message and in exception messages escaped
(:func:`escape_controls`): whoever logged it, a newline in a value cannot forge a line.

:class:`BufferedStreamHandler` collects the lines logged on a thread running an event loop and
writes them together from a callback the first of them schedules ``flush_interval`` seconds
later (:data:`FLUSH_INTERVAL`, 50 ms; 0: at the end of the loop iteration). A WARNING or worse, a
line from any other thread or with no loop running, a ``flush()``, ``close()``,
:func:`logging.shutdown` (which runs at exit, an uncaught exception's included) and
:func:`flush_logs` write everything pending at once, in the order logged. The
handler's lock orders lines from every thread, so none is lost, reordered or split.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

__all__ = [
    "FLUSH_INTERVAL",
    "TEXT_FORMAT",
    "BufferedStreamHandler",
    "TextFormatter",
    "escape_controls",
    "escape_exception_values",
    "flush_logs",
]

FLUSH_INTERVAL = 0.05
"""Seconds a line logged on an event loop may wait to be written with the lines after it."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""C0 and C1 control characters, DEL, and the Unicode line and paragraph separators: every
character that can end a line (``str.splitlines``) or drive a terminal."""
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(found: re.Match[str]) -> str:
    character = found.group()
    return _SHORT_ESCAPES.get(character) or f"\\u{ord(character):04x}"


def escape_controls(text: str) -> str:
    """``text`` with each control character (see :data:`_CONTROL`) written as a JSON escape
    (``\\n``, ``\\u001b``), so that no value can forge a line or drive a terminal. Inside a
    JSON string the result stays valid JSON with the same value."""
    if text.isprintable():  # no control character (and no other non-printable one)
        return text
    return _CONTROL.sub(_escape, text)


def escape_exception_values(text: str, error: BaseException | None) -> str:
    """A formatted traceback ``text`` of ``error`` with the control characters of each
    exception's message in the chain (its notes included) escaped: the traceback's own lines
    stay lines, a message cannot add one."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        try:
            values = [str(error), *map(str, getattr(error, "__notes__", None) or ())]
        except Exception:  # a __str__ that fails: the traceback says so already
            values = []
        for value in values:
            escaped = escape_controls(value)
            if escaped != value:
                text = text.replace(value, escaped)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return text


class TextFormatter(logging.Formatter):
    """``%(asctime)s %(levelname)s %(name)s: %(message)s`` as logging's own formatter writes it,
    asctime in its default form (``2026-11-30 17:02:41,222``, local time unless ``converter`` is
    changed), built without the generic ``%`` template or a ``strftime`` per record."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._second = -1
        self._date = ""
        self._stamp_key = (-1, -1.0)
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802  logging's name
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        return self._timestamp(record.created, record.msecs)

    def format_line(self, created: float, levelname: str, name: str, message: str) -> str:
        """The line :meth:`format` gives a record of these fields (``created``: ``time.time()``)
        with no traceback or stack."""
        msecs = int((created - int(created)) * 1000) + 0.0  # as logging.LogRecord computes it
        stamp = self._stamp if self._stamp_key == (int(created), msecs) else None
        if stamp is None:
            stamp = self._timestamp(created, msecs)
        return f"{stamp} {levelname} {name}: {message}"

    def _timestamp(self, created: float, msecs: float) -> str:
        second = int(created)
        key = (second, msecs)
        if key == self._stamp_key:
            return self._stamp
        if second != self._second:
            self._date = time.strftime(self.default_time_format, self.converter(second))
            self._second = second
        stamp = f"{self._date},{int(msecs):03d}"
        self._stamp_key, self._stamp = key, stamp
        return stamp

    def formatException(  # noqa: N802  logging's name
        self,
        ei: tuple[type[BaseException], BaseException, TracebackType | None]
        | tuple[None, None, None],
    ) -> str:
        """The traceback as logging writes it, control characters in messages escaped."""
        return escape_exception_values(super().formatException(ei), ei[1])

    def format(self, record: logging.LogRecord) -> str:
        message = record.message = record.getMessage()
        asctime = record.asctime = self.formatTime(record)
        if not message.isprintable():
            message = escape_controls(message)
        text = f"{asctime} {record.levelname} {record.name}: {message}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            exc_text = record.exc_text
            if record.exc_info:  # formatted by someone else, a filter say: escaped here
                exc_text = escape_exception_values(exc_text, record.exc_info[1])
            text = f"{text}\n{exc_text}" if text[-1:] != "\n" else text + exc_text
        if record.stack_info:
            if text[-1:] != "\n":
                text += "\n"
            text += self.formatStack(record.stack_info)
        return text


# The private-looking getter is asyncio's documented fast path (no exception when none runs).
_get_running_loop = asyncio._get_running_loop


class BufferedStreamHandler(logging.StreamHandler[TextIO]):
    """A :class:`logging.StreamHandler` (``stream``: default ``sys.stderr``) that writes the lines
    logged on an event loop within ``flush_interval`` seconds with one ``write`` (see the module
    docstring)."""

    def __init__(
        self, stream: TextIO | None = None, flush_interval: float = FLUSH_INTERVAL
    ) -> None:
        super().__init__(stream)
        self.flush_interval = flush_interval
        self._pending: list[str] = []
        self._scheduled_on: asyncio.AbstractEventLoop | None = None
        self._scheduled_from = 0  # the thread that scheduled it
        self._write_pending_soon: Callable[[], None] = self._write_scheduled

    def emit(self, record: logging.LogRecord) -> None:
        # Runs under the handler's lock (logging.Handler.handle takes it).
        try:
            line = self.format(record) + self.terminator
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
            return
        self._queue(line, record.levelno, record)

    def emit_line(self, line: str, levelno: int) -> None:
        """Write ``line`` (formatted already, without the terminator) as :meth:`emit` writes a
        record's: for a caller that made the line itself (see
        :func:`~instance_rpc.log_format.log_call`)."""
        lock = self.lock  # the handler's lock, as acquire() takes it, without two more calls
        if lock is None:
            self._queue(line + self.terminator, levelno, None)
            return
        with lock:
            self._queue(line + self.terminator, levelno, None)

    def _queue(self, line: str, levelno: int, record: logging.LogRecord | None) -> None:
        self._pending.append(line)
        if levelno >= logging.WARNING:
            self._write_pending(record)
            return
        scheduled_on = self._scheduled_on
        if (
            scheduled_on is not None
            and self._scheduled_from == threading.get_ident()
            and scheduled_on.is_running()
        ):
            # The loop running on this thread has a write of the pending lines on its way
            # (found without asyncio's running-loop getter, which costs a system call).
            return
        loop = _get_running_loop()
        if loop is None:
            self._write_pending(record)
        elif self._scheduled_on is not loop:
            if self.flush_interval > 0:
                loop.call_later(self.flush_interval, self._write_pending_soon)
            else:
                loop.call_soon(self._write_pending_soon)
            self._scheduled_on = loop
            self._scheduled_from = threading.get_ident()

    def flush(self) -> None:
        """Write every pending line and flush the stream."""
        self.acquire()
        try:
            self._write_pending(None)
            super().flush()
        finally:
            self.release()

    def close(self) -> None:
        self.flush()
        super().close()

    def _write_scheduled(self) -> None:
        self.acquire()
        try:
            self._scheduled_on = None
            self._write_pending(None)
        finally:
            self.release()

    def _write_pending(self, record: logging.LogRecord | None) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        try:
            self.stream.write("".join(pending))
            self.stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record or _lost_record(len(pending)))


def _lost_record(lines: int) -> logging.LogRecord:
    """What ``handleError`` reports when a batch of buffered lines could not be written."""
    message = "%d buffered lines"
    return logging.LogRecord(__name__, logging.ERROR, __file__, 0, message, (lines,), None)


def flush_logs() -> None:
    """Write every line a :class:`BufferedStreamHandler` holds, of any logger, now.

    For a process about to end without running ``atexit`` (``os._exit``); a normal exit and an
    uncaught exception flush through :func:`logging.shutdown`."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if isinstance(handler, BufferedStreamHandler):
                handler.flush()
