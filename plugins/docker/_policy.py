"""The docker backend's policy: what a caller's Properties and Spec may ask of the engine.

Whatever lets a container reach the host (or another container) is refused unless the operator
allows its category (``serve --docker-allow CATEGORY[=VALUE]``, repeatable; :data:`CATEGORIES`;
README, "The docker policy", lists what each admits). The members any caller may set
(``SAFE_HOST_CONFIG``, ``SAFE_CONFIG`` in ``plugins/_docker_members.py``) pass; ``LogConfig``
passes with a driver that keeps logs in the engine (``json-file``, ``local``, ``none``); any
other member is refused unless it is null or a zero scalar (what Go sends for a field left
unset). Host paths are normalised (``..`` cannot leave an allowed prefix). With registries
given (``--docker-registry HOST``) ``Config.Image`` must name one of them
(``plugins/_docker_images.py``). A refusal is a :class:`PolicyRefused` naming the field and the
flag that would allow it, raised before anything is made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from instance_rpc.errors import PluginError
from instance_rpc.types import Spec

from ._images import image_registry, registry_host
from ._labels import refuse_reserved
from ._members import (
    HARMLESS_SECURITY_OPTIONS,
    LOCAL_LOG_DRIVERS,
    NAMESPACE_MODES,
    SAFE_CONFIG,
    SAFE_HOST_CONFIG,
    empty,
    member_path,
    normal_path,
    plain_local_driver,
    shares_namespace,
    unset,
)
from ._spec import volume_bind

__all__ = ["CATEGORIES", "DockerPolicy", "PolicyRefused"]

CATEGORIES = (
    "privileged",
    "host-namespaces",
    "capabilities",
    "security-options",
    "devices",
    "host-binds",
    "volumes-from",
    "sysctls",
    "runtime",
    "cgroup-parent",
)


class PolicyRefused(PluginError):
    """The docker policy refuses ``field``; ``allow`` is the ``--docker-allow`` value that
    would admit it (None: no category does). JSON-RPC -32000, ``data`` carries the three."""

    FIELDS = ("field", "reason", "allow")

    def __init__(self, field: str, reason: str, allow: str | None) -> None:
        remedy = f"allow with --docker-allow {allow}" if allow else "no --docker-allow allows it"
        super().__init__(
            f"docker policy refuses {field}: {reason}; {remedy}",
            data={"field": field, "allow": allow},
        )
        self.field = field
        self.reason = reason
        self.allow = allow


class DockerPolicy:
    """What this backend's callers may ask for. ``allow``: ``--docker-allow`` values
    (``CATEGORY`` or ``host-binds=PATH``); ``registries``: ``--docker-registry`` values (none:
    any registry). Raises :class:`PluginError` for an unknown category, a relative PATH or a
    registry that is not ``HOST[:PORT]``."""

    def __init__(self, allow: Iterable[str] = (), registries: Iterable[str] = ()) -> None:
        self.allowed: set[str] = set()
        self.bind_prefixes: list[str] = []
        for value in allow:
            category, sep, argument = value.partition("=")
            if category not in CATEGORIES:
                known = ", ".join(CATEGORIES)
                raise PluginError(f"--docker-allow {value}: unknown category; one of {known}")
            if category == "host-binds":
                if not sep or not argument.startswith("/"):
                    raise PluginError(
                        f"--docker-allow {value}: give an absolute path, host-binds=/srv"
                    )
                self.bind_prefixes.append(normal_path(argument))
            elif sep:
                raise PluginError(f"--docker-allow {value}: {category} takes no value")
            else:
                self.allowed.add(category)
        try:
            self.registries = sorted({registry_host(r) for r in registries})
        except ValueError as exc:
            raise PluginError(f"--docker-registry: {exc}") from None

    def describe(self) -> str:
        """One line for the start-up log."""
        allowed = sorted(self.allowed) + [f"host-binds={p}" for p in self.bind_prefixes]
        registries = ", ".join(self.registries) or "any"
        allows = ", ".join(allowed) or "nothing beyond the defaults"
        return f"docker policy allows: {allows}; registries: {registries}"

    def check_properties(self, plain: Mapping[str, Any]) -> None:
        """Raise :class:`PolicyRefused` for the first thing the Properties may not ask for."""
        config: Mapping[str, Any] = plain.get("Config") or {}
        for member, value in config.items():
            if member not in SAFE_CONFIG and not unset(value):
                raise PolicyRefused(
                    f"$.Config{member_path(member)}", "not a Config member the policy knows", None
                )
        refuse_reserved((config.get("Labels") or {}).keys(), "$.Config.Labels")
        self._check_image(str(config.get("Image", "")))
        host: Mapping[str, Any] = plain.get("HostConfig") or {}
        for member, value in host.items():
            self._check_host_member(f"$.HostConfig{member_path(member)}", member, value)
        for index, network in enumerate(plain.get("NetworkAttachments") or []):
            self._check_network(f"$.NetworkAttachments[{index}].Name", network.get("Name"))

    def check_spec(self, spec: Spec) -> None:
        """The Spec's own requests: its volume and network Attachments."""
        for index, attachment in enumerate(spec.attachments):
            field = f"Spec.Attachments[{index}].ID"
            if attachment.type == "volume":
                self._check_bind(field, volume_bind(attachment.id))
            elif attachment.type == "network":
                self._check_network(field, attachment.id)

    def _require(self, category: str, field: str, reason: str) -> None:
        if category not in self.allowed:
            raise PolicyRefused(field, reason, category)

    def _check_image(self, image: str) -> None:
        registry = image_registry(image)
        if self.registries and registry not in self.registries:
            allowed = ", ".join(self.registries)
            raise PolicyRefused(
                "$.Config.Image",
                f"registry {registry} is not one of --docker-registry {allowed}",
                None,
            )

    def _check_network(self, field: str, name: Any) -> None:
        if shares_namespace(name):
            self._require("host-namespaces", field, f"network {name} shares a namespace")

    def _check_host_path(self, field: str, path: str) -> None:
        normal = normal_path(path)
        if not path.startswith("/"):
            raise PolicyRefused(field, f"host path {path!r} is not absolute", None)
        for prefix in self.bind_prefixes:
            if prefix == "/" or normal == prefix or normal.startswith(prefix + "/"):
                return
        raise PolicyRefused(
            field, f"host path {normal} is not under an allowed prefix", f"host-binds={normal}"
        )

    def _check_bind(self, field: str, bind: Any) -> None:
        """``SOURCE:TARGET[:MODE]``: SOURCE is a host path when it holds a ``/`` (or starts with
        ``.`` or ``~``), else a volume's name; a lone TARGET is an anonymous volume."""
        source, sep, _ = str(bind).partition(":")
        if sep and ("/" in source or source.startswith((".", "~"))):
            self._check_host_path(field, source)

    def _check_driver(self, field: str) -> None:
        if "/" not in self.bind_prefixes:
            raise PolicyRefused(field, "a volume driver can mount any host path", "host-binds=/")

    def _check_mount(self, field: str, mount: Any) -> None:
        if not isinstance(mount, dict):
            raise PolicyRefused(field, "not an object", None)
        kind = mount.get("Type")
        if kind in ("bind", "npipe"):
            self._check_host_path(f"{field}.Source", str(mount.get("Source", "")))
        elif kind == "volume":
            options = mount.get("VolumeOptions")
            driver = options.get("DriverConfig") if isinstance(options, dict) else options
            if not plain_local_driver(driver):
                self._check_driver(f"{field}.VolumeOptions.DriverConfig")
        elif kind != "tmpfs":
            raise PolicyRefused(f"{field}.Type", f"mount type {kind!r} is not known", None)

    def _check_host_member(self, field: str, member: str, value: Any) -> None:
        check = _MEMBER_CHECKS.get(member)
        if check is not None:
            check(self, field, value)
        elif member not in SAFE_HOST_CONFIG and not unset(value):
            raise PolicyRefused(field, "not a HostConfig member the policy knows", None)


