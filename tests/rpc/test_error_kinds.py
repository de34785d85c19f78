"""Errors keep their kind over the wire: the daemon names it in the error's ``data`` and the
client raises the class a local backend raised, with the same message and arguments.

Every ``PluginError`` subclass the package and its backends define is checked, found by walking
the packages: a new one that does not travel fails here until it declares its ``FIELDS``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import types
import typing
from pathlib import Path
from typing import Any

import msgspec
import pytest

import instance_rpc
import instance_rpc_plugins
from instance_rpc import PluginClient
from instance_rpc.errors import (
    InstanceNotFound,
    InternalError,
    InvalidParams,
    InvalidProperties,
    InvalidRequest,
    MethodNotFound,
    NoSuchType,
    ParseError,
    PluginError,
    RPCError,
)
from instance_rpc.testing import running_server
from instance_rpc.types import Properties
from instance_rpc.wire import EmptyParams, OKResult
from instance_rpc_plugins.memory import MemoryPlugin
from tests.http import post


def _import_everything() -> None:
    for package in (instance_rpc, instance_rpc_plugins):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)


def _shipped_plugin_errors() -> list[type[PluginError]]:
    _import_everything()
    found: list[type[PluginError]] = []
    pending: list[type[PluginError]] = [PluginError]
    while pending:
        cls = pending.pop()
        if cls.__module__.startswith(("instance_rpc.", "instance_rpc_plugins.")):
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda cls: cls.__name__)


_SAMPLES: dict[Any, Any] = {
    str: "sample-a",
    int: 409,
    Path: Path("/srv/state"),
    list[str]: ["", "typed"],
}


def _sample(name: str, annotation: Any) -> Any:
    """A value of ``annotation`` for parameter ``name`` (the first member of a union that has
    one; ``None`` only for ``None``)."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    options = typing.get_args(annotation) if union else (annotation,)
    for option in options:
        if option in _SAMPLES:
            value = _SAMPLES[option]
            return f"{name}-1" if value == "sample-a" else value
    raise AssertionError(f"no sample value for {name}: {annotation}")


def _example(cls: type[PluginError]) -> PluginError:
    """An instance of ``cls`` built from sample arguments of its constructor's types."""
    if cls is PluginError:
        return PluginError("the backend failed: disk full")
    hints = typing.get_type_hints(cls.__init__)
    arguments = {
        name: _sample(name, hints[name])
        for name in inspect.signature(cls.__init__).parameters
        if name != "self"
    }
    return cls(**arguments)


PLUGIN_ERRORS = _shipped_plugin_errors()


def test_the_walk_finds_the_known_kinds() -> None:
    names = {cls.__name__ for cls in PLUGIN_ERRORS}
    assert {"PluginError", "InstanceNotFound", "InvalidProperties", "NoSuchType"} <= names
    assert {"PolicyRefused", "InvalidInstanceID", "StateDirectoryLocked"} <= names


class _Raises(MemoryPlugin):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def validate(self, properties: Properties) -> None:
        raise self.error


@pytest.mark.parametrize("cls", PLUGIN_ERRORS, ids=lambda cls: cls.__name__)
async def test_a_plugin_error_reaches_a_remote_caller_as_raised(
    cls: type[PluginError], sock_dir: Path
) -> None:
    raised = _example(cls)
    async with running_server(_Raises(raised), sock_dir / "kinds.sock") as path:
        status, answer = await post(
            path, b'{"jsonrpc":"2.0","method":"Instance.Validate","params":{"Type":""},"id":1}'
        )
        async with PluginClient(path) as client:
            with pytest.raises(PluginError) as caught:
                await client.validate({})
    assert status == 200
    error = json.loads(answer)["error"]
    assert (error["code"], error["message"]) == (-32000, raised.message)
    assert error["data"]["kind"] == cls.__name__
    remote = caught.value
    assert type(remote) is cls
    assert (remote.message, str(remote), remote.code) == (raised.message, str(raised), -32000)
    for name in cls.FIELDS or ():
        assert getattr(remote, name) == getattr(raised, name), name
        assert error["data"][name] == json.loads(json.dumps(getattr(raised, name), default=str))


