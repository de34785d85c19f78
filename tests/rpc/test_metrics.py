"""GET /metrics: the counters move with the calls a real daemon answers, and stay bounded."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from instance_rpc import PluginClient, Spec
from instance_rpc.errors import PluginError
from instance_rpc.observability.metrics import METRICS_KEY, OTHER, Metrics, count_refusal
from instance_rpc.rpc.service import InstanceService
from instance_rpc.server import create_app
from instance_rpc.testing import running_server
from instance_rpc.types import ROLLING_UPDATE
from instance_rpc_plugins.memory import MemoryPlugin
from tests.daemon import running_daemon
from tests.http import post

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(socket_path: Path) -> tuple[str, Samples]:
    """The exposition text, and every sample by name and labels (parsed by prometheus-client)."""
    status, body = await post(socket_path, b"", path="/metrics", method="GET", headers={})
    assert status == 200, body
    text = body.decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def calls(samples: Samples, method: str, outcome: str, type_label: str = ".") -> float:
    labels = {"method": method, "type": type_label, "outcome": outcome}
    return value(samples, "instance_rpc_calls_total", **labels)


async def rpc(socket_path: Path, method: str, params: object) -> dict[str, object]:
    request = {"jsonrpc": "2.0", "method": method, "params": params, "id": 1}
    status, answer = await post(socket_path, json.dumps(request))
    assert status == 200
    decoded: dict[str, object] = json.loads(answer)
    return decoded


async def test_counters_move_with_the_calls_of_a_real_daemon(sock_dir: Path) -> None:
    path = sock_dir / "m.sock"
    with running_daemon("--socket", str(path), "--plugin", "memory"):
        _, before = await scrape(path)
        async with PluginClient(path) as client:
            first = await client.provision(Spec(tags={"a": "b"}))
            await client.provision(Spec(logical_id="web-1"))
            assert first is not None
            await client.destroy(first, ROLLING_UPDATE)
            with pytest.raises(PluginError):
                await client.label("no-such-instance", {})
        await rpc(path, "Instance.Nonsense-" + "x" * 50, {})
        await rpc(path, "Instance.Validate", {"Type": "no-such-type", "Properties": {}})
        text, after = await scrape(path)

    assert calls(before, "Instance.Provision", "ok") == 0
    assert calls(after, "Instance.Provision", "ok") == 2
    assert calls(after, "Instance.Destroy", "ok") == 1
    assert calls(after, "Instance.Label", "-32000") == 1
    assert calls(after, OTHER, "-32601", type_label=".") == 1
    assert calls(after, "Instance.Validate", "-32000", type_label=OTHER) == 1
    provisions = {"method": "Instance.Provision"}
    assert value(after, "instance_rpc_call_duration_seconds_count", **provisions) == 2
    assert value(after, "instance_rpc_call_duration_seconds_sum", **provisions) > 0
    assert value(after, "instance_rpc_calls_in_flight", **provisions) == 0
    assert value(after, "instance_rpc_instances", type=".") == 1
    build = [key for key in after if key[0] == "instance_rpc_build_info"]
    assert len(build) == 1
    assert dict(build[0][1])["interfaces"] == "Instance/0.6.0,Instance/0.6.1"
    # Bounded labels: no instance ID, logical ID or client-chosen name reaches the exposition.
    for secret in (first, "web-1", "no-such-instance", "Nonsense", "no-such-type"):
        assert secret not in text


async def test_refused_requests_are_counted_by_reason(sock_dir: Path) -> None:
    path = sock_dir / "r.sock"
    with running_daemon("--socket", str(path), "--plugin", "memory", "--max-body", "1024"):
        assert (await post(path, b"{}", headers={"Content-Type": "text/plain"}))[0] == 415
        assert (await post(path, b"x" * 2048))[0] == 413
        assert (await post(path, b"{}", method="PUT"))[0] == 405
        assert (await post(path, b"", path="/nothing", method="GET", headers={}))[0] == 405
        assert (await post(path, b'{"jsonrpc": "2.0", "method":'))[0] == 200
        assert (await post(path, b'{"jsonrpc": "1.0", "method": "x", "id": 1}'))[0] == 200
        assert (await post(path, b"[1, 2]"))[0] == 200
        _, samples = await scrape(path)

    def refused(reason: str) -> float:
        return value(samples, "instance_rpc_requests_refused_total", reason=reason)

    assert refused("unsupported_media_type") == 1
    assert refused("body_too_large") == 1
    assert refused("method_not_allowed") == 2  # PUT, and GET of a path that is no document
    assert refused("bad_json") == 1
    assert refused("invalid_request") == 3  # a wrong version, two batch items not objects


async def test_without_metrics_there_is_no_metrics_document(sock_dir: Path) -> None:
    path = sock_dir / "n.sock"
    with running_daemon("--socket", str(path), "--plugin", "memory", "--no-metrics"):
        status, body = await post(path, b"", path="/metrics", method="GET", headers={})
        async with PluginClient(path) as client:
            assert await client.provision(Spec()) == "inst-1"
    assert status == 405
    documents = b"(documents: /info/api.json, /info/functions.json)"
    assert b"GET /metrics: no such document " + documents in body


class Held(MemoryPlugin):
    """Provision waits until released: a call that stays in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def provision(self, spec: Spec) -> str:
        self.entered.set()
        await self.release.wait()
        return await super().provision(spec)


