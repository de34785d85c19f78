"""A call cut off by shutdown is logged and counted as ``cancelled``, never ``ok``."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from pathlib import Path

import pytest

from instance_rpc import PluginClient, Spec
from instance_rpc.metrics import Metrics
from instance_rpc.service import InstanceService
from tests.daemon import Daemon
from tests.rpc.test_metrics import scrape, value
from tests.slow_backend import SlowPlugin

PROVISION = b'{"jsonrpc":"2.0","id":1,"method":"Instance.Provision","params":{"Spec":{}}}'


async def _in_flight(socket_path: Path) -> None:
    """Wait (bounded) until the daemon counts one Provision in flight."""
    for _ in range(500):
        _, samples = await scrape(socket_path)
        if value(samples, "instance_rpc_calls_in_flight", method="Instance.Provision") == 1:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the Provision never reached the daemon")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_call_cut_off_by_shutdown_is_logged_cancelled(sock_dir: Path, log_format: str) -> None:
    path = sock_dir / "cut.sock"
    daemon = Daemon(
        "--socket", str(path), "--plugin", "tests.slow_backend:SlowPlugin",
        "--grace", "0.3", "--log-format", log_format,
        env={"SLOW_PLUGIN_SECONDS": "60"},
    )  # fmt: skip
    try:
        daemon.wait_listening()

        async def cut_off() -> None:
            async with PluginClient(path) as plugin:
                call = asyncio.create_task(plugin.provision(Spec()))
                await _in_flight(path)
                daemon.process.send_signal(signal.SIGTERM)
                with pytest.raises(Exception):  # noqa: B017, PT011  no answer ever comes
                    await call

        asyncio.run(cut_off())
        assert daemon.process.wait(20) == 0
        log = daemon.log()
    finally:
        daemon.close()
    if log_format == "text":
        assert "WARNING instance_rpc.service: Instance.Provision type=. cancelled (" in log
    else:
        lines = [json.loads(text) for text in log.splitlines()]
        [line] = [found for found in lines if found.get("method") == "Instance.Provision"]
        assert (line["level"], line["method"], line["outcome"]) == (
            "WARNING",
            "Instance.Provision",
            "cancelled",
        )
    assert "Instance.Provision type=. ok" not in log


async def test_a_cancelled_call_is_counted_cancelled_never_ok(
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = InstanceService({"": SlowPlugin()})
    metrics = Metrics(methods=service.method_names, types=service.type_names)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SLOW_PLUGIN_SECONDS", "60")
        with caplog.at_level(logging.INFO, logger="instance_rpc.service"):
            answer = asyncio.ensure_future(service.handle(PROVISION, metrics))
            for _ in range(100):
                await asyncio.sleep(0)  # let the call start
            answer.cancel()
            with pytest.raises(asyncio.CancelledError):
                await answer
    text = metrics.exposition().decode()
    assert (
        'instance_rpc_calls_total{method="Instance.Provision",outcome="cancelled",type="."} 1.0'
        in text
    )
    assert 'outcome="ok"' not in text
    assert 'instance_rpc_calls_in_flight{method="Instance.Provision"} 0.0' in text
    [record] = [r for r in caplog.records if r.name == "instance_rpc.service"]
    assert record.levelno == logging.WARNING
    assert "Instance.Provision type=. cancelled (" in record.getMessage()
