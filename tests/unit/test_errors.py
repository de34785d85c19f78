from __future__ import annotations

import pytest

import instance_rpc
from instance_rpc import errors


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (-32000, errors.PluginError),
        (-32700, errors.ParseError),
        (-32600, errors.InvalidRequest),
        (-32601, errors.MethodNotFound),
        (-32602, errors.InvalidParams),
        (-32603, errors.InternalError),
    ],
)
def test_codes_map_to_classes(code: int, cls: type[errors.RPCError]) -> None:
    error = errors.error_for_code(code, "boom", {"k": 1})
    assert type(error) is cls
    assert (error.code, error.message, error.data, str(error)) == (code, "boom", {"k": 1}, "boom")


def test_unlisted_codes_keep_their_number() -> None:
    error = errors.error_for_code(-31999, "custom")
    assert type(error) is errors.RPCError
    assert error.code == -31999


def test_backend_errors_are_plugin_errors_with_go_messages() -> None:
    assert str(errors.InstanceNotFound("i-1")) == "instance not found: i-1"
    assert str(errors.NoSuchType("t")) == "no-plugin:t"
    assert str(errors.InvalidProperties("bad")) == "invalid Properties: bad"
    assert errors.InstanceNotFound("x").code == -32000


def test_every_error_is_an_instance_rpc_error() -> None:
    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, type):
            assert issubclass(value, errors.InstanceRPCError), name


def _isort_style(name: str) -> tuple[int, str]:
    """CONSTANTS, then Classes, then functions: the order ruff keeps ``__all__`` in."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def test_public_names_are_sorted_and_exist() -> None:
    assert instance_rpc.__all__ == sorted(instance_rpc.__all__, key=_isort_style)
    for name in instance_rpc.__all__:
        assert hasattr(instance_rpc, name), name