def test_unknown_kinds_and_go_answers_are_plain_plugin_errors() -> None:
    """A kind this client has not imported, or none at all (a Go daemon's ``null``)."""
    from instance_rpc.errors import error_for_code

    data = {"kind": "QuotaExceeded", "quota": "q1"}
    foreign = error_for_code(-32000, "over quota q1", data)
    assert (type(foreign), foreign.message, foreign.data) == (PluginError, "over quota q1", data)
    go = error_for_code(-32000, "instance not found: i-1", None)
    assert (type(go), go.message, go.data) == (PluginError, "instance not found: i-1", None)


async def test_no_such_type_lists_the_types_served(sock_dir: Path) -> None:
    backends = {"": MemoryPlugin(), "big": MemoryPlugin()}
    async with (
        running_server(backends, sock_dir / "t.sock") as path,
        PluginClient(path, type_name="nope") as client,
    ):
        with pytest.raises(NoSuchType) as caught:
            await client.validate({})
    assert caught.value.message == "no-plugin:nope"  # the Go server's words, unchanged
    assert (caught.value.type_name, caught.value.served) == ("nope", ["", "big"])


class _ProtocolErrors(MemoryPlugin):
    async def validate(self, properties: Properties) -> None:
        raise InternalError("the backend's state is inconsistent")


class _WrongType(msgspec.Struct):
    Type: int = 3


async def test_each_json_rpc_code_reaches_the_client_as_its_class(sock_dir: Path) -> None:
    """Each code made the way a daemon meets it (a body that is no JSON, a request without a
    method, a method that does not exist, a param of the wrong type, a fault inside): the wire's
    ``data`` names the kind and the client raises that class with the daemon's message."""
    from instance_rpc.client.responses import decode_response

    async with running_server(_ProtocolErrors(), sock_dir / "codes.sock") as path:
        _, parse = await post(path, b"{not json")
        _, request = await post(path, b'{"jsonrpc":"2.0","id":7}')
        async with PluginClient(path) as client:
            with pytest.raises(MethodNotFound) as method:
                await client.call("Instance.Nope", EmptyParams(), OKResult)
            with pytest.raises(InvalidParams) as params:
                await client.call("Instance.Validate", _WrongType(), OKResult)
            with pytest.raises(InternalError) as internal:
                await client.validate({})
    by_wire: list[tuple[bytes, type[RPCError], int]] = [
        (parse, ParseError, -32700),
        (request, InvalidRequest, -32600),
    ]
    for answer, cls, code in by_wire:
        error = json.loads(answer)["error"]
        assert (error["code"], error["data"]["kind"]) == (code, cls.__name__)
        with pytest.raises(cls) as decoded:
            decode_response("Instance.Validate", answer, OKResult)
        assert (decoded.value.code, decoded.value.message) == (code, error["message"])
    assert (method.value.code, method.value.data["kind"]) == (-32601, "MethodNotFound")
    assert method.value.message == "method not found: Instance.Nope"
    assert (params.value.code, params.value.data["kind"]) == (-32602, "InvalidParams")
    assert params.value.message.startswith("invalid params: Expected `str`, got `int`")
    assert (internal.value.code, internal.value.data["kind"]) == (-32603, "InternalError")
    assert internal.value.message == "the backend's state is inconsistent"


def test_a_message_is_never_prefixed_twice() -> None:
    """The client rebuilds from the arguments, not from the message."""
    from instance_rpc.errors import error_for_code

    rebuilt = error_for_code(
        -32000, "invalid Properties: bad", {"kind": "InvalidProperties", "reason": "bad"}
    )
    assert type(rebuilt) is InvalidProperties
    assert rebuilt.message == "invalid Properties: bad"
    found = error_for_code(-32000, "instance not found: i-1", {"kind": "InstanceNotFound"})
    # arguments missing: the rebuilt message would differ, so the plain class keeps the message
    assert (type(found), found.message) == (PluginError, "instance not found: i-1")
    assert isinstance(InstanceNotFound("i-1"), PluginError)
