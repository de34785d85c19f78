"""An EC2 instance (as DescribeInstances gives it) as a Description, and which instances are
alive."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from instance_rpc.types import Description

from ._tags import LOGICAL_ID, all_tags, tags_of

__all__ = ["LIVE_STATES", "describe", "properties_view", "state_of"]

LIVE_STATES = ("pending", "running", "stopping", "stopped")
"""States of the instances a DescribeInstances lists (shutting-down and terminated are gone)."""


def state_of(instance: Mapping[str, Any]) -> str:
    return str((instance.get("State") or {}).get("Name") or "")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def properties_view(instance: Mapping[str, Any]) -> dict[str, Any]:
    """The instance as the API describes it (``State``, ``InstanceType``, ``Placement``,
    ``PrivateIpAddress``, ``PublicIpAddress``, ``LaunchTime`` as ISO 8601, ...), tags aside."""
    view = _plain({k: v for k, v in instance.items() if k != "Tags"})
    assert isinstance(view, dict)
    return view


def describe(instance: Mapping[str, Any], properties: bool) -> Description:
    """The Description of one instance: its ID, LogicalID tag, other tags and, if asked, its
    :func:`properties_view`."""
    return Description(
        id=str(instance["InstanceId"]),
        logical_id=all_tags(instance).get(LOGICAL_ID),
        tags=tags_of(instance),
        properties=properties_view(instance) if properties else None,
    )
