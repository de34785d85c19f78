"""The conformance suite: does a live Instance plugin (any language) honour the contract?

    report = await run_conformance("/run/infrakit/plugins/local", type_name="file")
    print(report.summary())          # "14 passed, 0 failed"

Every check talks to the plugin over its socket through :class:`~instance_rpc.PluginClient`, so
it sees exactly what an orchestrator sees. Checks are independent of each other: each makes the
instances it needs, tagged with a tag unique to the run (:data:`RUN_TAG`) and one naming the
check (:data:`CHECK_TAG`). Whatever the run created is destroyed at the end, even when checks
fail; the last result, ``cleanup``, says whether that worked.
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from ssl import SSLContext
from typing import Any

import msgspec

from ..client import PluginClient
from ..errors import InstanceRPCError, PluginError
from ..spi import INTERFACE, SUPPORTED_VERSIONS
from ..types import (
    ROLLING_UPDATE,
    TERMINATION,
    Attachment,
    Context,
    Description,
    Spec,
    encode_properties,
)

__all__ = [
    "CHECK_NAMES",
    "CHECK_TAG",
    "DEFAULT_BAD_PROPERTIES",
    "DEFAULT_PROPERTIES",
    "RUN_TAG",
    "CheckFailed",
    "CheckResult",
    "ConformanceReport",
    "run_conformance",
]

RUN_TAG = "instance-rpc.conformance.run"
"""Tag key on every instance the suite creates; its value is unique to the run."""

CHECK_TAG = "instance-rpc.conformance.check"
"""Tag key naming the check that created an instance."""

DEFAULT_PROPERTIES = msgspec.Raw(b"{}")
"""Properties the suite provisions with unless told otherwise."""

DEFAULT_BAD_PROPERTIES = msgspec.Raw(b'["not", "an", "object"]')
"""Properties the suite expects Validate to refuse unless told otherwise."""

UNICODE_TEXT = "ünïcødé ✓ 日本語 🚀"
FULL_INIT = (
    "#!/bin/sh\n"
    f"# instance-rpc conformance: {UNICODE_TEXT}\n"
    "echo 'line one'\n"
    'echo "line two: tab\there, quote \' and backslash \\\\"\n'
)
SLOW_TO_STOP_INIT = (
    "#!/bin/sh\n"
    "# instance-rpc conformance: takes a second to stop\n"
    "trap 'sleep 1; exit 0' TERM\n"
    "sleep 600 &\n"
    "wait\n"
)
RACE_DELAY_SECONDS = 0.3
"""How long the race check lets a Destroy run before it provisions the same LogicalID again."""
CLEANUP = "cleanup"


class CheckFailed(AssertionError):
    """A check found the plugin breaking the contract; the message says how."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str = ""
    seconds: float = 0.0

    def line(self) -> str:
        """One line for people: ``PASS  name (3 ms)`` or ``FAIL  name: what went wrong``."""
        if self.passed:
            return f"PASS  {self.name} ({self.seconds * 1000:.0f} ms)"
        return f"FAIL  {self.name}: {self.detail}"


