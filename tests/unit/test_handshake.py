from __future__ import annotations

import pytest

from instance_rpc import InterfaceNotSupported, InterfaceSpec, VersionMismatch
from instance_rpc.handshake import (
    check_compatible,
    hello_result,
    implements_result,
    offered_interfaces,
    types_result,
)

V060, V061 = InterfaceSpec("Instance", "0.6.0"), InterfaceSpec("Instance", "0.6.1")


def test_both_generations_are_compatible() -> None:
    assert check_compatible([V060]) == V060
    assert check_compatible([InterfaceSpec("Group", "0.1.0"), V061]) == V061


def test_another_version_is_a_mismatch_naming_both() -> None:
    with pytest.raises(VersionMismatch) as caught:
        check_compatible([InterfaceSpec("Instance", "0.5.0")])
    assert "Instance/0.6.0" in str(caught.value)
    assert "Instance/0.5.0" in str(caught.value)


def test_another_interface_is_not_supported() -> None:
    with pytest.raises(
        InterfaceNotSupported, match=r"does not implement Instance/0.6.0.*Flavor/0.1.0"
    ):
        check_compatible([InterfaceSpec("Flavor", "0.1.0")])
    with pytest.raises(InterfaceNotSupported, match="implements nothing"):
        check_compatible([])


def test_results_name_the_default_type_dot() -> None:
    assert types_result(["", "file"]).Types == {"Instance/0.6.0": [".", "file"]}
    hello = hello_result(["", "file"])
    assert hello.Objects is not None
    assert [o.Name for o in hello.Objects["Instance/0.6.1"]] == [".", "file"]
    assert offered_interfaces(hello) == [V061]
    assert offered_interfaces(implements_result()) == [V060]
