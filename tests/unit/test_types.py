from __future__ import annotations

import msgspec
import pytest

from instance_rpc import ROLLING_UPDATE, TERMINATION, Description, InterfaceSpec, Spec
from instance_rpc.types import encode_properties, json_kind, load_properties


def test_properties_are_kept_as_raw_json() -> None:
    spec = Spec(properties={"a": [1, 2]})
    assert isinstance(spec.properties, msgspec.Raw)
    assert load_properties(spec.properties) == {"a": [1, 2]}
    raw = msgspec.Raw(b'{"n":1.50}')
    assert Spec(properties=raw).properties is raw
    assert Spec().properties is None
    assert encode_properties(None) is None


def test_descriptions_order_by_id() -> None:
    unordered = [Description(id="c"), Description(id="a", tags={"x": "1"}), Description(id="b")]
    assert [d.id for d in sorted(unordered)] == ["a", "b", "c"]
    assert Description(id="a").compare(Description(id="b")) == -1
    assert Description(id="b").compare(Description(id="a")) == 1
    assert Description(id="a").compare(Description(id="a", tags={"z": "9"})) == 0


def test_fingerprint_ignores_key_order_and_number_spelling() -> None:
    one = Description(
        id="i", tags={"a": "1", "b": "2"}, properties=msgspec.Raw(b'{"x":1.50,"y":2}')
    )
    two = Description(
        id="i", tags={"b": "2", "a": "1"}, properties=msgspec.Raw(b'{"y":2, "x":1.5}')
    )
    assert one.fingerprint() == two.fingerprint()
    assert len(one.fingerprint()) == 64
    changed = Description(id="i", tags={"a": "1", "b": "3"}, properties=one.properties)
    assert changed.fingerprint() != one.fingerprint()


def test_spec_fingerprint_is_stable_and_sensitive() -> None:
    base = Spec(tags={"g": "web"}, properties={"size": 1}, init="echo hi")
    assert (
        base.fingerprint()
        == Spec(init="echo hi", properties={"size": 1}, tags={"g": "web"}).fingerprint()
    )
    assert (
        base.fingerprint()
        != Spec(tags={"g": "web"}, properties={"size": 2}, init="echo hi").fingerprint()
    )
    assert base.fingerprint() != Spec(tags={"g": "web"}, properties={"size": 1}).fingerprint()


def test_contexts() -> None:
    assert (ROLLING_UPDATE.reason, TERMINATION.reason) == ("rolling_update", "terminate")


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("Instance/0.6.0", InterfaceSpec("Instance", "0.6.0")),
        ("Instance/0.6.1/sub", InterfaceSpec("Instance", "0.6.1", "sub")),
    ],
)
def test_interface_spec_round_trips(text: str, spec: InterfaceSpec) -> None:
    assert InterfaceSpec.decode(text) == spec
    assert spec.encode() == text
    assert str(spec) == text


@pytest.mark.parametrize("text", ["Instance", "", "/0.6.0", "Instance/", "a/b/c/d"])
def test_interface_spec_rejects_malformed_text(text: str) -> None:
    with pytest.raises(ValueError, match="not an interface spec"):
        InterfaceSpec.decode(text)


@pytest.mark.parametrize(
    ("value", "kind"),
    [(None, "null"), (True, "boolean"), (1, "number"), (1.5, "number"), ("s", "string"),
     ([], "array"), ({}, "object")],
)  # fmt: skip
def test_json_kind(value: object, kind: str) -> None:
    assert json_kind(value) == kind


def test_descriptions_cost_the_cyclic_collector_nothing() -> None:
    # 100,000 tracked descriptions alive after a describe cost one long collection each time.
    import gc

    described = Description(id="i", tags={"a": "b"}, properties={"x": [1, 2]})
    assert not gc.is_tracked(described)
    assert described.properties == msgspec.Raw(b'{"x":[1,2]}')
