"""From a Spec to the Engine API's container create body, and from a container back to what
DescribeInstances reports as its Properties."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

import msgspec

from instance_rpc.types import Spec

from ._labels import CREATION, LOGICAL_ID, OWNER, PROPERTIES, SPEC
from ._properties import DockerProperties

__all__ = [
    "DEFAULT_STOP_TIMEOUT",
    "VOLUME_MOUNT_ROOT",
    "Network",
    "container_body",
    "describe_view",
    "provisioned_stop_timeout",
    "volume_bind",
]

VOLUME_MOUNT_ROOT = "/mnt"
"""Where a ``volume`` attachment given by name alone is mounted: ``/mnt/<name>``."""


class Network(msgspec.Struct, frozen=True):
    """A network to connect a new container to, created first when missing."""

    name: str
    driver: str = "bridge"
    internal: bool = False


def volume_bind(attachment_id: str) -> str:
    """``NAME`` mounts at ``/mnt/NAME``; ``NAME:/path[:ro]`` is taken as a bind as it is."""
    if ":" in attachment_id:
        return attachment_id
    return f"{attachment_id}:{VOLUME_MOUNT_ROOT}/{attachment_id}"


def container_body(
    spec: Spec, typed: DockerProperties, plain: dict[str, Any], owner: str
) -> tuple[dict[str, Any], list[Network]]:
    """The create body (``Config`` with ``HostConfig`` and the labels) and the networks to
    create when missing; the first is the ``NetworkMode`` unless one is set, the others are to
    be connected before the start. Untyped fields of ``Config``/``HostConfig`` pass through."""
    body: dict[str, Any] = dict(plain["Config"])
    labels: dict[str, str] = {**(typed.Config.Labels or {}), **(typed.Tags or {}), **spec.tags}
    labels[OWNER] = owner
    labels[CREATION] = secrets.token_hex(16)
    labels[SPEC] = spec.fingerprint()
    raw = spec.properties if isinstance(spec.properties, msgspec.Raw) else None
    labels[PROPERTIES] = (bytes(raw) if raw is not None else msgspec.json.encode(plain)).decode()
    if spec.logical_id is not None:
        labels[LOGICAL_ID] = spec.logical_id
    body["Labels"] = labels
    if spec.init and typed.Config.Cmd is None:
        body["Cmd"] = ["/bin/sh", "-c", spec.init]
    body["StopTimeout"] = typed.StopTimeout
    host: dict[str, Any] = dict(plain.get("HostConfig") or {})
    networks = [Network(n.Name, n.Driver, n.Internal) for n in typed.NetworkAttachments or []]
    binds = list(host.get("Binds") or [])
    for attachment in spec.attachments:
        if attachment.type == "volume":
            binds.append(volume_bind(attachment.id))
        elif attachment.type == "network":
            networks.append(Network(attachment.id))
    if binds:
        host["Binds"] = binds
    networks = list(dict.fromkeys(networks))
    if networks and not host.get("NetworkMode"):
        # Joined at creation rather than connected later: an engine without its default bridge
        # (dockerd --bridge=none) leaves stale endpoints of a "default" container behind.
        host["NetworkMode"] = networks[0].name
    body["HostConfig"] = host
    return body, networks


class _View(msgspec.Struct):
    """What DescribeInstances reports as a container's Properties (all from the engine's list
    of containers: no call per container)."""

    name: str
    state: str
    status: str
    exit_code: int | None
    image: str
    ip_addresses: dict[str, str]
    created: str | None
    properties: msgspec.Raw


_ENCODER = msgspec.json.Encoder()
_EXITED = re.compile(r"^Exited \((-?\d+)\)")
DEFAULT_STOP_TIMEOUT = 10
"""Seconds of grace of a container whose Properties set no ``StopTimeout``."""


def provisioned_stop_timeout(labels: dict[str, str]) -> int:
    """``StopTimeout`` of the Properties a container was provisioned with (its label)."""
    try:
        plain = msgspec.json.decode(labels.get(PROPERTIES, "null"))
    except msgspec.DecodeError:
        return DEFAULT_STOP_TIMEOUT
    value = plain.get("StopTimeout") if isinstance(plain, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else DEFAULT_STOP_TIMEOUT


def _created(value: Any) -> str | None:
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return None
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_view(listed: dict[str, Any]) -> msgspec.Raw:
    """The reported Properties of a container, from its document in the engine's list
    (``GET /containers/json``): ``name``, ``state`` (the engine's: running, exited, ...),
    ``status`` (the engine's words, ``Up 5 minutes``), ``exit_code`` (once exited),
    ``image``, ``ip_addresses`` by network, ``created`` (RFC 3339, UTC, to the second) and
    ``properties`` (the Properties it was provisioned with)."""
    labels = listed.get("Labels") or {}
    networks = (listed.get("NetworkSettings") or {}).get("Networks") or {}
    status = str(listed.get("Status") or "")
    exited = _EXITED.match(status)
    names = listed.get("Names") or [""]
    view = _View(
        name=str(names[0]).lstrip("/"),
        state=str(listed.get("State") or "unknown"),
        status=status,
        exit_code=int(exited.group(1)) if exited else None,
        image=str(listed.get("Image", "")),
        ip_addresses={
            name: str(net.get("IPAddress"))
            for name, net in networks.items()
            if net and net.get("IPAddress")
        },
        created=_created(listed.get("Created")),
        properties=msgspec.Raw(labels.get(PROPERTIES, "null").encode()),
    )
    return msgspec.Raw(_ENCODER.encode(view))
