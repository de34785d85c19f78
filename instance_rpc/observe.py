"""What the JSON-RPC layer reports about the requests it answers, to whoever counts them.

:class:`~instance_rpc.metrics.Metrics` is the one implementation; the protocol keeps the JSON-RPC
layer free of any metrics library and of HTTP.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["CallObserver"]


class CallObserver(Protocol):
    """Told about every request a service answers.

    ``code`` is ``None`` for success, else the JSON-RPC error code answered; ``type_name`` is the
    call's ``Type`` param as sent (``""`` for the default), unchecked.
    """

    def call_started(self, method: str) -> None:
        """A call of a served ``method`` was dispatched."""

    def call_finished(self, method: str, type_name: str, code: int | None, seconds: float) -> None:
        """A dispatched call was answered, ``seconds`` after :meth:`call_started`."""

    def call_cancelled(self, method: str, type_name: str, seconds: float) -> None:
        """A dispatched call was cut off before its answer (the daemon stopping, its task
        cancelled), ``seconds`` after :meth:`call_started`: it is neither a success nor an
        error answered."""

    def count_call(self, method: str, type_name: str, code: int | None) -> None:
        """A request naming ``method`` was answered without dispatch (no such method)."""

    def refused(self, reason: str) -> None:
        """A request was refused before naming a method (``bad_json``, ``invalid_request``)."""
