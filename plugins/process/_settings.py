"""The ``Properties`` of the ``process`` backend, as a msgspec Struct.

    {"env": {"NAME": "value"}, "cwd": "/absolute/dir", "stop_grace_seconds": 10}

Every field is optional; unknown fields are refused, so a typo does not pass silently. Types and
ranges are the Struct's (its JSON Schema is the one ``info --schema`` prints); what a schema
cannot say (a variable name, an absolute path that is a directory) is checked after decoding.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, NamedTuple

import msgspec
from msgspec import UNSET, UnsetType

from instance_rpc.errors import InvalidProperties

__all__ = [
    "DEFAULT_STOP_GRACE_SECONDS",
    "EXAMPLE_PROPERTIES",
    "MAX_STOP_GRACE_SECONDS",
    "ProcessProperties",
    "ProcessSettings",
    "parse_settings",
]

DEFAULT_STOP_GRACE_SECONDS = 10.0
MAX_STOP_GRACE_SECONDS = 3600.0


class ProcessProperties(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """What ``Spec.Properties`` hold for the ``process`` backend (absent: all defaults).

    ``env``: variables added to the instance's minimal environment (never the daemon's; see
    ``plugins/_process_user.py``); ``cwd``: the working directory, an absolute path (default:
    the daemon's, or the ``run_as`` user's home); ``stop_grace_seconds``: from SIGTERM to
    SIGKILL.
    """

    env: dict[str, str] = msgspec.field(default_factory=dict)
    cwd: str | UnsetType = UNSET
    stop_grace_seconds: Annotated[float, msgspec.Meta(ge=0, le=MAX_STOP_GRACE_SECONDS)] = (
        DEFAULT_STOP_GRACE_SECONDS
    )


EXAMPLE_PROPERTIES: dict[str, Any] = {
    "env": {"PORT": "8080"},
    "cwd": "/tmp",
    "stop_grace_seconds": 5,
}
"""An example (InfraKit's ``ExampleProperties``)."""

_DECODER = msgspec.json.Decoder(ProcessProperties)


class ProcessSettings(NamedTuple):
    env: dict[str, str]
    cwd: str | None
    stop_grace_seconds: float


def _check_env(env: dict[str, str]) -> None:
    for name, setting in env.items():
        if not name or "=" in name or "\0" in name:
            raise InvalidProperties(f"env: {name!r} is not a variable name (empty, '=' or NUL)")
        if "\0" in setting:
            raise InvalidProperties(f"env.{name} must not contain NUL")


def _check_cwd(cwd: str) -> None:
    if "\0" in cwd or not os.path.isabs(cwd):
        raise InvalidProperties(f"cwd must be an absolute path, got {cwd!r}")
    if not os.path.isdir(cwd):
        raise InvalidProperties(f"cwd {cwd!r} is not a directory")


def _decode(properties: Any) -> ProcessProperties:
    try:
        if isinstance(properties, msgspec.Raw):
            if properties == b"null":
                return ProcessProperties()
            return _DECODER.decode(properties)
        if properties is None:
            return ProcessProperties()
        return msgspec.convert(properties, ProcessProperties)
    except msgspec.ValidationError as exc:
        # e.g. "Expected `str`, got `int` - at `$.env[...]`" (the daemon names the key)
        raise InvalidProperties(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise InvalidProperties(f"not JSON: {exc}") from None


def parse_settings(properties: Any) -> ProcessSettings:
    """The settings in ``properties`` (raw or decoded; absent means all defaults).

    Raises :class:`~instance_rpc.errors.InvalidProperties` naming the field.
    """
    typed = _decode(properties)
    _check_env(typed.env)
    cwd = None if isinstance(typed.cwd, UnsetType) else typed.cwd
    if cwd is not None:
        _check_cwd(cwd)
    return ProcessSettings(env=typed.env, cwd=cwd, stop_grace_seconds=typed.stop_grace_seconds)
