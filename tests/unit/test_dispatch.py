"""Synchronous dispatch starts each method's work and the service awaits it: notifications too."""

from __future__ import annotations

import json

from instance_rpc.rpc.service import InstanceService
from instance_rpc_plugins.memory import MemoryPlugin

PROVISION = '{"jsonrpc":"2.0","method":"Instance.Provision","params":{"Spec":{"Tags":{"a":"b"}}}'


async def test_a_notification_is_carried_out_and_not_answered() -> None:
    plugin = MemoryPlugin()
    service = InstanceService({"": plugin})
    assert await service.handle((PROVISION + "}").encode()) is None
    assert [d.id for d in await plugin.describe_instances({"a": "b"})] == ["inst-1"]


async def test_a_batch_carries_out_its_notifications_and_answers_the_rest() -> None:
    plugin = MemoryPlugin()
    service = InstanceService({"": plugin})
    batch = f'[{PROVISION}}}, {PROVISION},"id":7}}]'
    answer = await service.handle(batch.encode())
    assert answer is not None
    assert json.loads(answer) == [
        {"result": {"Type": "", "ID": "inst-2"}, "id": 7, "jsonrpc": "2.0"}
    ]
    assert len(await plugin.describe_instances(None)) == 2


async def test_a_backend_failure_in_a_notification_is_not_answered() -> None:
    service = InstanceService({"": MemoryPlugin()})
    body = b'{"jsonrpc":"2.0","method":"Instance.Destroy","params":{"Instance":"nope"}}'
    assert await service.handle(body) is None
