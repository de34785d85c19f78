"""Prometheus metrics of one app, served at ``GET /metrics`` in the text exposition format.

Every app owns a :class:`Metrics` with its own ``CollectorRegistry`` (never the process-wide
one), so two daemons in one process do not mix their figures. What it exports:

- ``instance_rpc_calls_total{method,type,outcome}``: calls answered; ``outcome`` is ``ok``,
  the JSON-RPC error code (``-32602``, ``-32000``, ...), or ``cancelled`` for a call cut off
  before its answer (the daemon stopped before the call ended: :data:`CANCELLED`).
- ``instance_rpc_call_duration_seconds{method}``: a histogram of call latency.
- ``instance_rpc_calls_in_flight{method}``: calls started and not yet answered.
- ``instance_rpc_requests_refused_total{reason}``: requests refused before any call (a body too
  large, a wrong Content-Type or HTTP method, unparsable JSON, an invalid envelope).
- ``instance_rpc_instances{type}``: instances per type, for backends that can say cheaply
  (:class:`~instance_rpc.spi.InstanceCounter`); counted when scraped.
- ``instance_rpc_build_info{version,interfaces}``: always 1.

Label values are bounded: a method or ``Type`` the daemon does not serve is ``other``, an error
code outside JSON-RPC's reserved range (-32768 to -32000, JSON-RPC 2.0 section 5.1) is
``other``, and refusal reasons are the fixed words of :data:`REFUSAL_REASONS`. No label ever
carries an instance ID.
"""

from __future__ import annotations

import bisect
import itertools
import logging
from collections.abc import Iterable, Iterator, Mapping

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Info
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector

from .._version import __version__
from ..handshake import ALL_INTERFACES, DEFAULT_TYPE_NAME
from ..spi import InstanceCounter, Plugin

__all__ = [
    "CANCELLED",
    "CONTENT_TYPE",
    "METRICS_KEY",
    "METRICS_PATH",
    "OTHER",
    "REFUSAL_REASONS",
    "Metrics",
    "count_refusal",
]

logger = logging.getLogger("instance_rpc.metrics")

METRICS_PATH = "/metrics"
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""The text format every Prometheus server reads (version 0.0.4)."""

CANCELLED = "cancelled"
"""The outcome label of a call cut off before its answer."""

OTHER = "other"
"""The label value standing for any method, type or code outside the bounded set."""

REFUSAL_REASONS = frozenset(
    {
        "body_too_large",  # HTTP 413
        "unsupported_media_type",  # HTTP 415
        "method_not_allowed",  # HTTP 405
        "body_timeout",  # HTTP 408: the body did not arrive in time
        "bad_json",  # JSON-RPC -32700, or a body that is not an object or array
        "invalid_request",  # JSON-RPC -32600 for the envelope, an empty or too large batch
        "malformed_http",  # HTTP 400 from the HTTP parser
        "connection_limit",  # a connection turned away by a listener's cap
        "header_timeout",  # a connection closed: no whole request head in time
        "tls_handshake_limit",  # a connection closed: too many TLS handshakes in progress
        "tls_handshake_failed",  # a TLS handshake that did not complete (refused or abandoned)
        "peer_connection_limit",  # a connection closed: its peer (source address) at its cap
        "plain_http_on_tls",  # HTTP 400: plain HTTP sent to a TLS listener
        "buffer_budget",  # HTTP 503: the daemon's buffered-bytes budget stayed full
        "slow_reader",  # a connection closed: its answer was not read at the minimum rate
        "peer_disconnected",  # the peer closed its connection before its body was in
        "forbidden_peer",  # HTTP 403: a local user the daemon's Unix socket would refuse
        "forbidden_host",  # HTTP 403: plain HTTP with an Origin, or a Host not the listener's
    }
)
"""Reasons :func:`count_refusal` takes; each is a label value, so the set stays fixed."""

_RESERVED_CODES = range(-32768, -32000 + 1)
# Latencies of small calls are sub-millisecond; a DescribeInstances of 100,000 takes about 0.5 s.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


def _type_label(type_name: str) -> str:
    return type_name or DEFAULT_TYPE_NAME


class _InstanceCounts(Collector):
    """``instance_rpc_instances{type}``, asked of each counting backend at scrape time."""

    def __init__(self, backends: Mapping[str, Plugin]) -> None:
        named = {id(backend) for name, backend in backends.items() if name}
        # The default type is usually also served by its name: count each backend once.
        self._counting = [
            (_type_label(name), backend)
            for name, backend in sorted(backends.items())
            if isinstance(backend, InstanceCounter) and (name or id(backend) not in named)
        ]

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "instance_rpc_instances",
            "Instances the backend knows, per type (backends that can count cheaply).",
            labels=["type"],
        )
        for label, backend in self._counting:
            try:
                family.add_metric([label], float(backend.instance_count()))
            except Exception:
                logger.exception("instance_count() of type %s failed", label)
        yield family


class _Latency:
    """One method's latency histogram: a count per bucket (not cumulative) and their sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(_BUCKETS) + 1)  # the last one: above every bound (+Inf)
        self.total = 0.0


