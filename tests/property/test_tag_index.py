"""The backends' tag index always agrees with a full scan, whatever Provisions, Labels,
Destroys (and, for the file backend, restarts) came before; and each instance's encoded
description is the bytes the wire encodes for its Description."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instance_rpc import TERMINATION, Description, Spec
from instance_rpc.wire import WireDescription
from instance_rpc_plugins.file import FilePlugin
from instance_rpc_plugins.memory import MemoryPlugin
from instance_rpc_plugins.store.tag_index import TagIndex

KEYS = ["group", "tier", "zone"]
VALUES = ["a", "b", "c"]
tag_sets = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3)
properties = st.none() | st.just(msgspec.Raw(b'{"n":1.50,"s":"\\u00e9"}'))
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("provision"), tag_sets, properties, st.none() | st.sampled_from(["x", "y"])
        ),
        st.tuples(st.just("label"), st.integers(0, 20), tag_sets),
        st.tuples(st.just("destroy"), st.integers(0, 20)),
        st.tuples(st.just("restart")),
    ),
    max_size=25,
)
filters = [{}, *({k: v} for k in KEYS for v in VALUES), {"group": "a", "tier": "b"},
           {"group": "a", "tier": "a", "zone": "c"}, {"nope": "a"}]  # fmt: skip


def _matches(tags: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(tags.get(key) == value for key, value in wanted.items())


def _postings(model: dict[str, dict[str, str]]) -> dict[tuple[str, str], frozenset[str]]:
    found: dict[tuple[str, str], set[str]] = {}
    for instance_id, tags in model.items():
        for pair in tags.items():
            found.setdefault(pair, set()).add(instance_id)
    return {pair: frozenset(ids) for pair, ids in found.items()}


def _index_of(plugin: Any) -> TagIndex:
    # The backends check each candidate the index names, so a stale posting would not show in
    # their answers: look at the index itself.
    index = plugin._inventory._index if isinstance(plugin, FilePlugin) else plugin._index
    assert isinstance(index, TagIndex)
    return index


async def _check(plugin: Any, model: dict[str, dict[str, str]]) -> None:
    assert _index_of(plugin).pairs() == _postings(model)
    everything: list[Description] = await plugin.describe_instances(None, properties=True)
    assert {d.id: d.tags for d in everything} == model
    for wanted in filters:
        for with_properties in (True, False):
            found = await plugin.describe_instances(wanted, properties=with_properties)
            scan = [d for d in everything if _matches(d.tags, wanted)]
            assert [d.id for d in found] == [d.id for d in scan]
            assert [d.tags for d in found] == [d.tags for d in scan]
            if with_properties:
                assert [d.properties for d in found] == [d.properties for d in scan]
            encoded = await plugin.describe_encoded(wanted, properties=with_properties)
            if not isinstance(encoded, bytes):
                encoded = b"".join(encoded)
            assert encoded == msgspec.json.encode(
                WireDescription.from_descriptions(found, with_properties)
            )


async def _play(make: Callable[[], Any], ops: list[tuple[Any, ...]]) -> None:
    plugin = make()
    model: dict[str, dict[str, str]] = {}
    logical: dict[str, str] = {}
    made: list[str] = []
    try:
        for op in ops:
            if op[0] == "provision":
                _, tags, props, logical_id = op
                spec = Spec(tags=tags, properties=props, logical_id=logical_id)
                instance_id = await plugin.provision(spec)
                if logical_id in logical and logical[logical_id] in model:
                    assert instance_id == logical[logical_id]
                else:
                    model[instance_id] = dict(tags)
                    made.append(instance_id)
                    if logical_id is not None:
                        logical[logical_id] = instance_id
            elif op[0] == "label" and made:
                instance_id = made[op[1] % len(made)]
                if instance_id in model:
                    await plugin.label(instance_id, op[2])
                    model[instance_id].update(op[2])
            elif op[0] == "destroy" and made:
                instance_id = made[op[1] % len(made)]
                if instance_id in model:
                    await plugin.destroy(instance_id, TERMINATION)
                    del model[instance_id]
            elif op[0] == "restart" and isinstance(plugin, FilePlugin):
                plugin.close()
                plugin = make()  # the index is rebuilt from the documents
            await _check(plugin, model)
    finally:
        if isinstance(plugin, FilePlugin):
            plugin.close()


@settings(max_examples=150, deadline=None)
@given(operations)
def test_memory_index_agrees_with_a_full_scan(ops: list[tuple[Any, ...]]) -> None:
    asyncio.run(_play(MemoryPlugin, ops))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_file_index_agrees_with_a_full_scan_across_restarts(ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(_play(lambda: FilePlugin(dir=Path(directory) / "state"), ops))


def test_the_index_intersects_and_forgets_empty_postings() -> None:
    index = TagIndex()
    names = (f"i{n}" for n in itertools.count())
    few = [next(names) for _ in range(3)]
    many = [next(names) for _ in range(50)]
    for instance_id in many:
        index.add(instance_id, {"group": "g"})
    for instance_id in few:
        index.add(instance_id, {"group": "g", "pick": "yes"})
    assert index.select({"group": "g", "pick": "yes"}) == set(few)
    assert index.select({"pick": "yes", "group": "other"}) == set()
    for instance_id in few:
        index.retag(instance_id, {"group": "g", "pick": "yes"}, {"group": "g", "pick": "no"})
    assert index.select({"pick": "yes"}) == set()
    assert ("pick", "yes") not in index.pairs()
    assert index.pairs()[("pick", "no")] == frozenset(few)
