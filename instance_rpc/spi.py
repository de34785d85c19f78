"""The Instance plugin interface: what every backend and every client implements."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

from .types import (
    ROLLING_UPDATE,
    TERMINATION,
    Context,
    Description,
    InterfaceSpec,
    Properties,
    Spec,
    VendorInfo,
)

__all__ = [
    "INTERFACE",
    "ROLLING_UPDATE",
    "SUPPORTED_VERSIONS",
    "TERMINATION",
    "EncodedDescriber",
    "InstanceCounter",
    "Plugin",
    "VendorProvider",
]

INTERFACE = InterfaceSpec("Instance", "0.6.0")
"""The interface this package implements."""

SUPPORTED_VERSIONS: tuple[str, ...] = ("0.6.0", "0.6.1")
"""Versions of ``Instance`` whose methods are identical on the wire (0.6.1 changed only the
handshake), so a client of one works with a plugin of the other."""


@runtime_checkable
class Plugin(Protocol):
    """An Instance plugin: creates, labels, describes and destroys instances.

    Backends raise :class:`~instance_rpc.errors.PluginError` (or any exception) to fail a call;
    its message is what remote callers see.

    Optional attributes (not members of the protocol: a backend without them is a plugin too)
    declare the backend's Properties, read by :mod:`instance_rpc.properties_schema`:

    - ``properties_type``: a type msgspec decodes into, usually a ``msgspec.Struct``;
    - or ``properties_schema``: a JSON Schema document (a dict);
    - ``example_properties``: an example value (InfraKit's ``ExampleProperties``).

    From the declaration the daemon refuses Validate and Provision whose Properties do not fit
    (-32000, ``invalid Properties: Expected `str`, got `int` - at `$.Config.Image```) before
    the backend is called (JSON ``null`` is left to the backend), and publishes the JSON Schema
    and the example per type in ``GET /info/api.json``. Local callers of a backend are not
    checked: its own methods still decide for them.
    """

    async def validate(self, properties: Properties) -> None:
        """Check ``properties`` without side effects; raise if they are unusable.

        From the server they arrive as ``msgspec.Raw`` (or ``None`` for JSON ``null``); local
        callers may pass plain values. :func:`~instance_rpc.types.load_properties` reads both.
        """

    async def provision(self, spec: Spec) -> str | None:
        """Create an instance from a :class:`~instance_rpc.types.Spec`; return its ID."""

    async def label(self, instance: str, labels: Mapping[str, str]) -> None:
        """Merge ``labels`` into the instance's tags (existing keys are overwritten)."""

    async def destroy(self, instance: str, context: Context) -> None:
        """Destroy the instance; ``context.reason`` says why."""

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        """Instances whose tags include all of ``tags``; with their properties if asked."""


@runtime_checkable
class VendorProvider(Protocol):
    """Optional: a plugin that names its maker in the spec endpoint."""

    def vendor_info(self) -> VendorInfo: ...


@runtime_checkable
class InstanceCounter(Protocol):
    """Optional: a plugin that can say how many instances it knows without describing them.

    Called on every metrics scrape, on the event loop: it must be cheap (a ``len()``), never
    block and never do I/O.
    """

    def instance_count(self) -> int: ...


@runtime_checkable
class EncodedDescriber(Protocol):
    """Optional: a plugin that keeps its descriptions half-encoded, so a large
    DescribeInstances answer is spliced from bytes instead of built from objects.

    ``describe_encoded(tags, properties)`` answers what ``describe_instances`` answers (same
    instances, same order) as the encoded JSON array of the result's ``Descriptions``: the
    bytes ``msgspec.json.encode([WireDescription.from_description(d, properties) ...])`` gives
    (``instance_rpc.wire``: Go field names, ``Properties`` only when present and asked for),
    ``b"[]"`` when none match. The caller puts it in the answer as it is (``msgspec.Raw``).
    A large array may come as an iterable of pieces whose concatenation is those bytes
    (slices of, say, 1,000 descriptions): the daemon then sends each piece as it is produced
    (:mod:`instance_rpc.rpc.streaming`), so the whole answer is never held. The pieces are produced
    on the event loop, between writes: the instances must be chosen before returning, and each
    piece must be cheap to make.
    The daemon uses it only when the class that defines ``describe_encoded`` also defines
    ``describe_instances``: a subclass that overrides ``describe_instances`` alone is described
    through its override.
    """

    async def describe_encoded(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> bytes | Iterable[bytes]: ...
