"""The ``ec2`` backend's Properties: InfraKit's AWS instance plugin shape, as msgspec Structs.

InfraKit's AWS plugin (``pkg/provider/aws/plugin/instance``) takes
``{"RunInstancesInput": {...}, "Tags": {...}, "AttachVolumeInputs": [...]}``, where
``RunInstancesInput`` is the EC2 API's RunInstances request (its own member names, e.g.
``ImageId``, ``InstanceType``, ``SubnetId``, ``SecurityGroupIds``) and each of
``AttachVolumeInputs`` an AttachVolume request (``Device``, ``VolumeId``).

The Structs type the members this backend reads or that are commonly mistyped; every other
member of ``RunInstancesInput`` is passed to the API as given (the API judges it). ``MinCount``
and ``MaxCount`` are always 1; ``ClientToken`` is the backend's (``_tokens.py``) and instance
tags go in ``Tags`` (applied at launch with the Spec's), so callers may set neither.
:func:`parse_properties` names the failing field, e.g.
``Expected `str`, got `int` - at `$.RunInstancesInput.ImageId```.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from instance_rpc.errors import InvalidProperties
from instance_rpc.types import Properties

__all__ = [
    "EXAMPLE_PROPERTIES",
    "AttachVolumeInput",
    "EC2Properties",
    "IamInstanceProfile",
    "Placement",
    "RunInstancesInput",
    "parse_properties",
]

_NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class Placement(msgspec.Struct, omit_defaults=True):
    AvailabilityZone: str | None = None
    GroupName: str | None = None
    Tenancy: str | None = None


class IamInstanceProfile(msgspec.Struct, omit_defaults=True):
    Arn: str | None = None
    Name: str | None = None


class TagSpecification(msgspec.Struct, omit_defaults=True):
    """Tags of other resources the launch makes (volumes, network interfaces)."""

    ResourceType: Literal["volume", "network-interface", "spot-instances-request"]
    Tags: list[dict[str, str]] | None = None


class RunInstancesInput(msgspec.Struct, omit_defaults=True):
    """The EC2 API's RunInstances request; ``ImageId`` is required."""

    ImageId: _NonEmpty
    InstanceType: str | None = None
    KeyName: str | None = None
    SubnetId: str | None = None
    PrivateIpAddress: str | None = None
    SecurityGroupIds: list[str] | None = None
    SecurityGroups: list[str] | None = None
    IamInstanceProfile: IamInstanceProfile | None = None
    Placement: Placement | None = None
    BlockDeviceMappings: list[dict[str, Any]] | None = None
    NetworkInterfaces: list[dict[str, Any]] | None = None
    EbsOptimized: bool | None = None
    UserData: str | None = None
    MinCount: Literal[1] = 1
    MaxCount: Literal[1] = 1
    TagSpecifications: list[TagSpecification] | None = None


class AttachVolumeInput(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """An EBS volume to attach once the instance runs (the instance is the new one)."""

    Device: _NonEmpty
    VolumeId: _NonEmpty


class EC2Properties(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """What ``Spec.Properties`` hold for the ``ec2`` backend."""

    RunInstancesInput: RunInstancesInput
    Tags: dict[str, str] | None = None
    AttachVolumeInputs: list[AttachVolumeInput] | None = None


EXAMPLE_PROPERTIES: dict[str, Any] = {
    "RunInstancesInput": {
        "ImageId": "ami-0123456789abcdef0",
        "InstanceType": "t3.micro",
        "KeyName": "ops",
        "SubnetId": "subnet-0123456789abcdef0",
        "SecurityGroupIds": ["sg-0123456789abcdef0"],
        "IamInstanceProfile": {"Name": "web"},
        "Placement": {"AvailabilityZone": "us-east-1a"},
    },
    "Tags": {"tier": "web"},
    "AttachVolumeInputs": [{"Device": "/dev/sdf", "VolumeId": "vol-0123456789abcdef0"}],
}
"""A complete example (InfraKit's ``ExampleProperties``)."""

_DECODER = msgspec.json.Decoder(EC2Properties)
_REFUSED = {
    "ClientToken": "the backend derives it (see the EC2 docs page: ClientTokens)",
    "MinCount": "always 1",
    "MaxCount": "always 1",
}


def parse_properties(properties: Properties) -> tuple[EC2Properties, dict[str, Any]]:
    """The typed Properties and the same document as plain values (the API request's body).

    Raises :class:`~instance_rpc.errors.InvalidProperties` naming the field
    (``invalid Properties: Expected `str`, got `int` - at `$.RunInstancesInput.ImageId```).
    """
    if properties is None:
        raise InvalidProperties("Object missing required field `RunInstancesInput` - at `$`")
    try:
        if isinstance(properties, msgspec.Raw):
            typed = _DECODER.decode(properties)
            plain = msgspec.json.decode(properties)
        else:
            typed = msgspec.convert(properties, EC2Properties)
            plain = properties
    except msgspec.ValidationError as exc:
        raise InvalidProperties(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise InvalidProperties(f"not JSON: {exc}") from None
    run = plain["RunInstancesInput"]
    if "ClientToken" in run:
        raise InvalidProperties(
            f"$.RunInstancesInput.ClientToken: {_REFUSED['ClientToken']}, do not set it"
        )
    return typed, plain