class _CallFigures(Collector):
    """Calls, latencies and calls in flight, kept in plain integers and exported at scrape.

    prometheus-client's labelled metrics take a lock and check their arguments on each update
    (about 2 µs each here; a call needs four); this costs a few dictionary updates.
    """

    def __init__(self, methods: frozenset[str], types: frozenset[str]) -> None:
        self.methods = methods
        self.types = types
        labels = [*sorted(methods), OTHER]
        self.in_flight = dict.fromkeys(labels, 0)
        self.latency = {label: _Latency() for label in labels}
        self.calls: dict[tuple[str, str, str], int] = {}
        self._label_keys: dict[tuple[str, str, int | str | None], tuple[str, str, str]] = {}

    def method_label(self, method: str) -> str:
        return method if method in self.methods else OTHER

    def count(self, method: str, type_name: str, code: int | str | None) -> None:
        """Count a call: ``code`` ``None`` for success, a JSON-RPC error code, or
        :data:`CANCELLED`."""
        raw = (method, type_name, code)
        key = self._label_keys.get(raw)
        if key is None:
            if code is None or code == CANCELLED:
                outcome = "ok" if code is None else CANCELLED
            else:
                outcome = str(code) if code in _RESERVED_CODES else OTHER
            type_label = _type_label(type_name) if type_name in self.types else OTHER
            key = (self.method_label(method), type_label, outcome)
            if method in self.methods and type_name in self.types:
                self._label_keys[raw] = key  # only bounded keys are kept
        self.calls[key] = self.calls.get(key, 0) + 1

    def collect(self) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            "instance_rpc_calls",
            "JSON-RPC calls, by method, type and outcome (ok, the error code, or cancelled).",
            labels=["method", "type", "outcome"],
        )
        for key, value in sorted(self.calls.items()):
            calls.add_metric(list(key), value)
        duration = HistogramMetricFamily(
            "instance_rpc_call_duration_seconds",
            "Time from dispatch to answer of a call, by method.",
            labels=["method"],
        )
        bounds = [*(str(bound) for bound in _BUCKETS), "+Inf"]
        for label, latency in self.latency.items():
            cumulative = list(itertools.accumulate(latency.counts))
            if cumulative[-1] or label != OTHER:
                buckets = list(zip(bounds, cumulative, strict=True))
                duration.add_metric([label], buckets, latency.total)
        in_flight = GaugeMetricFamily(
            "instance_rpc_calls_in_flight",
            "Calls started and not yet answered, by method.",
            labels=["method"],
        )
        for label, value in self.in_flight.items():
            if value or label != OTHER:
                in_flight.add_metric([label], value)
        yield from (calls, duration, in_flight)


class Metrics:
    """The figures of one app. Update it from the event loop that serves the app only.

    ``methods`` and ``types`` are the method names and ``Type`` values served; anything else is
    counted as :data:`OTHER`. ``backends`` maps type names to backends for the instance gauge.
    """

    def __init__(
        self,
        *,
        methods: Iterable[str],
        types: Iterable[str],
        backends: Mapping[str, Plugin] | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._figures = _CallFigures(frozenset(methods), frozenset(types))
        self.registry.register(self._figures)
        self._refused = Counter(
            "instance_rpc_requests_refused",
            "Requests refused before reaching a method, by reason.",
            ["reason"],
            registry=self.registry,
        )
        for reason in sorted(REFUSAL_REASONS):
            self._refused.labels(reason)  # every reason shows, even at zero
        build = Info("instance_rpc_build", "Version and interfaces served.", registry=self.registry)
        build.info(
            {
                "version": __version__,
                "interfaces": ",".join(f"{i.name}/{i.version}" for i in ALL_INTERFACES),
            }
        )
        if backends is not None:
            self.registry.register(_InstanceCounts(backends))

    def call_started(self, method: str) -> None:
        """A call of ``method`` was dispatched."""
        self._figures.in_flight[self._figures.method_label(method)] += 1

    def call_finished(self, method: str, type_name: str, code: int | None, seconds: float) -> None:
        """A call started with :meth:`call_started` was answered: ``code`` ``None`` for success,
        else its JSON-RPC error code; ``seconds`` from dispatch to answer."""
        self._ended(method, type_name, code, seconds)

    def call_cancelled(self, method: str, type_name: str, seconds: float) -> None:
        """A call started with :meth:`call_started` was cut off ``seconds`` after dispatch,
        before its answer: counted with the outcome :data:`CANCELLED`."""
        self._ended(method, type_name, CANCELLED, seconds)

    def _ended(self, method: str, type_name: str, code: int | str | None, seconds: float) -> None:
        figures = self._figures
        label = figures.method_label(method)
        figures.in_flight[label] -= 1
        latency = figures.latency[label]
        latency.counts[bisect.bisect_left(_BUCKETS, seconds)] += 1
        latency.total += seconds
        figures.count(method, type_name, code)

    def count_call(self, method: str, type_name: str, code: int | None) -> None:
        """A call answered without being dispatched (an unknown method, for one)."""
        self._figures.count(method, type_name, code)

    def refused(self, reason: str) -> None:
        """Count a request refused for ``reason``, one of :data:`REFUSAL_REASONS`.

        Raises ``ValueError`` for any other reason: label values must stay a fixed set.
        """
        if reason not in REFUSAL_REASONS:
            raise ValueError(f"unknown refusal reason {reason!r}; add it to REFUSAL_REASONS")
        self._refused.labels(reason).inc()

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)

    def response(self) -> web.Response:
        """The answer to ``GET /metrics``."""
        response = web.Response(body=self.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response


METRICS_KEY: web.AppKey[Metrics | None] = web.AppKey("instance_rpc_metrics", Metrics)
"""Where an app keeps its :class:`Metrics` (``None`` when served without metrics)."""


def count_refusal(app: web.Application, reason: str) -> None:
    """Count a request ``app`` refused, for ``reason`` (one of :data:`REFUSAL_REASONS`).

    For code that refuses requests outside the JSON-RPC layer (HTTP parsing, listeners); does
    nothing when the app serves no metrics. Raises ``ValueError`` for an unknown reason.
    """
    metrics = app.get(METRICS_KEY)
    if metrics is not None:
        metrics.refused(reason)