@dataclass
class ConformanceReport:
    target: str
    type_name: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(result.passed for result in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def failures(self) -> list[CheckResult]:
        return [result for result in self.results if not result.passed]

    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"


class _Run:
    """What the checks share: the client, the run's tag, and every instance it made."""

    def __init__(
        self,
        client: PluginClient,
        properties: msgspec.Raw,
        bad_properties: msgspec.Raw,
        concurrency: int,
    ) -> None:
        self.client = client
        self.properties = properties
        self.bad_properties = bad_properties
        self.concurrency = concurrency
        self.run_id = f"{int(time.time())}-{secrets.token_hex(4)}"
        self.live: set[str] = set()

    def tags(self, check: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {RUN_TAG: self.run_id, CHECK_TAG: check, **(extra or {})}

    def logical_id(self, check: str) -> str:
        return f"conformance-{self.run_id}-{check}"

    async def provision(self, check: str, **spec: Any) -> str:
        tags = self.tags(check, spec.pop("tags", None))
        instance_id = await self.client.provision(
            Spec(properties=self.properties, tags=tags, **spec)
        )
        _expect(
            isinstance(instance_id, str) and instance_id != "",
            f"Provision answered ID {instance_id!r}, want a non-empty string",
        )
        assert instance_id is not None
        self.live.add(instance_id)
        return instance_id

    async def destroy(self, instance_id: str, context: Context = TERMINATION) -> None:
        await self.client.destroy(instance_id, context)
        self.live.discard(instance_id)

    async def describe(
        self, check: str, extra: Mapping[str, str] | None = None, properties: bool = False
    ) -> list[Description]:
        return await self.client.describe_instances(self.tags(check, extra), properties=properties)

    async def ids(self, check: str, extra: Mapping[str, str] | None = None) -> set[str]:
        return {d.id for d in await self.describe(check, extra)}

    async def cleanup(self) -> None:
        """Destroy everything this run made; raise if anything is left."""
        leftovers = set(self.live)
        leftovers.update(d.id for d in await self.client.describe_instances({RUN_TAG: self.run_id}))
        problems: list[str] = []
        for instance_id in sorted(leftovers):
            try:
                await self.client.destroy(instance_id, TERMINATION)
            except PluginError:
                pass  # destroyed already by the check that made it
            except InstanceRPCError as exc:
                problems.append(f"{instance_id}: {exc}")
        remaining = await self.client.describe_instances({RUN_TAG: self.run_id})
        problems.extend(f"{d.id}: still described after Destroy" for d in remaining)
        if problems:
            raise CheckFailed("could not destroy: " + "; ".join(problems))


# --- the checks --------------------------------------------------------------------------------


async def _handshake(run: _Run) -> None:
    interfaces = await run.client.hello()
    offered = {spec.encode(): names for spec, names in interfaces.items()}
    ours = {
        key: names
        for key, names in offered.items()
        if key.split("/")[0] == INTERFACE.name and key.split("/")[1] in SUPPORTED_VERSIONS
    }
    _expect(bool(ours), f"handshake offers no Instance/{SUPPORTED_VERSIONS}: {sorted(offered)}")
    wanted = run.client.type_name or "."
    for key, names in ours.items():
        _expect(wanted in names, f"handshake lists types {names} for {key}, not {wanted!r}")
    await run.client.handshake()


async def _spec_endpoint(run: _Run) -> None:
    info = await run.client.info()
    implemented = {(spec.Name, spec.Version) for spec in info.Implements}
    _expect(
        any((INTERFACE.name, version) in implemented for version in SUPPORTED_VERSIONS),
        f"/info/api.json implements {sorted(implemented)}, not Instance",
    )
    methods = {
        str(example.Request.get("method"))
        for interface in info.Interfaces
        if interface.Name == INTERFACE.name
        for example in interface.Methods
    }
    wanted = {f"Instance.{name}" for name in ("Validate", "Provision", "Label", "Destroy")}
    wanted.add("Instance.DescribeInstances")
    _expect(wanted <= methods, f"/info/api.json lacks examples of {sorted(wanted - methods)}")


async def _validate_good(run: _Run) -> None:
    await run.client.validate(run.properties)


async def _validate_bad(run: _Run) -> None:
    try:
        await run.client.validate(run.bad_properties)
    except PluginError:
        return
    raise CheckFailed(f"Validate accepted {bytes(run.bad_properties).decode()}")


async def _provision_full_spec(run: _Run) -> None:
    check = "full-spec"
    attachments = [Attachment(id="conformance-volume", type="volume"), Attachment(id="nic-0")]
    extra = {"unicode": UNICODE_TEXT, "empty": ""}
    logical_id = run.logical_id(check)
    instance_id = await run.provision(
        check, tags=extra, init=FULL_INIT, logical_id=logical_id, attachments=attachments
    )
    found = await run.describe(check)
    _expect(
        [d.id for d in found] == [instance_id],
        f"described {[d.id for d in found]}, want [{instance_id!r}]",
    )
    described = found[0]
    _expect(
        described.logical_id == logical_id,
        f"LogicalID described as {described.logical_id!r}, want {logical_id!r}",
    )
    for key, value in run.tags(check, extra).items():
        _expect(
            described.tags.get(key) == value,
            f"tag {key!r} described as {described.tags.get(key)!r}, want {value!r}",
        )


async def _describe_properties(run: _Run) -> None:
    check = "properties"
    instance_id = await run.provision(check)
    without = await run.describe(check)
    _expect([d.id for d in without] == [instance_id], f"described {[d.id for d in without]}")
    _expect(
        without[0].properties is None,
        "Properties described although properties=false was asked",
    )
    with_props = await run.describe(check, properties=True)
    _expect([d.id for d in with_props] == [instance_id], f"described {[d.id for d in with_props]}")
    _expect(
        with_props[0].properties is not None,
        "no Properties described although properties=true was asked",
    )


async def _describe_filters(run: _Run) -> None:
    check = "filters"
    a = await run.provision(check, tags={"role": "a", "shared": "x"})
    b = await run.provision(check, tags={"role": "b", "shared": "x"})
    queries: list[tuple[dict[str, str], set[str]]] = [
        ({}, {a, b}),
        ({"shared": "x"}, {a, b}),
        ({"role": "a"}, {a}),
        ({"role": "b", "shared": "x"}, {b}),
        ({"role": "a", "shared": "y"}, set()),
        ({"no-such-tag": "1"}, set()),
    ]
    for extra, wanted in queries:
        got = await run.ids(check, extra)
        _expect(got == wanted, f"tags {run.tags(check, extra)} described {got}, want {wanted}")
    everything = {d.id for d in await run.client.describe_instances({})}
    _expect({a, b} <= everything, f"empty tags did not describe {sorted({a, b} - everything)}")


async def _label(run: _Run) -> None:
    check = "label"
    instance_id = await run.provision(check, tags={"keep": "1", "change": "old"})
    await run.client.label(instance_id, {"change": "new", "added": "yes"})
    found = await run.describe(check)
    _expect([d.id for d in found] == [instance_id], f"described {[d.id for d in found]}")
    wanted = run.tags(check, {"keep": "1", "change": "new", "added": "yes"})
    for key, value in wanted.items():
        _expect(
            found[0].tags.get(key) == value,
            f"after Label, tag {key!r} is {found[0].tags.get(key)!r}, want {value!r}",
        )
    _expect(
        await run.ids(check, {"change": "old"}) == set(),
        "the overwritten tag value still matches",
    )


def _destroy_check(check: str, context: Context) -> Callable[[_Run], Awaitable[None]]:
    async def destroy(run: _Run) -> None:
        instance_id = await run.provision(check)
        await run.destroy(instance_id, context)
        left = await run.ids(check)
        _expect(instance_id not in left, f"{instance_id} still described after Destroy")
        try:
            await run.client.destroy(instance_id, context)
        except PluginError:
            return
        raise CheckFailed(f"a second Destroy of {instance_id} succeeded")

    return destroy


async def _unknown_ids(run: _Run) -> None:
    unknown = f"conformance-no-such-instance-{run.run_id}"
    calls: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("Label", lambda: run.client.label(unknown, {"a": "b"})),
        ("Destroy", lambda: run.client.destroy(unknown, TERMINATION)),
    ]
    for method, call in calls:
        try:
            await call()
        except PluginError:
            continue
        raise CheckFailed(f"{method} of unknown ID {unknown!r} succeeded")


async def _concurrent_provisions(run: _Run) -> None:
    check = "concurrent"
    ids = await asyncio.gather(*(run.provision(check) for _ in range(run.concurrency)))
    _expect(len(set(ids)) == len(ids), f"{len(ids)} provisions gave {len(set(ids))} distinct IDs")
    described = await run.ids(check)
    _expect(described == set(ids), f"described {len(described)} of {len(ids)}: {described}")
    await asyncio.gather(*(run.destroy(instance_id) for instance_id in ids))
    left = await run.ids(check)
    _expect(not left, f"still described after concurrent destroys: {sorted(left)}")


async def _idempotent_provision(run: _Run) -> None:
    check = "idempotent"
    logical_id = run.logical_id(check)
    first = await run.provision(check, logical_id=logical_id)
    for attempt in (2, 3):
        again = await run.provision(check, logical_id=logical_id)
        _expect(again == first, f"Provision #{attempt} of LogicalID {logical_id} gave {again}")
    found = await run.describe(check)
    _expect(
        [d.id for d in found] == [first],
        f"described {[d.id for d in found]} for one LogicalID, want [{first!r}]",
    )
    await run.destroy(first)
    replacement = await run.provision(check, logical_id=logical_id)
    found = await run.describe(check)
    _expect(
        [d.id for d in found] == [replacement],
        f"after Destroy, re-provisioning LogicalID {logical_id} described {[d.id for d in found]}",
    )


async def _provision_racing_destroy(run: _Run) -> None:
    """InfraKit's group controller replacing a pet: Destroy, and Provision its LogicalID again
    before the Destroy returned. The dying instance must not be handed out."""
    check = "race"
    logical_id = run.logical_id(check)
    first = await run.provision(check, logical_id=logical_id, init=SLOW_TO_STOP_INIT)
    destroying = asyncio.create_task(run.client.destroy(first, ROLLING_UPDATE))
    await asyncio.wait([destroying], timeout=RACE_DELAY_SECONDS)  # under way, or done
    provisions = asyncio.gather(
        *(run.provision(check, logical_id=logical_id, init=SLOW_TO_STOP_INIT) for _ in range(2))
    )
    try:
        again, concurrent = await provisions
    finally:
        await destroying
        run.live.discard(first)
    _expect(again != first, f"Provision of {logical_id} during its Destroy returned {first}")
    _expect(
        concurrent == again,
        f"two Provisions of {logical_id} during a Destroy gave {again} and {concurrent}",
    )
    found = await run.describe(check)
    _expect(
        [d.id for d in found] == [again],
        f"after the Destroy of {first}, described {[d.id for d in found]}, want [{again!r}]",
    )


CheckFunction = Callable[[_Run], Awaitable[None]]
_CHECKS: dict[str, CheckFunction] = {
    "handshake": _handshake,
    "spec endpoint": _spec_endpoint,
    "validate accepts good properties": _validate_good,
    "validate refuses bad properties": _validate_bad,
    "provision a full spec": _provision_full_spec,
    "describe with and without properties": _describe_properties,
    "describe filters by all tags": _describe_filters,
    "label merges and overwrites": _label,
    "destroy for rolling_update": _destroy_check("destroy-rolling", ROLLING_UPDATE),
    "destroy for terminate": _destroy_check("destroy-terminate", TERMINATION),
    "unknown IDs are errors": _unknown_ids,
    "concurrent provisions": _concurrent_provisions,
    "idempotent provision by LogicalID": _idempotent_provision,
    "provision racing a destroy": _provision_racing_destroy,
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
    the type. ``properties`` are what instances are provisioned with (default ``{}``) and
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
        run = _Run(
            client,
            _raw(properties, DEFAULT_PROPERTIES),
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