def _category(category: str, reason: str) -> Callable[[DockerPolicy, str, Any], None]:
    def check(policy: DockerPolicy, field: str, value: Any) -> None:
        if not empty(value):
            policy._require(category, field, reason)

    return check


def _namespace(policy: DockerPolicy, field: str, value: Any) -> None:
    if not unset(value) and shares_namespace(value):
        policy._require("host-namespaces", field, f"{value} shares a namespace")


def _security_options(policy: DockerPolicy, field: str, value: Any) -> None:
    options = [value] if isinstance(value, str) else list(value or [])
    for index, option in enumerate(options):
        if option not in HARMLESS_SECURITY_OPTIONS:
            policy._require(
                "security-options", f"{field}[{index}]", f"{option} loosens confinement"
            )


def _paths_override(policy: DockerPolicy, field: str, value: Any) -> None:
    if value is not None:  # even [] replaces the engine's default list (unmasks /proc/kcore, ...)
        policy._require("security-options", field, "replaces the engine's masked paths")


def _binds(policy: DockerPolicy, field: str, value: Any) -> None:
    for index, bind in enumerate(value or []):
        policy._check_bind(f"{field}[{index}]", bind)


def _mounts(policy: DockerPolicy, field: str, value: Any) -> None:
    for index, mount in enumerate(value or []):
        policy._check_mount(f"{field}[{index}]", mount)


def _log_config(policy: DockerPolicy, field: str, value: Any) -> None:
    driver = (value or {}).get("Type") if isinstance(value, dict) else value
    if driver not in LOCAL_LOG_DRIVERS:
        reason = f"log driver {driver!r} sends logs off the engine (set dockerd's default instead)"
        raise PolicyRefused(f"{field}.Type", reason, None)


def _host_path(policy: DockerPolicy, field: str, value: Any) -> None:
    if not unset(value):
        policy._check_host_path(field, str(value))


def _volume_driver(policy: DockerPolicy, field: str, value: Any) -> None:
    if value not in (None, "", "local"):
        policy._check_driver(field)


_MEMBER_CHECKS: dict[str, Callable[[DockerPolicy, str, Any], None]] = {
    "Privileged": _category("privileged", "a privileged container owns the host"),
    **dict.fromkeys(NAMESPACE_MODES, _namespace),
    "Cgroup": _namespace,
    "Links": _category("host-namespaces", "a link reads another container's environment"),
    "CapAdd": _category("capabilities", "added capabilities"),
    "Capabilities": _category("capabilities", "replaces the default capabilities"),
    "SecurityOpt": _security_options,
    "MaskedPaths": _paths_override,
    "ReadonlyPaths": _paths_override,
    "Devices": _category("devices", "host devices"),
    "DeviceRequests": _category("devices", "host devices"),
    "DeviceCgroupRules": _category("devices", "host devices"),
    "Binds": _binds,
    "Mounts": _mounts,
    "ContainerIDFile": _host_path,
    "VolumeDriver": _volume_driver,
    "VolumesFrom": _category("volumes-from", "another container's volumes"),
    "Sysctls": _category("sysctls", "kernel parameters"),
    "Runtime": _category("runtime", "another container runtime"),
    "Annotations": _category("runtime", "annotations for the runtime"),
    "CgroupParent": _category("cgroup-parent", "a cgroup outside the engine's"),
    "LogConfig": _log_config,
}
