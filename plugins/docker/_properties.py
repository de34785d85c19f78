"""The ``docker`` backend's Properties: InfraKit's shape, as msgspec Structs.

InfraKit's Docker instance plugin (``pkg/provider/docker/plugin/instance``) takes
``{"Tags", "Config", "HostConfig", "NetworkAttachments"}``, where ``Config`` and ``HostConfig``
are the Docker Engine API's container create bodies (``POST /containers/create``). We add
``Pull`` and ``StopTimeout``.

The Structs type the fields this backend reads or that are commonly mistyped; every other field
of ``Config`` and ``HostConfig`` is passed to the engine as given (an unknown member there is the
engine's to judge). At the top level an unknown member is an error, so ``tags`` for ``Tags`` is
not dropped silently. :func:`parse_properties` names the failing field, e.g.
``Expected `str`, got `int` - at `$.Config.Image```.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from instance_rpc.errors import InvalidProperties
from instance_rpc.types import Properties

__all__ = [
    "EXAMPLE_PROPERTIES",
    "ContainerConfig",
    "DockerProperties",
    "HostConfig",
    "NetworkAttachment",
    "RestartPolicy",
    "parse_properties",
]

StringOrList = str | list[str]
"""The Engine API takes ``Cmd`` and ``Entrypoint`` as a string or a list (its ``StrSlice``)."""


class ContainerConfig(msgspec.Struct, omit_defaults=True):
    """The Engine API's container config; only ``Image`` is required."""

    Image: Annotated[str, msgspec.Meta(min_length=1)]
    Cmd: StringOrList | None = None
    Entrypoint: StringOrList | None = None
    Env: list[str] | None = None
    WorkingDir: str | None = None
    User: str | None = None
    Hostname: str | None = None
    Labels: dict[str, str] | None = None
    StopSignal: str | None = None


class RestartPolicy(msgspec.Struct, omit_defaults=True):
    Name: Literal["", "no", "always", "unless-stopped", "on-failure"] = ""
    MaximumRetryCount: Annotated[int, msgspec.Meta(ge=0)] = 0


class HostConfig(msgspec.Struct, omit_defaults=True):
    """The Engine API's host config: resources, binds, restart policy, network mode, ..."""

    Binds: list[str] | None = None
    Memory: Annotated[int, msgspec.Meta(ge=0)] | None = None
    NanoCpus: Annotated[int, msgspec.Meta(ge=0)] | None = None
    CpuShares: Annotated[int, msgspec.Meta(ge=0)] | None = None
    RestartPolicy: RestartPolicy | None = None
    NetworkMode: str | None = None
    AutoRemove: bool | None = None
    Privileged: bool | None = None


class NetworkAttachment(msgspec.Struct, omit_defaults=True):
    """A network to connect the container to, created (with ``Driver``) when missing."""

    Name: Annotated[str, msgspec.Meta(min_length=1)]
    Driver: str = "bridge"
    Internal: bool = False


class DockerProperties(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """What ``Spec.Properties`` hold for the ``docker`` backend."""

    Config: ContainerConfig
    HostConfig: HostConfig | None = None
    NetworkAttachments: list[NetworkAttachment] | None = None
    Tags: dict[str, str] | None = None
    Pull: Literal["missing", "always", "never"] = "missing"
    StopTimeout: Annotated[int, msgspec.Meta(ge=0, le=3600)] = 10


EXAMPLE_PROPERTIES: dict[str, Any] = {
    "Config": {
        "Image": "busybox:latest",
        # The Spec's Init is the container's command (``/bin/sh -c INIT``); without one the
        # container runs until it is stopped.
        "Entrypoint": [
            "/bin/sh",
            "-c",
            'test $# -gt 0 && exec "$@"; trap "exit 0" TERM; sleep 2147483647 & wait',
            "sh",
        ],
        "Env": ["PORT=8080"],
        "WorkingDir": "/",
    },
    "HostConfig": {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}},
    "Tags": {"tier": "web"},
    "Pull": "missing",
    "StopTimeout": 5,
}
"""An example (InfraKit's ``ExampleProperties``) that runs on any engine that has (or can pull)
``busybox:latest``, networks or not: ``instance-rpc conformance`` provisions with it."""

_DECODER = msgspec.json.Decoder(DockerProperties)


def parse_properties(properties: Properties) -> tuple[DockerProperties, dict[str, Any]]:
    """The typed Properties and the same document as plain values (for the engine's bodies).

    Raises :class:`~instance_rpc.errors.InvalidProperties` naming the field
    (``invalid Properties: Expected `str`, got `int` - at `$.Config.Image```).
    """
    try:
        if isinstance(properties, msgspec.Raw):
            typed = _DECODER.decode(properties)
            plain = msgspec.json.decode(properties)
        else:
            typed = msgspec.convert(properties, DockerProperties)
            plain = properties
    except msgspec.ValidationError as exc:
        raise InvalidProperties(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise InvalidProperties(f"not JSON: {exc}") from None
    return typed, plain
