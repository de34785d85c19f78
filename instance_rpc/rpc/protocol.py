"""JSON-RPC 2.0 over named methods: bytes in, bytes out, no transport, no Instance.

The envelope (:mod:`.envelope`) is parsed once, a single request or a batch; each request is
then dispatched by jsonrpcserver to a method body, which decodes its own params.

jsonrpcserver dispatches each request through its pure per-request steps, prepared once:
``get_method`` finds the method (or answers -32601) and ``call`` calls it with the :class:`Call`
as context, turning anything it raises into an error result. Its whole-body pipeline
(``dispatch_to_response``) is not used: the envelope is parsed already, and per call it would
rebuild partials and ``Either`` chains, bind the method's signature (our methods all take just
the context: params travel in the :class:`Call`) and convert namedtuples, about half the cost of a
small call. Its async dispatcher would also wrap every request in a task.

Dispatch is synchronous on purpose: the registered methods only *start* the call (a coroutine,
kept in the :class:`Call`) and return at once; the protocol then awaits it, counts it and logs
it, also for notifications, which get no response.

A method may return a :class:`~instance_rpc.rpc.streaming.StreamedResult` (a large answer produced
in pieces): :meth:`JsonRpcProtocol.respond` hands a single request's back as a
:class:`~instance_rpc.rpc.streaming.StreamedAnswer` to send as it is produced. A batch's answer is a
:class:`~instance_rpc.rpc.streaming.StreamedAnswer` too: its requests start at once, except those of
the methods answered in turn (DescribeInstances), each made when its answer is to be sent, so a
batch of them never holds more than one of their answers (JSON-RPC 2.0 section 6 lets a server
answer a batch's requests in any order and process them in any order).
:meth:`JsonRpcProtocol.handle` joins it.

Every failure becomes a JSON-RPC error object: errors a method raises as :class:`RPCError` with
their code, anything else as -32000 with its message. Tracebacks go to the log, never onto the wire.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from typing import Any

from jsonrpcserver import Success
from jsonrpcserver.dispatcher import call as call_method
from jsonrpcserver.dispatcher import get_method
from jsonrpcserver.request import Request
from jsonrpcserver.sentinels import NODATA, NOID
from msgspec import Raw
from oslash.either import Left

from ..errors import METHOD_NOT_FOUND, PARSE_ERROR, SERVER_ERROR, RPCError
from ..handshake import DEFAULT_TYPE_NAME
from ..observability.log_format import log_call
from ..observability.observe import CallObserver
from .envelope import (
    ENCODER,
    CheckedRequest,
    ErrorEnvelope,
    ErrorObject,
    RequestRejected,
    SuccessEnvelope,
    check_request,
    decode_request,
    error_bytes,
    error_object,
    parse_body,
)
from .streaming import StreamedAnswer, StreamedResult

__all__ = ["DEFAULT_MAX_BATCH", "Call", "JsonRpcProtocol", "MethodBody", "Result"]

logger = logging.getLogger("instance_rpc.protocol")

DEFAULT_MAX_BATCH = 1000
"""Most requests one batch may carry."""

Result = Any  # a method's result: the wire struct its response carries

_NO_PARAMS: list[Any] = []  # jsonrpcserver passes none: a method's params are in its Call
_STARTED = Success(None)  # what every method gives jsonrpcserver: the call is under way


async def _answered(answer: bytes) -> bytes:
    return answer


class Call:
    """One request's call: its raw params, the work its method started, and what the per-call
    log line reports besides the method (filled in as the call proceeds)."""

    __slots__ = ("details", "observer", "params", "pending", "type_name")

    def __init__(self, params: Raw | None, observer: CallObserver | None) -> None:
        self.params = params
        self.observer = observer
        self.pending: Awaitable[Any] | None = None
        self.type_name = ""
        self.details: dict[str, str] | None = None


MethodBody = Callable[[Raw | None, "Call"], Awaitable[Result]]
"""A method: its raw params (``None`` when absent) and the call -> the result to answer with."""


def _error_object(code: int, message: str, data: Any) -> ErrorObject:
    """An error jsonrpcserver itself answered with, its message made to name the problem."""
    data = None if data is NODATA else data
    if code == METHOD_NOT_FOUND:
        return error_object(code, f"method not found: {data}")
    return error_object(code, message, data)


class JsonRpcProtocol:
    """Answers JSON-RPC 2.0 bodies by calling ``methods`` (wire name -> body).

    ``max_batch``: most requests one batch may carry; a larger batch is refused as a whole.
    ``log``: the logger of the per-call line and of method failures (the application's, so that
    its name stays what operators filter on; default: this module's). ``answered_in_turn``:
    methods whose answers may be large; in a batch each of their calls is made only when the
    answers before it have been sent, so a batch holds one such answer at a time.
    """

    def __init__(
        self,
        methods: Mapping[str, MethodBody],
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        log: logging.Logger | None = None,
        answered_in_turn: Collection[str] = (),
    ) -> None:
        self.max_batch = max_batch
        self._in_turn = frozenset(answered_in_turn)
        self._log = log or logger
        self._methods: dict[str, Callable[[Call], Any]] = {
            name: self._wrap(name, body) for name, body in methods.items()
        }

    @property
    def method_names(self) -> list[str]:
        return sorted(self._methods)

    @staticmethod
    def error_body(code: int, message: str) -> bytes:
        """A JSON-RPC error response (id ``null``) for failures found before parsing."""
        return error_bytes(code, message)

    async def handle(self, body: bytes, observer: CallObserver | None = None) -> bytes | None:
        """Answer one HTTP body, a request or a batch; ``None`` means no response is due.

        ``observer`` is told of every call and refusal (the app's metrics).
        """
        answer = await self.respond(body, observer)
        return await answer.collect() if isinstance(answer, StreamedAnswer) else answer

    def respond(
        self, body: bytes, observer: CallObserver | None = None
    ) -> Awaitable[bytes | StreamedAnswer | None]:
        """As :meth:`handle`, but a single request's :class:`StreamedResult` comes back as a
        :class:`StreamedAnswer`, for the transport to send as it is produced. Await it.

        The body is parsed at once; a single well-formed request's answer is then the
        dispatch's own coroutine (one coroutine fewer per call than awaiting it here)."""
        try:
            parsed = parse_body(body, self.max_batch)
        except RequestRejected as exc:
            if observer is not None:
                observer.refused("bad_json" if exc.code == PARSE_ERROR else "invalid_request")
            return _answered(error_bytes(exc.code, exc.message))
        if isinstance(parsed, CheckedRequest):
            return self._dispatch(parsed, observer)
        if isinstance(parsed, dict):
            return self._handle_one(parsed, observer)
        return self._handle_batch(parsed, observer)

    async def _handle_batch(
        self, parsed: list[Raw], observer: CallObserver | None
    ) -> StreamedAnswer | None:
        entries: list[bytes | CheckedRequest | asyncio.Future[bytes | StreamedAnswer | None]] = []
        answered = False
        for item in parsed:
            checked = self._checked(item, observer)
            if isinstance(checked, bytes):
                entries.append(checked)
                answered = True
                continue
            answered = answered or checked.request_id is not None
            if checked.method in self._in_turn:
                entries.append(checked)
            else:
                entries.append(asyncio.ensure_future(self._dispatch(checked, observer)))
        pieces = self._batch_pieces(entries, observer)
        if not answered:  # notifications only: run them, answer nothing (section 6)
            async for _ in pieces:
                pass
            return None
        return StreamedAnswer(b"[", pieces, b"]")

    async def _batch_pieces(
        self,
        entries: list[bytes | CheckedRequest | asyncio.Future[bytes | StreamedAnswer | None]],
        observer: CallObserver | None,
    ) -> AsyncIterator[bytes]:
        """Each request's answer in the batch's order, the calls of methods answered in turn
        made only when their answer is asked for."""
        separator = b""
        for entry in entries:
            if isinstance(entry, bytes):
                answer: bytes | StreamedAnswer | None = entry
            elif isinstance(entry, CheckedRequest):
                answer = await self._dispatch(entry, observer)
            else:
                answer = await entry
            if answer is None:
                continue
            if isinstance(answer, StreamedAnswer):
                parts = answer.parts()
                yield separator + await anext(parts)
                async for part in parts:
                    yield part
            else:
                yield separator + answer
            separator = b","

    def _checked(self, item: Raw, observer: CallObserver | None) -> bytes | CheckedRequest:
        """A batch's request checked, or the error answer it gets."""
        try:
            return check_request(decode_request(item))
        except RequestRejected as exc:
            if observer is not None:
                observer.refused("invalid_request")
            return error_bytes(exc.code, exc.message, exc.request_id)

    async def _handle_one(
        self, request: dict[str, Raw], observer: CallObserver | None
    ) -> bytes | StreamedAnswer | None:
        try:
            checked = check_request(request)
        except RequestRejected as exc:
            if observer is not None:
                observer.refused("invalid_request")
            return error_bytes(exc.code, exc.message, exc.request_id)
        return await self._dispatch(checked, observer)

    async def _dispatch(
        self, checked: CheckedRequest, observer: CallObserver | None
    ) -> bytes | StreamedAnswer | None:
        call = Call(checked.params, observer)
        found = get_method(self._methods, checked.method)
        if isinstance(found, Left):
            if observer is not None:
                observer.count_call(checked.method, call.type_name, found._error.code)
            result = found
        else:
            request_id = NOID if checked.request_id is None else checked.request_id
            dispatched = Request(checked.method, _NO_PARAMS, request_id)
            result = call_method(dispatched, call, found._value)
        pending = call.pending
        outcome: Any = None
        if pending is not None:  # the method was found and started: run it here, counted
            name = checked.method
            if observer is not None:
                observer.call_started(name)
            started = time.perf_counter()
            code: int | None = None
            failure = ""
            cancelled = False
            try:
                outcome = await pending
            except asyncio.CancelledError:
                cancelled = True  # cut off (the daemon stopping): never reported as answered
                raise
            except RPCError as exc:
                code, failure = exc.code, exc.message
                outcome = ErrorObject(exc.code, exc.message, exc.wire_data())
            except Exception as exc:
                self._log.exception("%s failed in the backend", name)
                code, failure = SERVER_ERROR, str(exc) or type(exc).__name__
                outcome = error_object(SERVER_ERROR, failure)
            finally:
                elapsed = time.perf_counter() - started
                self._finished(name, call, code, failure, elapsed, cancelled=cancelled)
        if checked.request_id is None:
            return None  # a notification (JSON-RPC 2.0 section 4.1)
        if isinstance(result, Left):
            error = _error_object(result._error.code, result._error.message, result._error.data)
            return ENCODER.encode(ErrorEnvelope(error=error, id=checked.request_id))
        if isinstance(outcome, ErrorObject):
            return ENCODER.encode(ErrorEnvelope(error=outcome, id=checked.request_id))
        if isinstance(outcome, StreamedResult):
            return outcome.answer(checked.request_id)
        return ENCODER.encode(SuccessEnvelope(result=outcome, id=checked.request_id))

    def _wrap(self, name: str, body: MethodBody) -> Callable[[Call], Any]:
        """The method jsonrpcserver dispatches to: it starts ``body`` (a coroutine, which
        :meth:`_dispatch` then awaits, counts and logs) and returns."""

        def method(call: Call) -> Any:
            call.pending = body(call.params, call)
            return _STARTED

        method.__name__ = name
        return method

    def _finished(
        self,
        name: str,
        call: Call,
        code: int | None,
        error: str,
        elapsed: float,
        *,
        cancelled: bool = False,
    ) -> None:
        """Count and log a call its method answered (``code`` ``None``: success, else the error
        answered with ``error``), or that was ``cancelled`` before its answer, ``elapsed``
        seconds after it started."""
        observer = call.observer
        if observer is not None:
            if cancelled:
                observer.call_cancelled(name, call.type_name, elapsed)
            else:
                observer.call_finished(name, call.type_name, code, elapsed)
        if cancelled or self._log.isEnabledFor(logging.INFO):
            type_name = call.type_name or DEFAULT_TYPE_NAME
            log_call(
                self._log, name, type_name, code, error, elapsed, call.details, cancelled=cancelled
            )
