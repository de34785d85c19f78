"""From a Spec to the Engine API's container create body, and from a container back to what
DescribeInstances reports as its Properties."""

from __future__ import annotations

import secrets
from typing import Any

import msgspec

from instance_rpc.types import Spec

from ._docker_labels import CREATION, LOGICAL_ID, OWNER, PROPERTIES, SPEC
from ._docker_properties import DockerProperties

__all__ = ["VOLUME_MOUNT_ROOT", "Network", "container_body", "describe_view", "volume_bind"]

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
    """What DescribeInstances reports as a container's Properties."""

    name: str
    state: str
    exit_code: int | None
    image: str
    ip_addresses: dict[str, str]
    started_at: str | None
    finished_at: str | None
    properties: msgspec.Raw


_ENCODER = msgspec.json.Encoder()
_ZERO_TIME = "0001-01-01T00:00:00Z"


def _time(value: Any) -> str | None:
    return value if isinstance(value, str) and value and value != _ZERO_TIME else None


def describe_view(shown: dict[str, Any], state: str | None = None) -> msgspec.Raw:
    """The reported Properties of an inspected container; ``state`` overrides the engine's
    (``stopping`` while a Destroy runs)."""
    engine_state = shown.get("State") or {}
    config = shown.get("Config") or {}
    labels = config.get("Labels") or {}
    networks = (shown.get("NetworkSettings") or {}).get("Networks") or {}
    status = str(engine_state.get("Status", "unknown"))
    exit_code = engine_state.get("ExitCode") if status in ("exited", "dead") else None
    view = _View(
        name=str(shown.get("Name", "")).lstrip("/"),
        state=state or status,
        exit_code=exit_code,
        image=str(config.get("Image", "")),
        ip_addresses={
            name: str(net.get("IPAddress"))
            for name, net in networks.items()
            if net and net.get("IPAddress")
        },
        started_at=_time(engine_state.get("StartedAt")),
        finished_at=_time(engine_state.get("FinishedAt")),
        properties=msgspec.Raw(labels.get(PROPERTIES, "null").encode()),
    )
    return msgspec.Raw(_ENCODER.encode(view))
