"""A backend that records every call and refuses nothing: any refusal is the daemon's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from instance_rpc import Context, Description, Spec
from instance_rpc.types import Properties, load_properties


class Recording:
    """Records every call; refuses nothing itself, so any refusal is the daemon's."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def validate(self, properties: Properties) -> None:
        self.calls.append(("validate", load_properties(properties)))

    async def provision(self, spec: Spec) -> str:
        self.calls.append(("provision", load_properties(spec.properties)))
        return f"i-{len(self.calls)}"

    async def label(self, instance: str, labels: Mapping[str, str]) -> None:
        self.calls.append(("label", instance))

    async def destroy(self, instance: str, context: Context) -> None:
        self.calls.append(("destroy", instance))

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        return []
