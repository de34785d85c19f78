"""The memory backend keeps one tags dict per distinct tag set; no instance's change reaches
another's tags."""

from __future__ import annotations

from instance_rpc import Spec
from instance_rpc_plugins import memory
from instance_rpc_plugins.memory import MemoryPlugin

GROUP = {"group": "web", "tier": "front"}


async def test_instances_of_one_tag_set_share_it_and_a_label_changes_only_its_own() -> None:
    plugin = MemoryPlugin()
    first = await plugin.provision(Spec(tags=dict(GROUP)))
    second = await plugin.provision(Spec(tags=dict(GROUP)))
    assert plugin._instances[first].tags is plugin._instances[second].tags
    await plugin.label(first, {"tier": "back", "extra": "1"})
    described = {d.id: d.tags for d in await plugin.describe_instances(None)}
    assert described[second] == GROUP
    assert described[first] == {"group": "web", "tier": "back", "extra": "1"}
    assert [d.id for d in await plugin.describe_instances(GROUP)] == [second]
    described[second]["group"] = "changed by a caller"
    assert (await plugin.describe_instances({"group": "web"}))[1].tags == GROUP


async def test_past_the_limit_of_tag_sets_the_backend_starts_afresh() -> None:
    plugin = MemoryPlugin()
    for number in range(memory._SHARED_TAG_SETS + 10):
        await plugin.provision(Spec(tags={"n": str(number)}))
    assert len(plugin._tag_sets) <= memory._SHARED_TAG_SETS
    found = await plugin.describe_instances({"n": "3"})
    assert [d.tags for d in found] == [{"n": "3"}]
