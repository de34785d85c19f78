"""What each member of the Engine API's container create body is to the docker policy
(``plugins/_docker_policy.py``): the members any caller may set, and the helpers that read a
member's value (a zero value, a namespace mode, a host path, a volume driver).

Docker Engine API, ``POST /containers/create``: ``Config`` is the ContainerConfig,
``HostConfig`` the HostConfig.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

__all__ = [
    "HARMLESS_SECURITY_OPTIONS",
    "LOCAL_LOG_DRIVERS",
    "NAMESPACE_MODES",
    "SAFE_CONFIG",
    "SAFE_HOST_CONFIG",
    "empty",
    "member_path",
    "normal_path",
    "plain_local_driver",
    "shares_namespace",
    "unset",
]

SAFE_HOST_CONFIG = frozenset(
    {
        # limits: they only restrict the container
        *("Memory", "MemoryReservation", "MemorySwap", "MemorySwappiness", "KernelMemory"),
        *("KernelMemoryTCP", "NanoCpus", "CpuShares", "CpuPeriod", "CpuQuota", "CpuCount"),
        *("CpuPercent", "CpuRealtimePeriod", "CpuRealtimeRuntime", "CpusetCpus", "CpusetMems"),
        *("BlkioWeight", "BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps"),
        *("BlkioDeviceReadIOps", "BlkioDeviceWriteIOps", "IOMaximumIOps", "IOMaximumBandwidth"),
        *("PidsLimit", "Ulimits", "OomKillDisable", "OomScoreAdj", "ShmSize", "StorageOpt"),
        # life cycle
        *("RestartPolicy", "AutoRemove", "Init", "ConsoleSize", "Isolation"),
        # the container's own view of itself
        *("ReadonlyRootfs", "Tmpfs", "Dns", "DnsOptions", "DnsSearch", "ExtraHosts", "GroupAdd"),
        "CapDrop",
        # the container's ports published on the host's addresses
        *("PortBindings", "PublishAllPorts"),
    }
)
"""``HostConfig`` members any caller may set (Docker Engine API, ``POST /containers/create``)."""

SAFE_CONFIG = frozenset(
    {
        *("Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr"),
        *("ExposedPorts", "Tty", "OpenStdin", "StdinOnce", "Env", "Cmd", "Healthcheck"),
        *("ArgsEscaped", "Image", "Volumes", "WorkingDir", "Entrypoint", "NetworkDisabled"),
        *("MacAddress", "OnBuild", "Labels", "StopSignal", "StopTimeout", "Shell"),
    }
)
"""``Config`` members (the Engine API's ContainerConfig; ``Labels`` and ``Image`` are checked)."""

LOCAL_LOG_DRIVERS = frozenset({"", "json-file", "local", "none"})
NAMESPACE_MODES = ("PidMode", "IpcMode", "NetworkMode", "UTSMode", "UsernsMode", "CgroupnsMode")
HARMLESS_SECURITY_OPTIONS = frozenset(
    {"no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"}
)


def member_path(member: str) -> str:
    """A member's path segment: ``.Name``, or ``["odd.name"]`` for any other key."""
    return f".{member}" if member.isidentifier() else f"[{json.dumps(member)}]"


def normal_path(path: str) -> str:
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/") if normal.startswith("//") else normal


def unset(value: Any) -> bool:
    """Null, or a zero scalar: what Go marshals for a field left at its zero value."""
    return value is None or (isinstance(value, bool | int | float | str) and not value)


def empty(value: Any) -> bool:
    return unset(value) or value == [] or value == {}


def plain_local_driver(driver: Any) -> bool:
    """No driver config, or the ``local`` driver without options (a plain named volume)."""
    if empty(driver):
        return True
    return (
        isinstance(driver, dict)
        and empty(driver.get("Options"))
        and driver.get("Name") in (None, "", "local")
    )


def shares_namespace(value: Any) -> bool:
    mode = str(value).lower()
    return mode == "host" or mode.startswith("container:")
