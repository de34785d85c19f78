"""The pre-encoded JSON-RPC requests the benchmark sends, as a Go client would send them."""

from __future__ import annotations

import msgspec

from instance_rpc.wire import DescribeParams, ProvisionParams, ValidateParams, WireSpec

__all__ = [
    "PICKED",
    "PROPERTIES",
    "TAGS",
    "describe_body",
    "provision_body",
    "validate_body",
]

PROPERTIES = msgspec.Raw(
    b'{"instanceType":"small","image":"ubuntu-24.04","disk":{"sizeGb":10,"iops":1.50},'
    b'"zone":"eu-west-1a","userData":"#!/bin/sh\\necho hello\\n"}'
)
TAGS = {"group": "workers", "tier": "web"}
PICKED = {"pick": "yes"}
"""The tag that marks the few instances a filtered DescribeInstances matches."""


def _request(method: str, params: msgspec.Struct) -> bytes:
    return msgspec.json.encode({"jsonrpc": "2.0", "method": method, "params": params, "id": 1})


def validate_body() -> bytes:
    return _request("Instance.Validate", ValidateParams(Properties=PROPERTIES))


def provision_body(tags: dict[str, str] | None = None) -> bytes:
    spec = WireSpec(Properties=PROPERTIES, Tags={**TAGS, **(tags or {})})
    return _request("Instance.Provision", ProvisionParams(Spec=spec))


def describe_body(tags: dict[str, str] | None = None) -> bytes:
    return _request("Instance.DescribeInstances", DescribeParams(Tags=tags, Properties=True))
