"""Checks of Instance.Provision: a full spec described back, and idempotence by LogicalID."""

from __future__ import annotations

from ...types import Attachment
from .report import expect
from .run import Run

__all__ = ["FULL_INIT", "UNICODE_TEXT", "idempotent_provision", "provision_full_spec"]


UNICODE_TEXT = "ünïcødé ✓ 日本語 🚀"
FULL_INIT = (
    "#!/bin/sh\n"
    f"# instance-rpc conformance: {UNICODE_TEXT}\n"
    "echo 'line one'\n"
    'echo "line two: tab\there, quote \' and backslash \\\\"\n'
)


async def provision_full_spec(run: Run) -> None:
    check = "full-spec"
    attachments = [Attachment(id="conformance-volume", type="volume"), Attachment(id="nic-0")]
    extra = {"unicode": UNICODE_TEXT, "empty": ""}
    logical_id = run.logical_id(check)
    instance_id = await run.provision(
        check, tags=extra, init=FULL_INIT, logical_id=logical_id, attachments=attachments
    )
    found = await run.describe(check)
    expect(
        [d.id for d in found] == [instance_id],
        f"described {[d.id for d in found]}, want [{instance_id!r}]",
    )
    described = found[0]
    expect(
        described.logical_id == logical_id,
        f"LogicalID described as {described.logical_id!r}, want {logical_id!r}",
    )
    for key, value in run.tags(check, extra).items():
        expect(
            described.tags.get(key) == value,
            f"tag {key!r} described as {described.tags.get(key)!r}, want {value!r}",
        )


async def idempotent_provision(run: Run) -> None:
    check = "idempotent"
    logical_id = run.logical_id(check)
    first = await run.provision(check, logical_id=logical_id)
    for attempt in (2, 3):
        again = await run.provision(check, logical_id=logical_id)
        expect(again == first, f"Provision #{attempt} of LogicalID {logical_id} gave {again}")
    found = await run.describe(check)
    expect(
        [d.id for d in found] == [first],
        f"described {[d.id for d in found]} for one LogicalID, want [{first!r}]",
    )
    await run.destroy(first)
    replacement = await run.provision(check, logical_id=logical_id)
    found = await run.describe(check)
    expect(
        [d.id for d in found] == [replacement],
        f"after Destroy, re-provisioning LogicalID {logical_id} described {[d.id for d in found]}",
    )
