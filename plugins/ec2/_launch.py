"""What a Provision asks RunInstances for: the Properties' request with the Spec's tags (ours
included, at launch), its Init as UserData, its LogicalID as the private IP where it is one, and
its attachments."""

from __future__ import annotations

import ipaddress
from typing import Any

import msgspec

from instance_rpc.errors import PluginError
from instance_rpc.types import Spec

from ._properties import EC2Properties
from ._tags import ATTACHMENTS, GENERATION, LOGICAL_ID, MAX_VALUE, OWNER, check_tags, tag_list

__all__ = ["EBS", "Launch", "launch_of"]

EBS = "ebs"
"""The attachment Type of an EBS volume (its ID a volume ID), attached once the instance runs."""

_DEVICES = [f"/dev/sd{letter}" for letter in "fghijklmnop"]


class Launch(msgspec.Struct, kw_only=True):
    """A Provision's RunInstances request less its ClientToken and generation, and the
    volumes to attach (volume ID to device)."""

    request: dict[str, Any]
    tags: dict[str, str]
    volumes: dict[str, str]

    def run_instances(self, token: str, generation: int | None) -> dict[str, Any]:
        """The RunInstances parameters for one ClientToken (and LogicalID generation)."""
        tags = dict(self.tags)
        if generation is not None:
            tags[GENERATION] = str(generation)
        specs = [dict(s) for s in self.request.get("TagSpecifications") or ()]
        specs.append({"ResourceType": "instance", "Tags": tag_list(tags)})
        return {**self.request, "ClientToken": token, "TagSpecifications": specs}


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _with_private_ip(request: dict[str, Any], address: str) -> None:
    """``PrivateIpAddress`` where the request names a subnet and no address yet."""
    interfaces = request.get("NetworkInterfaces") or []
    if interfaces and isinstance(interfaces[0], dict):
        first = interfaces[0]
        if first.get("SubnetId") and not first.get("PrivateIpAddress"):
            first["PrivateIpAddress"] = address
    elif request.get("SubnetId") and not request.get("PrivateIpAddress"):
        request["PrivateIpAddress"] = address


def launch_of(spec: Spec, typed: EC2Properties, plain: dict[str, Any], owner: str) -> Launch:
    """The launch of ``spec``; raises :class:`PluginError` for tags EC2 cannot hold."""
    user_tags = {**(typed.Tags or {}), **spec.tags}
    check_tags(typed.Tags or {}, "Properties.Tags")
    check_tags(spec.tags, "Spec.Tags")
    request: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(plain["RunInstancesInput"]))
    request["MinCount"] = request["MaxCount"] = 1
    if spec.init:
        request["UserData"] = spec.init  # botocore sends it base64-encoded
    if spec.logical_id is not None and _is_ip(spec.logical_id):
        _with_private_ip(request, spec.logical_id)
    ours = {OWNER: owner}
    if spec.logical_id is not None:
        ours[LOGICAL_ID] = spec.logical_id
    devices = {a.VolumeId: a.Device for a in typed.AttachVolumeInputs or ()}
    free = [d for d in _DEVICES if d not in devices.values()]
    recorded = []
    for attachment in spec.attachments:
        if attachment.type == EBS:
            if attachment.id not in devices:
                if not free:
                    raise PluginError("Spec.Attachments: more EBS volumes than free devices")
                devices[attachment.id] = free.pop(0)
        else:
            recorded.append({"ID": attachment.id, "Type": attachment.type})
    if recorded:
        value = msgspec.json.encode(recorded).decode()
        if len(value) > MAX_VALUE:
            raise PluginError(
                f"Spec.Attachments: the attachments other than ebs take {len(value)} characters "
                f"as a tag, EC2 takes at most {MAX_VALUE}"
            )
        ours[ATTACHMENTS] = value
    spare = 1 if spec.logical_id is not None else 0  # the generation tag
    check_tags(user_tags, "Spec.Tags and Properties.Tags", ours=len(ours) + spare)
    return Launch(request=request, tags={**user_tags, **ours}, volumes=devices)
