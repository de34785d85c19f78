"""Checks of the handshake (Hello / Implements / Types) and the spec endpoint ``/info/api.json``."""

from __future__ import annotations

from ...spi import INTERFACE, SUPPORTED_VERSIONS
from .report import expect
from .run import Run

__all__ = ["handshake", "spec_endpoint"]


async def handshake(run: Run) -> None:
    interfaces = await run.client.hello()
    offered = {spec.encode(): names for spec, names in interfaces.items()}
    ours = {
        key: names
        for key, names in offered.items()
        if key.split("/")[0] == INTERFACE.name and key.split("/")[1] in SUPPORTED_VERSIONS
    }
    expect(bool(ours), f"handshake offers no Instance/{SUPPORTED_VERSIONS}: {sorted(offered)}")
    wanted = run.client.type_name or "."
    for key, names in ours.items():
        expect(wanted in names, f"handshake lists types {names} for {key}, not {wanted!r}")
    await run.client.handshake()


async def spec_endpoint(run: Run) -> None:
    info = await run.client.info()
    implemented = {(spec.Name, spec.Version) for spec in info.Implements}
    expect(
        any((INTERFACE.name, version) in implemented for version in SUPPORTED_VERSIONS),
        f"/info/api.json implements {sorted(implemented)}, not Instance",
    )
    methods = {
        str(example.Request.get("method"))
        for interface in info.Interfaces
        if interface.Name == INTERFACE.name
        for example in interface.Methods
    }
    wanted = {f"Instance.{name}" for name in ("Validate", "Provision", "Label", "Destroy")}
    wanted.add("Instance.DescribeInstances")
    expect(wanted <= methods, f"/info/api.json lacks examples of {sorted(wanted - methods)}")