async def test_calls_in_flight(sock_dir: Path) -> None:
    backend = Held()
    async with running_server(backend, sock_dir / "f.sock") as path, PluginClient(path) as client:
        pending = asyncio.create_task(client.provision(Spec()))
        await asyncio.wait_for(backend.entered.wait(), 10)
        _, during = await scrape(path)
        backend.release.set()
        assert await pending == "inst-1"
        _, after = await scrape(path)
    provisions = {"method": "Instance.Provision"}
    assert value(during, "instance_rpc_calls_in_flight", **provisions) == 1
    assert value(after, "instance_rpc_calls_in_flight", **provisions) == 0


async def test_instances_are_counted_once_per_backend_with_several_types(sock_dir: Path) -> None:
    first, second = MemoryPlugin(), MemoryPlugin()
    backends = {"": first, "one": first, "two": second}
    async with running_server(backends, sock_dir / "t.sock") as path:
        await first.provision(Spec())
        await first.provision(Spec())
        await second.provision(Spec())
        _, samples = await scrape(path)
    assert value(samples, "instance_rpc_instances", type="one") == 2
    assert value(samples, "instance_rpc_instances", type="two") == 1
    assert ("instance_rpc_instances", frozenset({("type", ".")})) not in samples


def test_each_app_has_its_own_registry() -> None:
    service = InstanceService({"": MemoryPlugin()})
    one, two = create_app(service).get(METRICS_KEY), create_app(service).get(METRICS_KEY)
    assert one is not None
    assert two is not None
    one.refused("bad_json")
    assert b'reason="bad_json"} 1.0' in one.exposition()
    assert b'reason="bad_json"} 0.0' in two.exposition()


def test_count_refusal_takes_only_known_reasons() -> None:
    app = create_app(InstanceService({"": MemoryPlugin()}))
    with pytest.raises(ValueError, match="unknown refusal reason 'whatever'"):
        count_refusal(app, "whatever")
    count_refusal(create_app(InstanceService({"": MemoryPlugin()}), metrics=False), "bad_json")


def test_error_codes_outside_the_reserved_range_are_bucketed() -> None:
    metrics = Metrics(methods=["Instance.Label"], types=[""])
    metrics.count_call("Instance.Label", "", 12345)
    metrics.count_call("Instance.Label", "", -32000)
    metrics.count_call("Instance.Label", "", None)
    text = metrics.exposition().decode()
    assert 'outcome="other"' in text
    assert "12345" not in text
    assert 'outcome="-32000"' in text
    assert 'outcome="ok"' in text
