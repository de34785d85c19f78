"""Running the checks: the table of checks by name, in order, and :func:`run_conformance`."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from ssl import SSLContext
from typing import Any

import msgspec

from ...client import PluginClient
from ...errors import InstanceRPCError
from ...types import ROLLING_UPDATE, TERMINATION, encode_properties
from .describe import describe_filters, describe_properties
from .destroy import destroy_check, unknown_ids
from .handshake import handshake, spec_endpoint
from .label import label
from .lifecycle import concurrent_provisions, provision_racing_destroy
from .provision import idempotent_provision, provision_full_spec
from .report import CheckFailed, CheckResult, ConformanceReport
from .run import DEFAULT_BAD_PROPERTIES, DEFAULT_PROPERTIES, Run
from .validate import validate_bad, validate_good

__all__ = ["CHECK_NAMES", "CLEANUP", "CheckFunction", "run_conformance"]


CLEANUP = "cleanup"

CheckFunction = Callable[[Run], Awaitable[None]]
_CHECKS: dict[str, CheckFunction] = {
    "handshake": handshake,
    "spec endpoint": spec_endpoint,
    "validate accepts good properties": validate_good,
    "validate refuses bad properties": validate_bad,
    "provision a full spec": provision_full_spec,
    "describe with and without properties": describe_properties,
    "describe filters by all tags": describe_filters,
    "label merges and overwrites": label,
    "destroy for rolling_update": destroy_check("destroy-rolling", ROLLING_UPDATE),
    "destroy for terminate": destroy_check("destroy-terminate", TERMINATION),
    "unknown IDs are errors": unknown_ids,
    "concurrent provisions": concurrent_provisions,
    "idempotent provision by LogicalID": idempotent_provision,
    "provision racing a destroy": provision_racing_destroy,
}

CHECK_NAMES: tuple[str, ...] = tuple(_CHECKS)
"""The checks, in the order they run (``cleanup`` follows them)."""


def _raw(value: Any, default: msgspec.Raw) -> msgspec.Raw:
    encoded = encode_properties(value)
    return default if encoded is None else encoded


async def run_conformance(
    target: str | os.PathLike[str],
    *,
    type_name: str | None = None,
    properties: Any = None,
    bad_properties: Any = None,
    concurrency: int = 8,
    checks: Iterable[str] | None = None,
    timeout: float = 30.0,
    on_result: Callable[[CheckResult], None] | None = None,
    ssl: SSLContext | None = None,
) -> ConformanceReport:
    """Run the checks (all, or those named) against the plugin at ``target``.

    ``target`` is a socket path or a plugin name (``lookup[/type]``); ``type_name`` overrides
    the type. ``properties`` are what instances are provisioned with (default: the example
    Properties the plugin declares for the type in ``GET /info/api.json``, else ``{}``) and
    ``bad_properties`` what Validate must refuse (default a JSON array). ``on_result`` is called
    with each result as it comes. The plugin is left as it was found.
    """
    selected: Sequence[str] = CHECK_NAMES if checks is None else list(checks)
    unknown = [name for name in selected if name not in _CHECKS]
    if unknown:
        raise ValueError(f"unknown checks {unknown}; known: {', '.join(CHECK_NAMES)}")
    async with PluginClient(
        target, type_name=type_name, timeout=timeout, provision_timeout=timeout, ssl=ssl
    ) as client:
        report = ConformanceReport(client.address, client.type_name)
        default = DEFAULT_PROPERTIES if properties is not None else await _declared(client)
        run = Run(
            client,
            _raw(properties, default),
            _raw(bad_properties, DEFAULT_BAD_PROPERTIES),
            concurrency,
        )

        async def record(name: str, body: Callable[[], Awaitable[None]]) -> None:
            result = await _timed(name, body)
            report.results.append(result)
            if on_result is not None:
                on_result(result)

        try:
            for name in selected:
                await record(name, functools.partial(_CHECKS[name], run))
        finally:
            await record(CLEANUP, run.cleanup)
    return report


async def _declared(client: PluginClient) -> msgspec.Raw:
    """The example Properties the plugin declares for the client's type, else ``{}`` (also
    for a plugin without a usable spec document: the handshake check reports that)."""
    try:
        info = await client.info()
    except InstanceRPCError:
        return DEFAULT_PROPERTIES
    types = info.Types if isinstance(info.Types, dict) else {}
    declared = types.get(client.type_name)
    if declared is None or not isinstance(declared.ExampleProperties, msgspec.Raw):
        return DEFAULT_PROPERTIES
    return declared.ExampleProperties


async def _timed(name: str, body: Callable[[], Awaitable[None]]) -> CheckResult:
    started = time.perf_counter()
    try:
        await body()
    except CheckFailed as exc:
        return CheckResult(name, False, str(exc), time.perf_counter() - started)
    except Exception as exc:  # whatever a plugin makes happen is a finding, not a crash
        detail = f"{type(exc).__name__}: {exc}"
        return CheckResult(name, False, detail, time.perf_counter() - started)
    return CheckResult(name, True, "", time.perf_counter() - started)
