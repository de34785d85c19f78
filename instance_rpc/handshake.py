"""The handshake of both generations of InfraKit clients, and version negotiation.

- ``Handshake.Implements`` (0.6.0-era clients): the interfaces, ``{"APIs": [{"Name", "Version"}]}``.
- ``Handshake.Types`` (0.6.0-era): per interface, the type names served (``"."`` is the default).
- ``Handshake.Hello`` (0.6.1-era): per interface, the objects served, ``{"Name", "ProxyFor"}``.

Each generation is answered with the version it checks for, so Go clients of either pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .errors import InterfaceNotSupported, VersionMismatch
from .spi import INTERFACE, SUPPORTED_VERSIONS
from .types import InterfaceSpec
from .wire import HelloObject, HelloResult, ImplementsResult, TypesResult, WireInterfaceSpec

__all__ = [
    "DEFAULT_TYPE_NAME",
    "HELLO_INTERFACE",
    "IMPLEMENTS_INTERFACE",
    "check_compatible",
    "hello_result",
    "implements_result",
    "offered_interfaces",
    "types_result",
]

DEFAULT_TYPE_NAME = "."
"""How handshakes name the default (``Type: ""``) backend."""

IMPLEMENTS_INTERFACE = InterfaceSpec(INTERFACE.name, "0.6.0")
"""What ``Implements`` and ``Types`` announce: 0.6.0-era clients check for exactly this."""

HELLO_INTERFACE = InterfaceSpec(INTERFACE.name, "0.6.1")
"""What ``Hello`` announces: only 0.6.1-era clients call it."""

ALL_INTERFACES: tuple[InterfaceSpec, ...] = (IMPLEMENTS_INTERFACE, HELLO_INTERFACE)


def _handshake_names(type_names: Iterable[str]) -> list[str]:
    return [name or DEFAULT_TYPE_NAME for name in type_names]


def implements_result() -> ImplementsResult:
    return ImplementsResult(APIs=[WireInterfaceSpec.from_spec(IMPLEMENTS_INTERFACE)])


def types_result(type_names: Iterable[str]) -> TypesResult:
    return TypesResult(Types={IMPLEMENTS_INTERFACE.encode(): _handshake_names(type_names)})


def hello_result(type_names: Iterable[str]) -> HelloResult:
    objects = [HelloObject(Name=name) for name in _handshake_names(type_names)]
    return HelloResult(Objects={HELLO_INTERFACE.encode(): objects})


def offered_interfaces(result: HelloResult | ImplementsResult) -> list[InterfaceSpec]:
    """The interfaces a plugin says it implements, from either handshake's answer."""
    if isinstance(result, HelloResult):
        return [InterfaceSpec.decode(key) for key in (result.Objects or {})]
    return [api.to_spec() for api in result.APIs or ()]


def check_compatible(
    offered: Sequence[InterfaceSpec],
    wanted: InterfaceSpec = INTERFACE,
    compatible_versions: Sequence[str] = SUPPORTED_VERSIONS,
) -> InterfaceSpec:
    """Pick the offered interface that serves ``wanted``, or say precisely why none does."""
    same_name = [spec for spec in offered if spec.name == wanted.name]
    for spec in same_name:
        if spec.version in compatible_versions:
            return spec
    listed = [spec.encode() for spec in offered]
    if same_name:
        raise VersionMismatch(wanted.encode(), listed)
    raise InterfaceNotSupported(wanted.encode(), listed)
