"""Checks of Instance.DescribeInstances: tags filter, Properties only when asked."""

from __future__ import annotations

from .report import expect
from .run import Run

__all__ = ["describe_filters", "describe_properties"]


async def describe_properties(run: Run) -> None:
    check = "properties"
    instance_id = await run.provision(check)
    without = await run.describe(check)
    expect([d.id for d in without] == [instance_id], f"described {[d.id for d in without]}")
    expect(
        without[0].properties is None,
        "Properties described although properties=false was asked",
    )
    with_props = await run.describe(check, properties=True)
    expect([d.id for d in with_props] == [instance_id], f"described {[d.id for d in with_props]}")
    expect(
        with_props[0].properties is not None,
        "no Properties described although properties=true was asked",
    )


async def describe_filters(run: Run) -> None:
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
        expect(got == wanted, f"tags {run.tags(check, extra)} described {got}, want {wanted}")
    everything = {d.id for d in await run.client.describe_instances({})}
    expect({a, b} <= everything, f"empty tags did not describe {sorted({a, b} - everything)}")
