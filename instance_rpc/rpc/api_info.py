"""The document served at ``GET /info/api.json``: the vendor, the interfaces implemented and, per
method, an example request and response (InfraKit's Go server builds these by reflection; we
build them from the wire models), and each type's declared Properties.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec
from msgspec import Raw

from .. import handshake
from ..properties_schema import PropertiesDeclaration
from ..types import VendorInfo
from ..wire import (
    DescribeParams,
    DescribeResult,
    DestroyParams,
    LabelParams,
    MethodExample,
    OKResult,
    PluginInfo,
    ProvisionParams,
    ProvisionResult,
    ValidateParams,
    WireContext,
    WireInterface,
    WireInterfaceSpec,
    WireSpec,
    WireTypeInfo,
    WireVendor,
)

__all__ = ["plugin_info"]

_FIXED_EXAMPLE = Raw(b'{"instanceType":"small","disk":{"sizeGb":10}}')


def plugin_info(
    vendor: VendorInfo,
    type_names: Sequence[str],
    declarations: Mapping[str, PropertiesDeclaration],
) -> PluginInfo:
    """The document for a daemon serving ``type_names`` (the default first), whose backends
    declared ``declarations`` (type name -> declaration)."""
    # The Provision and Validate examples carry the default type's example when it declares
    # one (a daemon without a "" type: its first type, named in the example's params).
    example_type, example_properties = "", _FIXED_EXAMPLE
    default = declarations.get(type_names[0])
    if default is not None and default.example is not None:
        example_type, example_properties = type_names[0], default.example
    examples: list[tuple[str, msgspec.Struct, msgspec.Struct]] = [
        ("Instance.DescribeInstances", DescribeParams(), DescribeResult()),
        ("Instance.Destroy", DestroyParams(Instance="", Context=WireContext()), OKResult()),
        ("Instance.Label", LabelParams(Instance=""), OKResult()),
        (
            "Instance.Provision",
            ProvisionParams(Type=example_type, Spec=WireSpec(Properties=example_properties)),
            ProvisionResult(),
        ),
        (
            "Instance.Validate",
            ValidateParams(Type=example_type, Properties=example_properties),
            OKResult(),
        ),
    ]
    methods = [
        MethodExample(
            Request={"jsonrpc": "2.0", "method": name, "params": params, "id": "1"},
            Response={"result": result, "id": "1"},
        )
        for name, params, result in examples
    ]
    implemented = [WireInterfaceSpec.from_spec(spec) for spec in handshake.ALL_INTERFACES]
    interfaces = [
        WireInterface(Name=spec.Name, Version=spec.Version, Sub=spec.Sub, Methods=methods)
        for spec in implemented
    ]
    return PluginInfo(
        Vendor=WireVendor.from_vendor(vendor),
        Implements=implemented,
        Interfaces=interfaces,
        Types=_type_infos(declarations) or msgspec.UNSET,
    )


def _type_infos(declarations: Mapping[str, PropertiesDeclaration]) -> dict[str, WireTypeInfo]:
    return {
        name: WireTypeInfo(
            ExampleProperties=msgspec.UNSET if d.example is None else d.example,
            PropertiesSchema=msgspec.UNSET if d.schema is None else d.schema,
        )
        for name, d in sorted(declarations.items())
    }
