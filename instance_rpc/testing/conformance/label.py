"""Checks of Instance.Label."""

from __future__ import annotations

from .report import expect
from .run import Run

__all__ = ["label"]


async def label(run: Run) -> None:
    check = "label"
    instance_id = await run.provision(check, tags={"keep": "1", "change": "old"})
    await run.client.label(instance_id, {"change": "new", "added": "yes"})
    found = await run.describe(check)
    expect([d.id for d in found] == [instance_id], f"described {[d.id for d in found]}")
    wanted = run.tags(check, {"keep": "1", "change": "new", "added": "yes"})
    for key, value in wanted.items():
        expect(
            found[0].tags.get(key) == value,
            f"after Label, tag {key!r} is {found[0].tags.get(key)!r}, want {value!r}",
        )
    expect(
        await run.ids(check, {"change": "old"}) == set(),
        "the overwritten tag value still matches",
    )
